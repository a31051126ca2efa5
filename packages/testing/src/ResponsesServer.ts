/**
 * A local Responses API (`POST /v1/responses`) for tests, examples and the demo. `layer(script)`
 * runs a real `node:http` server on 127.0.0.1 (port 0 by default) and gives the `ResponsesServer`
 * service (`baseUrl` ending in `/v1`, recorded `requests`, `assertComplete`, connection counts);
 * `layerHttpClient(script)` answers the same way through an in-memory `HttpClient` (no socket).
 * Requests are validated with `@volley/core`'s `CreateRequest` schema; invalid ones get a 400 error
 * body like the real API's and do not consume a turn. Gotcha: answers run as Effects on the context
 * the layer was built in, so under `it.effect` the server's delays follow `TestClock`.
 */
import * as http from "node:http"
import type * as net from "node:net"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Stream from "effect/Stream"
import type * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import { type Action, type Handler, jsonActions, type Plan, plan, ScriptIncomplete } from "./Handler.ts"
import { mulberry32 } from "./internal/random.ts"
import { errorBody } from "./internal/render.ts"
import type { RecordedRequest } from "./RecordedRequest.ts"
import * as ScriptedModel from "./ScriptedModel.ts"
import { ResponsesSchema } from "@volley/core"

// ---------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------

/** One TCP connection the server accepted (times on the server's Effect clock, in ms). */
export interface ConnectionRecord {
  readonly id: number
  readonly openedAt: number
  readonly closedAt: number | undefined
  readonly requests: number
  /** Writes that found the socket buffer full and waited for `drain` (backpressure from a slow reader). */
  readonly pausedWrites: number
}

/** The running local server. */
export class ResponsesServer extends Context.Service<
  ResponsesServer,
  {
    /** Base URL ending in `/v1` (e.g. `http://127.0.0.1:53211/v1`; `http://localhost/v1` in memory). */
    readonly baseUrl: string
    /** Every request received so far, in arrival order. */
    readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
    /** The request at `index` (0-based); fails with a readable message when it did not arrive. */
    readonly request: (index: number) => Effect.Effect<RecordedRequest, ScriptIncomplete>
    /** Fails when scripted turns were left unused, extra requests arrived, or replay did not match. */
    readonly assertComplete: Effect.Effect<void, ScriptIncomplete>
    /** Connections currently open (always 0 in memory). */
    readonly liveConnections: Effect.Effect<number>
    /** Every connection accepted, with open and close times. */
    readonly connectionLog: Effect.Effect<ReadonlyArray<ConnectionRecord>>
  }
>()("@volley/testing/ResponsesServer") {}

// ---------------------------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------------------------

/** Seeded random faults applied to every request before the handler sees it (they consume no turn). */
export interface Chaos {
  readonly seed: number
  /** Uniform random latency before the answer, in milliseconds. */
  readonly latency?: { readonly minMillis: number; readonly maxMillis: number } | undefined
  /** Probability of a 503 instead of the handler's answer. */
  readonly serviceUnavailable?: number | undefined
  /** Probability of a connection reset before headers. */
  readonly reset?: number | undefined
  /** Probability of a reset after the first body write of the handler's answer. */
  readonly resetMidStream?: number | undefined
}

/** How the server answers. Give a `script` (and optionally a `fallback`), or any `handler`. */
export interface Options {
  readonly script?: ReadonlyArray<ScriptedModel.Step> | undefined
  /** The step used once the script is exhausted (e.g. `LocalModel.responder`). */
  readonly fallback?: ScriptedModel.Step | undefined
  /** A custom handler (record, replay, …); replaces `script` / `fallback`. */
  readonly handler?: Handler | undefined
  readonly port?: number | undefined
  readonly host?: string | undefined
  /** Prefix for generated ids (`msg_<prefix>1`). */
  readonly idPrefix?: string | undefined
  readonly chaos?: Chaos | undefined
}

// ---------------------------------------------------------------------------------------------
// layers
// ---------------------------------------------------------------------------------------------

/** A real HTTP server on 127.0.0.1 (port 0 unless given), closed when the layer is released. */
export const layer = (options: ReadonlyArray<ScriptedModel.Step> | Options): Layer.Layer<ResponsesServer> =>
  Layer.effect(ResponsesServer, make(options))

