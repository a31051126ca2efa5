/**
 * MCP servers' tools as Volley toolkits, and Volley toolkits as MCP servers, on Effect's
 * `effect/ai` `McpClient` and `McpServer`. `McpTools.stdio({ command, args, env })` and
 * `McpTools.http({ url, headers })` give an `McpToolkit`: pass it to `Agent.make({ toolkit })` and
 * provide its `layer`, which starts the server (or session), lists its tools and keeps the connection
 * for the layer's lifetime; a server that dies is reported to the model as a typed `McpToolsError` and
 * restarted on the next call. `McpTools.serve(toolkit, handlers, { transport })` serves a Volley toolkit.
 * Gotcha: a stdio server gets only `PATH`, `HOME` and a few other variables of this process, plus `env`.
 */
import { NodeServices } from "@effect/platform-node"
import { type Tool as VolleyTool, Tool, Toolkit } from "@volley/tools"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type * as Scope from "effect/Scope"
import { McpClient, type McpClientError, McpProtocol, type McpSchema } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { ChildProcess } from "effect/process"
import { combineHandled } from "./internal/combine.ts"
import * as Connection from "./internal/connection.ts"
import { resultText } from "./internal/content.ts"
import { canBeStrict, toolName } from "./internal/names.ts"
import * as Serve from "./internal/serve.ts"

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** Why an MCP call or connection failed. */
export const McpToolsErrorReason = Schema.Literals([
  "Connect",
  "ServerExited",
  "Protocol",
  "RemoteError",
  "ToolError",
  "Timeout",
  "TooLarge"
])
/** Why an MCP call or connection failed. */
export type McpToolsErrorReason = typeof McpToolsErrorReason.Type

/**
 * An MCP server failed: it could not be started or reached (`Connect`), exited or closed the connection
 * (`ServerExited`), sent something that is not JSON-RPC (`Protocol`), answered with a JSON-RPC error
 * (`RemoteError`) or an `isError` result (`ToolError`), did not answer in time (`Timeout`), or sent a
 * message over the size limit (`TooLarge`). During a run it is the tool's output; the run goes on.
 */
export class McpToolsError extends Schema.TaggedError<McpToolsError>()("McpToolsError", {
  server: Schema.String,
  reason: McpToolsErrorReason,
  /** Whether the next call starts a fresh connection. */
  reconnects: Schema.Boolean,
  message: Schema.String
}) {}

// ---------------------------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------------------------

/** Whether a call of a server tool needs approval: by server tool name and the model's arguments. */
export type ApprovalPredicate = (tool: string, args: unknown) => boolean | Effect.Effect<boolean>

/** Options shared by `stdio` and `http`. */
export interface CommonOptions<Name extends string> {
  /** Names the server in spans, logs and errors; default: the command's or host's name. */
  readonly name?: Name | undefined
  /** Put before every tool name (then made to match `^[a-zA-Z0-9_-]{1,64}$`); default none. */
  readonly prefix?: string | undefined
  /** Pause for approval before a call: a boolean for every tool or a predicate per tool and arguments. */
  readonly needsApproval?: boolean | ApprovalPredicate | undefined
  /** Per-call timeout; default 60 seconds. A timed-out call is told to the model. */
  readonly timeout?: Duration.Input | undefined
  /** Deadline for connecting and listing tools; default 30 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
  /** Output cap per call in UTF-8 bytes; default the tools' default (64 KiB). */
  readonly maxOutputBytes?: number | undefined
  /** Largest JSON-RPC message read from the server; default 4 MiB. */
  readonly maxMessageBytes?: number | undefined
  /** At most this many of the server's tools are offered (in its order); default 128. */
  readonly maxTools?: number | undefined
}

/** Options of `stdio`. */
export interface StdioOptions<Name extends string> extends CommonOptions<Name> {
  /** The program to start. */
  readonly command: string
  /** Its arguments. */
  readonly args?: ReadonlyArray<string> | undefined
  /** Variables added to the few inherited ones (`PATH`, `HOME`, `USER`, `SHELL`, `TERM`, `LANG`, …). */
  readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /** Working directory; default this process's. */
  readonly cwd?: string | undefined
}

