/**
 * A Volley toolkit served through Effect's `McpServer`: each tool is registered with its model-facing
 * JSON Schema, and each MCP `tools/call` runs through `Toolkit.Handled.handle`, so arguments are
 * validated and decoded, and timeouts and output caps apply as they do for a model's call. Arguments
 * that do not decode answer with a JSON-RPC `InvalidParams` error; other failures with an `isError` result.
 * Gotcha: MCP has no approval step, so a tool whose call needs approval is refused with an `isError` result.
 */
import { createServer } from "node:http"
import { NodeHttpServer, NodeServices } from "@effect/platform-node"
import type { Tool, Toolkit } from "@volley/tools"
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { McpProtocol, McpSchema, McpServer } from "effect/ai"
import { HttpRouter } from "effect/http"
import type { ServeError } from "effect/http/HttpServerError"

/** Options of `serve`. */
export interface ServeOptions {
  /** `"stdio"`, or Streamable HTTP at `http://{host}:{port}{path}` (host 127.0.0.1, path `/mcp` by default). */
  readonly transport:
    | "stdio"
    | {
        readonly http: {
          readonly port: number
          readonly host?: string | undefined
          readonly path?: `/${string}` | undefined
        }
      }
  /** The server name sent to clients; default "volley". */
  readonly name?: string | undefined
  /** The server version sent to clients; default "0.1.0". */
  readonly version?: string | undefined
}

const protocols = [McpProtocol.v2025_11_25, McpProtocol.v2025_06_18, McpProtocol.v2025_03_26] as const

let nextCall = 0

const textOf = (output: { readonly output: unknown }): string =>
  typeof output.output === "string" ? output.output : JSON.stringify(output.output)

const callTool = (
  handled: Toolkit.Handled<Record<string, Tool.Any>>,
  name: string,
  payload: unknown
): Effect.Effect<McpSchema.CallToolResult, McpSchema.InvalidParams | McpSchema.InternalError> =>
  Effect.gen(function* () {
    const call = {
      type: "function_call" as const,
      call_id: `mcp_${nextCall++}`,
      name,
      arguments: JSON.stringify(payload ?? {})
    }
    if (yield* handled.needsApproval(call)) {
      return new McpSchema.CallToolResult({
        content: [{ type: "text", text: `Tool '${name}' needs approval, which MCP cannot ask for; it was not run` }],
        isError: true
      })
    }
    const result = yield* handled
      .handle(call)
      .pipe(Effect.catch((error) => Effect.fail(new McpSchema.InternalError({ message: error.message }))))
    if (result.isArgumentError) return yield* new McpSchema.InvalidParams({ message: textOf(result.output) })
    return new McpSchema.CallToolResult({
      content: [{ type: "text", text: textOf(result.output) }],
      isError: result.outcome._tag === "Failure"
    })
  })

/** Register every tool of a toolkit with the `McpServer`. */
export const register = <Tools extends Record<string, Tool.Any>, R>(
  toolkit: Effect.Effect<Toolkit.Handled<Tools>, never, R>
): Effect.Effect<void, never, McpServer.McpServer | R> =>
  Effect.gen(function* () {
    const server = yield* McpServer.McpServer
    const handled = (yield* toolkit) as unknown as Toolkit.Handled<Record<string, Tool.Any>>
    for (const name of handled.names) {
      const tool = handled.tools[name]
      if (tool === undefined) continue
      const inputSchema = yield* Schema.decodeUnknownEffect(McpSchema.ToolJson)(tool.definition.parameters).pipe(
        Effect.orDie
      )
      yield* server.addTool({
        tool: new McpSchema.Tool({ name, description: tool.description, inputSchema }),
        annotations: Context.empty(),
        handle: (payload: unknown) => callTool(handled, name, payload)
      })
    }
  })

/** Serve a toolkit with its handlers over stdio or Streamable HTTP; the layer runs the server for its lifetime. */
export const serve = <Tools extends Record<string, Tool.Any>, R, E, RL>(
  toolkit: Effect.Effect<Toolkit.Handled<Tools>, never, R>,
  handlers: Layer.Layer<R, E, RL>,
  options: ServeOptions
): Layer.Layer<never, E | Cause.IllegalArgumentError | ServeError, RL> => {
  const registrations = Layer.effectDiscard(register(toolkit)).pipe(Layer.provide(handlers))
  const info = { name: options.name ?? "volley", version: options.version ?? "0.1.0", protocols, registrations }
  // the MCP request markers the transports leave in the requirements are all discharged here (the
  // registrations need only the handler layer's own requirements), which the types cannot follow
  type Served = Layer.Layer<never, E | Cause.IllegalArgumentError | ServeError, RL>
  if (options.transport === "stdio") {
    return Layer.empty.pipe(
      Layer.provide(McpServer.layerStdio(info)),
      Layer.provide(NodeServices.layer)
    ) as unknown as Served
  }
  const { port, host, path } = options.transport.http
  const http = HttpRouter.serve(McpServer.layerHttp({ ...info, path: path ?? "/mcp" }), {
    disableLogger: true,
    disableListenLog: true
  }).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port, host: host ?? "127.0.0.1" })))
  return Layer.empty.pipe(Layer.provide(http)) as unknown as Served
}