/** Builds the real HTTP server in the current scope (used by `layer` and the `serve` command). */
export const make = Effect.fnUntraced(function* (options: ReadonlyArray<ScriptedModel.Step> | Options) {
  const opts = normalize(options)
  const engine = yield* makeEngine(opts)
  const context = yield* Effect.context<never>()
  const runFork = Effect.runForkWith(context)
  const fibers = new Set<Fiber.Fiber<void>>()
  const log: Array<{
    id: number
    openedAt: number
    closedAt: number | undefined
    requests: number
    pausedWrites: number
  }> = []
  const socketIds = new WeakMap<net.Socket, number>()
  let live = 0

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const connectionId = socketIds.get(req.socket) ?? -1
      const record = log[connectionId - 1]
      if (record !== undefined) record.requests++
      const onPause = () => {
        if (record !== undefined) record.pausedWrites++
      }
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
      }
      const receive = engine.receive({
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers,
        rawBody: Buffer.concat(chunks).toString("utf8"),
        connectionId
      })
      const fiber = runFork(Effect.flatMap(receive, (answer) => execute(answer, nodeSink(req, res, onPause))))
      fibers.add(fiber)
      fiber.addObserver(() => fibers.delete(fiber))
      res.on("close", () => {
        if (!res.writableFinished) fiber.interruptUnsafe()
      })
    })
  })
  server.on("connection", (socket: net.Socket) => {
    const entry = {
      id: log.length + 1,
      openedAt: engine.now(),
      closedAt: undefined as number | undefined,
      requests: 0,
      pausedWrites: 0
    }
    log.push(entry)
    socketIds.set(socket, entry.id)
    live++
    socket.setNoDelay(true)
    socket.on("close", () => {
      entry.closedAt = engine.now()
      live--
    })
  })

  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => {
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.callback<void>((resume) => {
        for (const fiber of fibers) fiber.interruptUnsafe()
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  const host = opts.host ?? "127.0.0.1"
  return ResponsesServer.of({
    baseUrl: `http://${host.includes(":") ? `[${host}]` : host}:${port}/v1`,
    ...engine.service,
    liveConnections: Effect.sync(() => live),
    connectionLog: Effect.sync(() => log.map((entry) => ({ ...entry })))
  })
})

/**
 * An in-memory `HttpClient` answering from the script without sockets (exact chunk boundaries),
 * plus the `ResponsesServer` service (base URL `http://localhost/v1`) for assertions.
 */
export const layerHttpClient = (
  options: ReadonlyArray<ScriptedModel.Step> | Options
): Layer.Layer<HttpClient.HttpClient | ResponsesServer> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const engine = yield* makeEngine(normalize(options))
      const context = yield* Effect.context<never>()
      const runFork = Effect.runForkWith(context)
      const client = HttpClient.make((request, url, signal) =>
        Effect.gen(function* () {
          const headers: Record<string, string> = {}
          for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value
          const answer = yield* engine.receive({
            method: request.method,
            path: url.pathname + url.search,
            headers,
            rawBody: bodyText(request.body),
            connectionId: -1
          })
          const response = yield* Deferred.make<globalThis.Response, HttpClientError.HttpClientError>()
          const transportError = (description: string) =>
            new HttpClientError.HttpClientError({
              reason: new HttpClientError.TransportError({ request, description })
            })
          let fiber: Fiber.Fiber<void> | undefined
          let controller: ReadableStreamDefaultController<Uint8Array> | undefined
          let headSent = false
          const body = new ReadableStream<Uint8Array>({
            start: (c) => {
              controller = c
            },
            cancel: () => {
              fiber?.interruptUnsafe()
            }
          })
          const sink: Sink = {
            head: (status, responseHeaders) => {
              headSent = true
              Deferred.doneUnsafe(
                response,
                Exit.succeed(new globalThis.Response(body, { status, headers: responseHeaders }))
              )
            },
            write: (chunk) => Effect.sync(() => controller?.enqueue(chunk)),
            end: () => controller?.close(),
            reset: Effect.sync(() => {
              if (headSent) controller?.error(new Error("ECONNRESET: connection reset by volley-testing"))
              else
                Deferred.doneUnsafe(response, Exit.fail(transportError("ECONNRESET: connection reset before headers")))
            })
          }
          fiber = runFork(execute(answer, sink))
          signal.addEventListener("abort", () => fiber?.interruptUnsafe(), { once: true })
          const web = yield* Deferred.await(response).pipe(
            Effect.onInterrupt(() => Effect.sync(() => fiber?.interruptUnsafe()))
          )
          return HttpClientResponse.fromWeb(request, web)
        })
      )
      const service = ResponsesServer.of({
        baseUrl: "http://localhost/v1",
        ...engine.service,
        liveConnections: Effect.succeed(0),
        connectionLog: Effect.succeed([])
      })
      return Context.make(ResponsesServer, service).pipe(Context.add(HttpClient.HttpClient, client))
    })
  )

// ---------------------------------------------------------------------------------------------
// engine: record, validate, inject chaos, delegate to the handler
// ---------------------------------------------------------------------------------------------

interface Incoming {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly rawBody: string
  readonly connectionId: number
}

const normalize = (options: ReadonlyArray<ScriptedModel.Step> | Options): Options =>
  Array.isArray(options) ? { script: options } : (options as Options)