/** Options of `http`. */
export interface HttpOptions<Name extends string> extends CommonOptions<Name> {
  /** The Streamable HTTP endpoint. */
  readonly url: string | URL
  /** Headers sent with every request (e.g. `authorization`). */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
}

/** Default per-call timeout of MCP tools. */
export const defaultTimeout: Duration.Duration = Duration.seconds(60)
/** Default deadline for connecting and listing tools. */
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(30)
/** Default largest JSON-RPC message read from a server. */
export const defaultMaxMessageBytes = 4 * 1024 * 1024
/** Default number of tools offered per server. */
export const defaultMaxTools = 128
/** Tools whose input JSON Schema is larger than this (as JSON) are skipped with a warning. */
export const maxSchemaBytes = 64 * 1024

// ---------------------------------------------------------------------------------------------
// the toolkit
// ---------------------------------------------------------------------------------------------

/** The handled toolkit of one MCP server, as its layer provides it. */
export interface Connected<in out Name extends string> {
  readonly _: (_: Name) => Name
}

/** A Volley toolkit for the tools of one MCP server. `yield*` it (or give it to an agent) under its `layer`. */
export interface McpToolkit<Name extends string>
  extends Effect.Effect<Toolkit.Handled<Record<string, VolleyTool.Any>>, never, Connected<Name>> {
  /** The server's name in spans, logs and errors. */
  readonly name: Name
  /** Connects, lists the tools and keeps the connection (and the server process) for its lifetime. */
  readonly layer: Layer.Layer<Connected<Name>, McpToolsError>
  /** This toolkit as a plain Effect. */
  asEffect(): Effect.Effect<Toolkit.Handled<Record<string, VolleyTool.Any>>, never, Connected<Name>>
}

class McpToolkitImpl<Name extends string>
  extends Effectable.Class<Toolkit.Handled<Record<string, VolleyTool.Any>>, never, Connected<Name>>
  implements McpToolkit<Name>
{
  readonly name: Name
  readonly layer: Layer.Layer<Connected<Name>, McpToolsError>
  readonly key: Context.Key<Connected<Name>, Toolkit.Handled<Record<string, VolleyTool.Any>>>
  constructor(
    name: Name,
    key: Context.Key<Connected<Name>, Toolkit.Handled<Record<string, VolleyTool.Any>>>,
    layer: Layer.Layer<Connected<Name>, McpToolsError>
  ) {
    super()
    this.name = name
    this.key = key
    this.layer = layer
  }
  asEffect(): Effect.Effect<Toolkit.Handled<Record<string, VolleyTool.Any>>, never, Connected<Name>> {
    return Effect.service(this.key)
  }
}

// ---------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------

const inheritedEnv = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TMPDIR", "SYSTEMROOT", "APPDATA"]

const baseName = (command: string): string => command.split(/[\\/]/).pop() || "mcp"

/** The tools of an MCP server started as a child process, speaking newline-delimited JSON-RPC on stdio. */
export const stdio = <const Name extends string = string>(options: StdioOptions<Name>): McpToolkit<Name> => {
  const name = (options.name ?? baseName(options.command)) as Name
  const connect = Effect.gen(function* () {
    // read when the server starts (not when the toolkit is defined): only the listed variables, plus `env`
    const env: Record<string, string | Redacted.Redacted<string>> = {}
    for (const key of inheritedEnv) {
      const value = process.env[key]
      if (value !== undefined) env[key] = value
    }
    Object.assign(env, options.env ?? {})
    const command = ChildProcess.make(options.command, [...(options.args ?? [])], {
      env,
      extendEnv: false,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd })
    })
    const transport = yield* McpClient.stdio({
      command,
      protocol: McpProtocol.v2025_11_25,
      maxMessageBytes: options.maxMessageBytes ?? defaultMaxMessageBytes
    })
    return yield* clientOver(transport, options)
  }).pipe(Effect.provide(NodeServices.layer))
  return build(name, "stdio", connect, options)
}