const decodeRequest = Schema.decodeUnknownExit(ResponsesSchema.CreateRequest)
const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

const formatPath = (path: ReadonlyArray<unknown>): string =>
  path
    .map((key, i) => {
      const k = typeof key === "object" && key !== null && "key" in key ? (key as { key: unknown }).key : key
      return typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`
    })
    .join("")

/** The 400 body for an invalid request, shaped like the real API's. */
const invalidRequest = (message: string, param: string | null): ReadonlyArray<Action> =>
  jsonActions(400, { error: { message, type: "invalid_request_error", param, code: null } })

type FormattedIssue = ReturnType<typeof formatIssue>["issues"][number]

// A union (input items) reports one issue per member; the one not about the `type` tag, with the
// longest path, names what is actually wrong (e.g. `input[0].call_id` rather than `input[0].type`).
const mostSpecific = (issues: ReadonlyArray<FormattedIssue>): FormattedIssue | undefined => {
  const score = (issue: FormattedIssue) => {
    const path = issue.path ?? []
    const last = path.at(-1)
    const key = typeof last === "object" && last !== null && "key" in last ? last.key : last
    return (key === "type" ? 0 : 1000) + path.length
  }
  return [...issues].sort((a, b) => score(b) - score(a))[0]
}

const validate = (
  rawBody: string
): { readonly body: ResponsesSchema.CreateRequest } | { readonly error: ReadonlyArray<Action> } => {
  let json: unknown
  try {
    // boundary: JSON.parse throws on malformed client input; we answer it with a 400
    json = JSON.parse(rawBody)
  } catch {
    return {
      error: invalidRequest(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        null
      )
    }
  }
  const exit = decodeRequest(json)
  if (Exit.isSuccess(exit)) return { body: exit.value }
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  const issue =
    failure === undefined ? undefined : mostSpecific(formatIssue((failure.error as Schema.SchemaError).issue).issues)
  const param =
    issue === undefined || issue.path === undefined || issue.path.length === 0 ? null : formatPath(issue.path)
  const message =
    issue === undefined
      ? "Invalid request body."
      : issue.message === "Missing key"
        ? `Missing required parameter: '${param}'.`
        : `Invalid value for '${param ?? "body"}': ${issue.message}`
  return { error: invalidRequest(message, param) }
}

const makeEngine = Effect.fnUntraced(function* (options: Options) {
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const handler = options.handler ?? ScriptedModel.handler(options.script ?? [], options)
  const requests: Array<RecordedRequest> = []
  const failures: Array<string> = []
  const random = options.chaos === undefined ? undefined : mulberry32(options.chaos.seed)

  const chaosFor = (): { readonly injected?: string; readonly latency?: number; readonly midStream?: boolean } => {
    const chaos = options.chaos
    if (chaos === undefined || random === undefined) return {}
    const latency =
      chaos.latency === undefined
        ? undefined
        : chaos.latency.minMillis + Math.floor(random() * (chaos.latency.maxMillis - chaos.latency.minMillis + 1))
    const roll = random()
    const reset = chaos.reset ?? 0
    const unavailable = chaos.serviceUnavailable ?? 0
    const midStream = random() < (chaos.resetMidStream ?? 0)
    if (roll < reset) return { injected: "reset", ...(latency === undefined ? {} : { latency }) }
    if (roll < reset + unavailable) return { injected: "503", ...(latency === undefined ? {} : { latency }) }
    return { ...(latency === undefined ? {} : { latency }), midStream }
  }

  const receive = (incoming: Incoming): Effect.Effect<Plan> =>
    Effect.suspend(() => {
      const base = { index: requests.length, ...incoming, receivedAt: now() }
      const pathname = incoming.path.split("?")[0]
      if (incoming.method !== "POST" || pathname !== "/v1/responses") {
        requests.push({ ...base, body: undefined })
        const message = `Invalid URL (${incoming.method} ${pathname})`
        return Effect.succeed(
          plan(jsonActions(404, { error: { message, type: "invalid_request_error", param: null, code: null } }))
        )
      }
      const checked = validate(incoming.rawBody)
      if ("error" in checked) {
        requests.push({ ...base, body: undefined })
        return Effect.succeed(plan(checked.error))
      }
      const chaos = chaosFor()
      const recorded: RecordedRequest = { ...base, body: checked.body, injected: chaos.injected }
      requests.push(recorded)
      const delay: ReadonlyArray<Action> =
        chaos.latency === undefined ? [] : [{ _tag: "Sleep", duration: Duration.millis(chaos.latency) }]
      if (chaos.injected === "reset") return Effect.succeed(plan([...delay, { _tag: "Reset" }]))
      if (chaos.injected === "503") return Effect.succeed(plan([...delay, ...jsonActions(503, errorBody(503))]))
      return handler.handle(checked.body, recorded).pipe(
        Effect.map((answer) => {
          const delayed = Stream.concat(plan(delay), answer)
          return chaos.midStream === true ? resetAfterFirstWrite(delayed) : delayed
        }),
        // A responder that fails or throws is a bug in the test: answer 500 at once (no hang) and
        // make assertComplete report it.
        Effect.catchCause((cause) => {
          const message = `volley-testing: the handler failed on request #${recorded.index}: ${Cause.pretty(cause)}`
          failures.push(message)
          return Effect.succeed(
            plan(jsonActions(500, { error: { message, type: "volley_handler_failed", param: null, code: null } }))
          )
        })
      )
    })

  const service = {
    requests: Effect.sync((): ReadonlyArray<RecordedRequest> => [...requests]),
    request: (index: number) =>
      Effect.suspend(() => {
        const found = requests[index]
        return found === undefined
          ? Effect.fail(
              new ScriptIncomplete({
                message: `request #${index} never arrived (${requests.length} received)`,
                unusedTurns: 0,
                extraRequests: 0,
                problems: [`request #${index} never arrived`]
              })
            )
          : Effect.succeed(found)
      }),
    assertComplete: Effect.flatMap(handler.check, (problem) => {
      if (failures.length === 0) return problem === undefined ? Effect.void : Effect.fail(problem)
      const problems = [...failures, ...(problem?.problems ?? [])]
      return Effect.fail(
        new ScriptIncomplete({
          message: problems.join("\n"),
          unusedTurns: problem?.unusedTurns ?? 0,
          extraRequests: problem?.extraRequests ?? 0,
          problems
        })
      )
    })
  }
  return { receive, service, now }
})