const hostOf = (url: string | URL): string =>
  url instanceof URL ? url.hostname : URL.canParse(url) ? new URL(url).hostname : "mcp"

/** The tools of an MCP server reached over Streamable HTTP (an invalid URL fails the layer with `Connect`). */
export const http = <const Name extends string = string>(options: HttpOptions<Name>): McpToolkit<Name> => {
  const name = (options.name ?? hostOf(options.url)) as Name
  const connect = Effect.gen(function* () {
    const headers: Record<string, string> = {}
    for (const [key, value] of Object.entries(options.headers ?? {}))
      headers[key] = Redacted.isRedacted(value) ? Redacted.value(value) : value
    const transport = yield* McpClient.http({
      url: options.url,
      protocol: McpProtocol.v2025_11_25,
      headers,
      maxMessageBytes: options.maxMessageBytes ?? defaultMaxMessageBytes
    })
    return yield* clientOver(transport, options)
  }).pipe(Effect.provide(FetchHttpClient.layer))
  return build(name, "http", connect, options)
}

const clientOver = (transport: McpClient.Transport, options: CommonOptions<string>) =>
  McpClient.make({
    name: "volley",
    version: "0.1.0",
    timeout: options.connectTimeout ?? defaultConnectTimeout
  }).pipe(Effect.provideService(McpClient.Transport, transport))

let nextKey = 0

const build = <Name extends string>(
  name: Name,
  transport: "stdio" | "http",
  connect: Effect.Effect<McpClient.McpClient, McpClientError.McpClientError, Scope.Scope>,
  options: CommonOptions<Name>
): McpToolkit<Name> => {
  const key = Context.Service<Connected<Name>, Toolkit.Handled<Record<string, VolleyTool.Any>>>(
    `@volley/mcp/McpTools/${nextKey++}/${name}`
  )
  const layer = Layer.effect(key, connected(name, transport, connect, options))
  return new McpToolkitImpl(name, key, layer)
}

// ---------------------------------------------------------------------------------------------
// connecting and calling
// ---------------------------------------------------------------------------------------------

/** The error a failed MCP request becomes, and whether the connection is dropped. */
export const fromClientError = (server: string, error: McpClientError.McpClientError): McpToolsError => {
  const reason = error.reason
  const make = (kind: McpToolsErrorReason, reconnects: boolean, text: string) =>
    new McpToolsError({ server, reason: kind, reconnects, message: `MCP server '${server}': ${text.slice(0, 1000)}` })
  switch (reason._tag) {
    case "TransportError":
    case "ClosedError":
      return make("ServerExited", true, `${reason.message}; it is restarted on the next call`)
    case "ProtocolError":
      return reason.code === undefined
        ? make("Protocol", true, `${reason.message}; the connection is restarted on the next call`)
        : make("RemoteError", false, `JSON-RPC error ${reason.code}: ${reason.message}`)
    case "HttpError":
      return make("RemoteError", reason.status === 404, `HTTP ${reason.status}: ${reason.message}`)
    case "TimeoutError":
      return make("Timeout", false, reason.message)
    case "LimitError":
      return make("TooLarge", true, `${reason.message}; the connection is restarted on the next call`)
    case "ToolError":
      return make("ToolError", false, reason.message)
    default:
      return make("Protocol", true, reason.message)
  }
}

const Arguments = Schema.Record(Schema.String, Schema.Unknown)

/** A failure as the model reads it: `reason: message` (the typed error stays in the call's outcome). */
const FailureText = Schema.String.pipe(
  Schema.decodeTo(
    McpToolsError,
    SchemaTransformation.transform<typeof McpToolsError.Encoded, string>({
      decode: (message) => ({
        _tag: "McpToolsError" as const,
        server: "",
        reason: "ToolError",
        reconnects: false,
        message
      }),
      encode: (error) => `${error.reason}: ${error.message}`
    })
  )
)

const isEmptyObject = (schema: Record<string, unknown>): boolean => {
  const properties = schema.properties
  return (
    properties === undefined ||
    (typeof properties === "object" && properties !== null && Object.keys(properties).length === 0)
  )
}

const skipped = (server: string, remote: McpSchema.Tool, reason: string) =>
  Effect.logWarning("mcp.tool.skipped").pipe(
    Effect.annotateLogs({ "mcp.server.name": server, "mcp.tool.name": remote.name.slice(0, 200), reason })
  )

const connected = <Name extends string>(
  server: Name,
  transport: "stdio" | "http",
  connect: Effect.Effect<McpClient.McpClient, McpClientError.McpClientError, Scope.Scope>,
  options: CommonOptions<Name>
): Effect.Effect<Toolkit.Handled<Record<string, VolleyTool.Any>>, McpToolsError, Scope.Scope> =>
  Effect.gen(function* () {
    const connection = yield* Connection.make(connect)
    const asConnectError = (error: McpClientError.McpClientError) => {
      const mapped = fromClientError(server, error)
      return new McpToolsError({ ...mapped, reason: "Connect", message: mapped.message })
    }
    const client = yield* Effect.mapError(connection.client, asConnectError)
    const listed = yield* Effect.mapError(client.listTools(), asConnectError)
    const prefix = options.prefix ?? ""
    const maxTools = options.maxTools ?? defaultMaxTools
    const timeout = Duration.fromInputUnsafe(options.timeout ?? defaultTimeout)
    const maxOutputBytes = options.maxOutputBytes ?? Tool.defaultMaxOutputBytes
    const tools: Array<VolleyTool.Any> = []
    const handlers: Record<string, Toolkit.Handler<VolleyTool.Any>> = {}
    for (const remote of listed) {
      const name = toolName(prefix, remote.name)
      if (name === undefined || Object.hasOwn(handlers, name)) {
        yield* skipped(server, remote, name === undefined ? "invalid name" : "duplicate name")
        continue
      }
      const schemaBytes = JSON.stringify(remote.inputSchema)?.length ?? 0
      if (schemaBytes > maxSchemaBytes) {
        yield* skipped(server, remote, `input schema over ${maxSchemaBytes} bytes`)
        continue
      }
      if (tools.length >= maxTools) {
        yield* skipped(server, remote, `more than ${maxTools} tools`)
        continue
      }
      const tool = yield* makeTool(server, name, remote, {
        timeout,
        maxOutputBytes,
        needsApproval: options.needsApproval
      })
      tools.push(tool)
      handlers[name] = callHandler(server, transport, remote, connection, maxOutputBytes)
    }
    const toolkit = Toolkit.make(...tools) as unknown as Toolkit.Toolkit<Record<string, VolleyTool.Any>>
    return yield* toolkit.asEffect().pipe(Effect.provide(toolkit.toLayer(handlers)))
  }).pipe(
    Effect.withSpan("McpTools.connect", { attributes: { "mcp.server.name": server, "mcp.transport": transport } })
  )

const makeTool = (
  server: string,
  name: string,
  remote: McpSchema.Tool,
  options: {
    readonly timeout: Duration.Duration
    readonly maxOutputBytes: number
    readonly needsApproval: boolean | ApprovalPredicate | undefined
  }
): Effect.Effect<VolleyTool.Any, McpToolsError> =>
  Effect.gen(function* () {
    const schema = remote.inputSchema as unknown as Record<string, unknown>
    const strictness = canBeStrict(schema)
    if (!strictness.strict) {
      yield* Effect.logDebug("mcp.tool.not_strict").pipe(
        Effect.annotateLogs({ "mcp.server.name": server, "gen_ai.tool.name": name, reason: strictness.reason })
      )
    }
    const description = (remote.description ?? remote.title ?? `Tool '${remote.name}' of MCP server '${server}'`).slice(
      0,
      4096
    )
    const approval = options.needsApproval
    const base = yield* Effect.try({
      try: () =>
        Tool.make(name, {
          description,
          parameters: Arguments,
          success: Schema.String,
          failure: FailureText,
          strict: false,
          timeout: options.timeout,
          maxOutputBytes: options.maxOutputBytes,
          ...(approval === undefined
            ? {}
            : {
                needsApproval: typeof approval === "boolean" ? approval : (args: unknown) => approval(remote.name, args)
              })
        }),
      catch: (cause) =>
        new McpToolsError({
          server,
          reason: "Connect",
          reconnects: false,
          message: `MCP tool '${name}': ${String(cause)}`
        })
    })
    const strict = strictness.strict
    // strict mode takes no `$schema` (a dialect note, not a constraint); everything else is sent as it is
    const { $schema: _dialect, ...withoutDialect } = schema
    const parameters = strict ? withoutDialect : schema
    return {
      ...base,
      strict,
      jsonSchema: { schema: parameters, strict, empty: isEmptyObject(parameters) },
      definition: { type: "function", name, description, parameters, strict }
    } as VolleyTool.Any
  })