const resetAfterFirstWrite = (answer: Plan): Plan =>
  answer.pipe(
    Stream.mapAccum(
      () => 0,
      (writes, action): readonly [number, ReadonlyArray<Action>] => {
        if (writes === 1) return [2, [{ _tag: "Reset" }]]
        if (writes > 1) return [writes, []]
        return [action._tag === "Write" ? 1 : 0, [action]]
      }
    ),
    Stream.takeUntil((action) => action._tag === "Reset")
  )

// ---------------------------------------------------------------------------------------------
// executing a plan on a socket or a web stream
// ---------------------------------------------------------------------------------------------

interface Sink {
  readonly head: (status: number, headers: Readonly<Record<string, string>>) => void
  readonly write: (chunk: Uint8Array) => Effect.Effect<void>
  readonly end: () => void
  readonly reset: Effect.Effect<void>
}

const execute = (answer: Plan, sink: Sink): Effect.Effect<void> =>
  Stream.runForEach(answer, (action) => {
    switch (action._tag) {
      case "Sleep":
        return Effect.sleep(action.duration)
      case "Head":
        return Effect.sync(() => sink.head(action.status, action.headers))
      case "Write":
        return sink.write(action.chunk)
      case "End":
        return Effect.sync(() => sink.end())
      case "Reset":
        return sink.reset
      case "Stall":
        return Effect.never
    }
  })

const nodeSink = (req: http.IncomingMessage, res: http.ServerResponse, onPause: () => void): Sink => ({
  head: (status, headers) => {
    res.writeHead(status, headers)
    res.flushHeaders()
  },
  // Writes complete synchronously unless the socket buffer is full (then wait for `drain`), so a
  // plan of sleeps and writes advances fully within one `TestClock.adjust`.
  write: (chunk) =>
    Effect.callback<void>((resume) => {
      if (res.destroyed || res.write(chunk)) return resume(Effect.void)
      onPause()
      res.once("drain", () => resume(Effect.void))
    }),
  end: () => {
    res.end()
  },
  // A peer that receives an RST may discard bytes it has not read yet, so after headers the reset
  // waits until the written bytes left the socket and then a short real-time grace (not the Effect
  // clock: this is transport timing, not scripted time).
  reset: Effect.callback<void>((resume) => {
    const socket = req.socket
    if (!res.headersSent) {
      socket.resetAndDestroy()
      return resume(Effect.void)
    }
    const destroy = () => {
      setTimeout(() => {
        socket.resetAndDestroy()
        resume(Effect.void)
      }, resetGraceMillis)
    }
    if (socket.writableLength === 0) destroy()
    else socket.write("", () => destroy())
  })
})

const resetGraceMillis = 25

const decoder = new TextDecoder()

const bodyText = (body: HttpBody.HttpBody): string => {
  if (body._tag === "Uint8Array") return decoder.decode(body.body)
  if (body._tag === "Raw") {
    const raw: unknown = body.body
    return typeof raw === "string" ? raw : raw instanceof Uint8Array ? decoder.decode(raw) : ""
  }
  return ""
}