const callHandler =
  (
    server: string,
    transport: "stdio" | "http",
    remote: McpSchema.Tool,
    connection: Connection.Reconnecting,
    maxOutputBytes: number
  ): Toolkit.Handler<VolleyTool.Any> =>
  (args) =>
    Effect.gen(function* () {
      yield* Effect.annotateCurrentSpan({
        "mcp.server.name": server,
        "mcp.transport": transport,
        "mcp.tool.name": remote.name
      })
      const client = yield* Effect.mapError(connection.client, (error) => {
        const mapped = fromClientError(server, error)
        return new McpToolsError({ ...mapped, reason: "Connect", reconnects: true, message: mapped.message })
      })
      const result = yield* client.callTool({ tool: remote, arguments: args as Record<string, unknown> }).pipe(
        Effect.mapError((error) => fromClientError(server, error)),
        Effect.tapError((error) => (error.reconnects ? connection.reset(client) : Effect.void))
      )
      // room for the byte cap's truncation note: a little more than the cap, never the whole message
      const text = resultText(result, maxOutputBytes + 1024)
      if (result.isError === true) {
        return yield* new McpToolsError({
          server,
          reason: "ToolError",
          reconnects: false,
          message: text.slice(0, 1500)
        })
      }
      return text
    }).pipe(Effect.tapError((error) => Effect.annotateCurrentSpan({ "mcp.error.reason": error.reason })))

// ---------------------------------------------------------------------------------------------
// combining
// ---------------------------------------------------------------------------------------------

/** Any toolkit an agent accepts: a Volley `Toolkit`, an `McpToolkit`, or a combination. */
export type AnyToolkit = Effect.Effect<unknown, never, unknown>

/** `T` when every element gives a handled toolkit, `never` otherwise (so `combine` rejects other effects). */
export type Toolkits<T extends ReadonlyArray<AnyToolkit>> = {
  readonly [K in keyof T]: T[K] extends Effect.Effect<Toolkit.Handled<infer _Tools>, never, infer _R> ? T[K] : never
}

/**
 * Several toolkits as one, for `Agent.make({ toolkit })`: e.g. your typed tools and one or more MCP
 * servers' tools. Calls are routed by name; it needs every part's layer. Two parts defining one tool
 * name is a programmer error (the effect dies with `ToolDefinitionError`): give MCP servers a `prefix`.
 */
export const combine = <const T extends ReadonlyArray<AnyToolkit>>(
  ...toolkits: Toolkits<T>
): Effect.Effect<Toolkit.Handled<Record<string, VolleyTool.Any>>, never, Effect.Services<T[number]>> =>
  Effect.flatMap(
    Effect.all(
      toolkits as unknown as ReadonlyArray<
        Effect.Effect<Toolkit.Handled<Record<string, VolleyTool.Any>>, never, Effect.Services<T[number]>>
      >
    ),
    combineHandled
  )

// ---------------------------------------------------------------------------------------------
// serving
// ---------------------------------------------------------------------------------------------

/** Options of `serve`. */
export type ServeOptions = Serve.ServeOptions

/**
 * Serve a Volley toolkit as an MCP server over stdio or Streamable HTTP (`{ http: { port } }`, path
 * `/mcp`, 127.0.0.1 unless `host` is given). Calls run through the toolkit (validation, timeouts, output
 * caps); invalid arguments answer with a JSON-RPC `InvalidParams` error, failed calls with `isError`.
 */
export const serve = Serve.serve
