/**
 * ResponsesClient over real undici and raw loopback sockets, in real time: refused and reset
 * connections (A06), silent servers and stalled bodies (A07, A08), redirects (G04), secrets in
 * spans and errors (G02), and an SSE integration run (CRLF, comments, `event:` lines, UTF-8 split
 * across chunks, a mid-stream drop). Spans go to an in-memory OpenTelemetry exporter.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as ResponsesError from "../src/ResponsesError.ts"
import * as ResponsesClient from "../src/ResponsesClient.ts"
import type { StreamEvent } from "../src/ResponsesSchema.ts"
import { canaryHits, recordedCount, recordError } from "./support/canary.ts"
import { canaryKey, completed, request } from "./support/fakeHttp.ts"
import {
  clientOn,
  closedPort,
  eventually,
  head,
  jsonReply,
  rawServer,
  sseFrame,
  type Transport,
  transports
} from "./support/server.ts"
import { exporter, spansNamed, Tracing } from "./support/tracing.ts"

const failureOf = <A>(exit: Exit.Exit<A, ResponsesError.ResponsesError>): ResponsesError.ResponsesError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, ResponsesError.ResponsesError>).cause)
  assert.strictEqual(error._tag, "Some")
  const value = (error as { readonly value: ResponsesError.ResponsesError }).value
  recordError(value)
  return value
}

/** A client of `transport` (canary key), alive for the test's scope. */
const clientFor = (transport: Transport, options: ResponsesClient.Options) =>
  clientOn(transport, { apiKey: Redacted.make(canaryKey), ...options })

/** The SSE test stream: the events before the terminal one, and the terminal `response.completed`. */
const events: ReadonlyArray<Record<string, unknown>> = [
  { type: "response.created", response: { id: "resp_s", status: "in_progress" } },
  {
    type: "response.output_item.added",
    output_index: 0,
    item: { type: "message", id: "msg_s", role: "assistant", status: "in_progress", content: [] }
  },
  { type: "response.content_part.added", output_index: 0, content_index: 0, part: { type: "output_text", text: "" } },
  { type: "response.output_text.delta", output_index: 0, content_index: 0, delta: "известни " },
  { type: "response.output_text.delta", output_index: 0, content_index: 0, delta: "北京 🌍" }
]
const done = {
  type: "response.completed",
  response: completed({
    id: "resp_s",
    output: [
      {
        type: "message",
        id: "msg_s",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: "известни 北京 🌍", annotations: [] }]
      }
    ]
  })
}

describe.each(transports)("ResponsesClient over loopback sockets ($name)", (transport) => {
  it.live("A06 (a) connecting to a closed port: 3 attempts, then NetworkError{connect}", () =>
    Effect.gen(function* () {
      const port = yield* closedPort()
      const client = yield* clientFor(transport, { baseUrl: `http://127.0.0.1:${port}/v1` })
      const error = failureOf(yield* Effect.exit(client.create(request)))
      assert.strictEqual(error._tag, "NetworkError")
      assert.strictEqual((error as ResponsesError.NetworkError).phase, "connect")
      assert.strictEqual(error.attempts, 3)
      assert.strictEqual(error.causes.length, 3)
    })
  )

  it.live("A06 (b) reset twice before headers, then 200: success on attempt 3; spans carry resend_count 0, 1, 2", () =>
    Effect.gen(function* () {
      exporter.reset()
      const server = yield* rawServer((socket, _request, index) => {
        if (index < 2) socket.resetAndDestroy()
        else jsonReply(socket, 200, completed())
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const response = yield* client.create(request).pipe(Effect.provide(Tracing))
      assert.strictEqual(response.id, "resp_1")
      assert.strictEqual(server.requests.length, 3)
      assert.deepStrictEqual(
        server.requests.map((seen) => seen.headers["x-volley-retry-count"]),
        ["0", "1", "2"]
      )
      const [chat] = spansNamed(`chat ${request.model}`)
      assert.isDefined(chat)
      const attempts = spansNamed("POST").filter(
        (span) => span.parentSpanContext?.spanId === chat!.spanContext().spanId
      )
      assert.deepStrictEqual(attempts.map((span) => span.attributes["http.request.resend_count"]).sort(), [0, 1, 2])
      assert.strictEqual(chat!.attributes["gen_ai.operation.name"], "chat")
      assert.strictEqual(chat!.attributes["gen_ai.request.model"], request.model)
      assert.strictEqual(chat!.attributes["gen_ai.response.id"], "resp_1")
      assert.strictEqual(chat!.attributes["gen_ai.response.model"], "openai/gpt-5.4-mini")
      assert.strictEqual(chat!.attributes["gen_ai.usage.input_tokens"], 3)
      assert.strictEqual(chat!.attributes["gen_ai.usage.output_tokens"], 5)
      assert.strictEqual(chat!.attributes["server.address"], "127.0.0.1")
      assert.isString(chat!.attributes["gen_ai.system"])
      assert.strictEqual(chat!.events.filter((event) => event.name === "volley.retry").length, 2)
      // default: no content on spans (G03)
      assert.isUndefined(chat!.attributes["gen_ai.input.messages"])
      for (const span of exporter.getFinishedSpans()) {
        const rendered = JSON.stringify({ attributes: span.attributes, events: span.events })
        assert.notInclude(rendered, canaryKey)
        assert.notInclude(rendered, "Bearer")
      }
    })
  )

  it.live("A07 the server accepts and never writes: RequestTimeout{headers} per attempt, every socket closed", () =>
    Effect.gen(function* () {
      const server = yield* rawServer(() => {})
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { headersMs: 300 } })
      const started = Date.now()
      const error = failureOf(yield* Effect.exit(client.create(request)))
      const elapsed = Date.now() - started
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "headers")
      assert.deepStrictEqual(
        error.causes.map((cause) => cause.tag),
        ["RequestTimeout", "RequestTimeout", "RequestTimeout"]
      )
      assert.strictEqual(server.requests.length, 3)
      // 3 × 300 ms + at most 500 + 1000 ms of backoff, plus slack for a loaded machine
      assert.isAtMost(elapsed, 3 * 300 + 1500 + 3000)
      assert.isTrue(yield* eventually(() => server.opened() === 3 && server.closed() === 3))
    })
  )

  it.live("A08 a 200 whose JSON body stalls: RequestTimeout{body}, retried, each stalled socket destroyed", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.write(`${head(200, { "content-type": "application/json", "content-length": 100 })}{"id":"resp_`)
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { headersMs: 300 } })
      const error = failureOf(yield* Effect.exit(client.create(request)))
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "body")
      assert.strictEqual(server.requests.length, 3)
      assert.isTrue(yield* eventually(() => server.opened() === 3 && server.closed() === 3))
    })
  )

  it.live("A08 a 200 whose JSON body breaks off halfway: NetworkError{stream}, retried, then the answer", () =>
    Effect.gen(function* () {
      const text = JSON.stringify(completed({ id: "resp_whole" }))
      const server = yield* rawServer((socket, _request, index) => {
        if (index > 0) return jsonReply(socket, 200, completed({ id: "resp_whole" }))
        socket.write(head(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }))
        socket.end(text.slice(0, 20))
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const response = yield* client.create(request)
      assert.strictEqual(response.id, "resp_whole")
      assert.strictEqual(server.requests.length, 2)
      const error = failureOf(
        yield* Effect.exit(
          (yield* clientFor(transport, {
            baseUrl: `${
              (yield* rawServer((socket) => {
                socket.write(head(200, { "content-type": "application/json", "content-length": 500 }))
                socket.end('{"id":"resp_')
              })).origin
            }/v1`,
            retryPolicy: { maxRetries: 0 }
          })).create(request)
        )
      )
      assert.strictEqual(error._tag, "NetworkError")
      assert.strictEqual((error as ResponsesError.NetworkError).phase, "stream")
    })
  )

  it.live(
    "JSON answers on one keep-alive connection: 3 calls, 1 socket; a BOM and UTF-8 split across chunks decode",
    () =>
      Effect.gen(function* () {
        const bytes = Buffer.concat([
          Buffer.from([0xef, 0xbb, 0xbf]),
          Buffer.from(JSON.stringify(completed({ id: "resp_утф", model: "gpt-北京-🌍" })))
        ])
        const server = yield* rawServer((socket) => {
          socket.write(head(200, { "content-type": "application/json", "content-length": bytes.byteLength }))
          // every byte on its own write: multi-byte characters arrive split across chunks
          for (let at = 0; at < bytes.byteLength; at += 7) socket.write(bytes.subarray(at, at + 7))
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
        for (let call = 0; call < 3; call++) {
          const response = yield* client.create(request)
          assert.strictEqual(response.id, "resp_утф")
          assert.strictEqual(response.model, "gpt-北京-🌍")
          // a call sent the moment the last one returns may get a second socket (seen with both
          // transports, before this test too): the calls are spaced like an agent's turns
          yield* Effect.sleep(20)
        }
        assert.deepStrictEqual(
          server.requests.map((one) => one.connection),
          [0, 0, 0]
        )
        assert.strictEqual(server.opened(), 1)
      })
  )

  it.live("A12 a 2 MiB error body over a real socket: the client stops after 64 KiB and closes the connection", () =>
    Effect.gen(function* () {
      let written = 0
      const total = 2 * 1024 * 1024
      const server = yield* rawServer((socket) => {
        socket.write(head(500, { "content-type": "text/plain", "content-length": total, "x-request-id": "req_big" }))
        const chunk = Buffer.alloc(16 * 1024, 120)
        const next = () => {
          if (socket.destroyed || written >= total) return
          socket.write(chunk)
          written += chunk.byteLength
          setTimeout(next, 5)
        }
        next()
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, retryPolicy: { maxRetries: 0 } })
      const error = failureOf(yield* Effect.exit(client.create(request)))
      assert.strictEqual(error._tag, "InternalProviderError")
      assert.strictEqual(error.requestId, "req_big")
      assert.isAtMost(Buffer.byteLength(error.message, "utf8"), 1024)
      assert.isTrue(yield* eventually(() => server.closed() === 1))
      assert.isBelow(written, total)
    })
  )

  it.live("G04 a 307 to another origin and a 302 to the metadata address are not followed", () =>
    Effect.gen(function* () {
      const other = yield* rawServer((socket) => jsonReply(socket, 200, completed()))
      const locations = [`${other.origin}/v1/responses`, "http://169.254.169.254/latest/meta-data/"]
      for (const [index, location] of locations.entries()) {
        const server = yield* rawServer((socket) => {
          socket.write(head(index === 0 ? 307 : 302, { location, "content-length": 0 }))
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
        const error = failureOf(yield* Effect.exit(client.create(request)))
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.strictEqual((error as ResponsesError.InvalidRequestError).status, index === 0 ? 307 : 302)
        assert.strictEqual(server.requests.length, 1)
        assert.strictEqual(server.requests[0]!.headers.authorization, `Bearer ${canaryKey}`)
      }
      assert.strictEqual(other.requests.length, 0)
    })
  )

  it.live("G02 x-gateway-key and ?key= in the base URL: redacted in url.full, span attributes and errors", () =>
    Effect.gen(function* () {
      exporter.reset()
      const urlKey = `urlkey-${canaryKey}`
      const server = yield* rawServer((socket) =>
        jsonReply(socket, 500, { error: { message: `bad ${canaryKey} ${urlKey}` } })
      )
      const client = yield* clientFor(transport, {
        baseUrl: `${server.origin}/v1?key=${urlKey}`,
        authHeader: "x-gateway-key",
        retryPolicy: { maxRetries: 1, initialDelayMs: 10 }
      })
      const error = failureOf(yield* Effect.exit(client.create(request).pipe(Effect.provide(Tracing))))
      assert.strictEqual(error._tag, "InternalProviderError")
      assert.strictEqual(server.requests[0]!.headers["x-gateway-key"], canaryKey)
      assert.strictEqual(server.requests[0]!.path, `/v1/responses?key=${urlKey}`)
      assert.isUndefined(server.requests[0]!.headers.authorization)
      const port = yield* closedPort()
      const refused = yield* clientFor(transport, {
        baseUrl: `http://127.0.0.1:${port}/v1?key=${urlKey}`,
        authHeader: "x-gateway-key",
        retryPolicy: { maxRetries: 0 }
      })
      failureOf(yield* Effect.exit(refused.create(request).pipe(Effect.provide(Tracing))))
      const attempts = spansNamed("POST")
      assert.isAtLeast(attempts.length, 3)
      for (const span of attempts) {
        assert.include(String(span.attributes["url.full"]), "key=")
        assert.notInclude(String(span.attributes["url.full"]), urlKey)
      }
      for (const span of exporter.getFinishedSpans()) {
        const rendered = JSON.stringify({ attributes: span.attributes, events: span.events, status: span.status })
        assert.notInclude(rendered, canaryKey)
        assert.notInclude(rendered, canaryKey.slice(-8))
      }
      assert.notInclude(JSON.stringify(error), urlKey.slice(-8))
    })
  )
})

describe.each(transports)("ResponsesClient.stream over loopback sockets ($name)", (transport) => {
  /** Writes `chunks` one by one, 5 ms apart, then calls `after`. */
  const writeSlowly = (socket: import("node:net").Socket, chunks: ReadonlyArray<Uint8Array>, after: () => void) => {
    socket.setNoDelay(true)
    let index = 0
    const next = () => {
      if (socket.destroyed) return
      if (index === chunks.length) return after()
      socket.write(chunks[index++]!)
      setTimeout(next, 5)
    }
    next()
  }

  /** The SSE text with CRLF framing and comments, cut into chunks that split multi-byte characters. */
  const chunked = (text: string): Array<Uint8Array> => {
    const bytes = new TextEncoder().encode(text)
    const chunks: Array<Uint8Array> = []
    for (let offset = 0; offset < bytes.length; offset += 7) chunks.push(bytes.subarray(offset, offset + 7))
    return chunks
  }

  it.live("SSE integration: CRLF, comments, event: lines and UTF-8 split across chunks decode to the same events", () =>
    Effect.gen(function* () {
      const body = `: OPENROUTER PROCESSING\r\n\r\n${events.map((event) => sseFrame(event, "\r\n")).join(": keep-alive\r\n\r\n")}${sseFrame(done, "\r\n")}`
      const server = yield* rawServer((socket) => {
        socket.write(head(200, { "content-type": "text/event-stream", "transfer-encoding": "chunked" }))
        const chunks = chunked(body).map((chunk) =>
          Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])
        )
        writeSlowly(socket, chunks, () => socket.end("0\r\n\r\n"))
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const received = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        received.map((event: StreamEvent) => event.type),
        [...events.map((event) => event.type), "response.completed"]
      )
      const text = received
        .filter((event) => event.type === "response.output_text.delta")
        .map((event) => (event as { readonly delta: string }).delta)
        .join("")
      assert.strictEqual(text, "известни 北京 🌍")
      assert.notInclude(text, "\uFFFD")
      assert.strictEqual(JSON.parse(server.requests[0]!.body).stream, true)
      assert.strictEqual(server.requests[0]!.headers.accept, "text/event-stream")
    })
  )

  it.live(
    "SSE integration: a drop after events reached the consumer is NetworkError{stream} with partial, never retried",
    () =>
      Effect.gen(function* () {
        const body = events.map((event) => sseFrame(event)).join("")
        const server = yield* rawServer((socket) => {
          socket.write(head(200, { "content-type": "text/event-stream", "transfer-encoding": "chunked" }))
          const chunks = chunked(body).map((chunk) =>
            Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])
          )
          writeSlowly(socket, chunks, () => socket.resetAndDestroy())
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
        const seen: Array<string> = []
        const exit = yield* Effect.exit(
          Stream.runForEach(client.stream(request), (event) => Effect.sync(() => seen.push(event.type)))
        )
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "NetworkError")
        assert.strictEqual((error as ResponsesError.NetworkError).phase, "stream")
        const partial = (error as ResponsesError.NetworkError).partial
        assert.isDefined(partial)
        assert.strictEqual(partial!.id, "resp_s")
        assert.isAbove(seen.length, 0)
        assert.strictEqual(server.requests.length, 1)
        assert.strictEqual(error.attempts, 1)
        assert.deepStrictEqual(
          error.causes.map((cause) => [cause.attempt, cause.tag]),
          [[1, "NetworkError"]]
        )
      })
  )

  it.live("SSE integration: a drop before the first event is retried like a failed request", () =>
    Effect.gen(function* () {
      const body = [...events, done].map((event) => sseFrame(event)).join("")
      const server = yield* rawServer((socket, _request, index) => {
        socket.write(head(200, { "content-type": "text/event-stream", "transfer-encoding": "chunked" }))
        if (index === 0) {
          setTimeout(() => socket.resetAndDestroy(), 20)
          return
        }
        const bytes = Buffer.from(body)
        socket.end(
          Buffer.concat([Buffer.from(`${bytes.byteLength.toString(16)}\r\n`), bytes, Buffer.from("\r\n0\r\n\r\n")])
        )
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const received = yield* Stream.runCollect(client.stream(request))
      assert.strictEqual(received.at(-1)?.type, "response.completed")
      assert.strictEqual(server.requests.length, 2)
    })
  )
})

describe("ResponsesClient over loopback sockets (one transport only)", () => {
  it.live("G04 a fetch-based HttpClient does not follow a 307 either (the client asks for redirect: manual)", () =>
    Effect.gen(function* () {
      const other = yield* rawServer((socket) => jsonReply(socket, 200, completed()))
      const server = yield* rawServer((socket) => {
        socket.write(head(307, { location: `${other.origin}/v1/responses`, "content-length": 0 }))
      })
      const client = yield* ResponsesClient.make({
        baseUrl: `${server.origin}/v1`,
        apiKey: Redacted.make(canaryKey),
        authHeader: "x-gateway-key"
      }).pipe(Effect.provide(FetchHttpClient.layer))
      const error = failureOf(yield* Effect.exit(client.create(request).pipe(Effect.provide(FetchHttpClient.layer))))
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.strictEqual((error as ResponsesError.InvalidRequestError).status, 307)
      assert.strictEqual(other.requests.length, 0)
    })
  )

  it.live(
    "SSE integration (HttpClient): a completed SSE body is released without an abort error, on one connection",
    () =>
      Effect.gen(function* () {
        // The whole stream (and its chunked terminator) in one write, the socket kept open: the
        // response is complete on arrival, so ending the stream after response.completed must release
        // it as finished, not abort it (undici reports an abort to the handler as RequestAbortedError).
        const bytes = Buffer.from(`${[...events, done].map((event) => sseFrame(event)).join("")}data: [DONE]\n\n`)
        const server = yield* rawServer((socket) => {
          socket.write(
            Buffer.concat([
              Buffer.from(head(200, { "content-type": "text/event-stream", "transfer-encoding": "chunked" })),
              Buffer.from(`${bytes.byteLength.toString(16)}\r\n`),
              bytes,
              Buffer.from("\r\n0\r\n\r\n")
            ])
          )
        })
        // Records every error a response body emits (an aborted undici body emits RequestAbortedError).
        const bodyErrors: Array<string> = []
        const agent = yield* NodeHttpClient.makeDispatcher
        const dispatcher = new Proxy(agent, {
          get: (target, key) => {
            const value = Reflect.get(target, key, target)
            if (key !== "request") return typeof value === "function" ? value.bind(target) : value
            return (options: Parameters<typeof agent.request>[0]) =>
              target.request(options).then((data) => {
                data.body.on("error", (error: Error) => bodyErrors.push(error.name))
                return data
              })
          }
        })
        const context = yield* Layer.build(
          ResponsesClient.layer({ apiKey: Redacted.make(canaryKey), baseUrl: `${server.origin}/v1` }).pipe(
            Layer.provide(NodeHttpClient.layerUndiciNoDispatcher),
            Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, dispatcher))
          )
        )
        const client = Context.get(context, ResponsesClient.ResponsesClient)
        for (let call = 0; call < 3; call++) {
          const received = yield* Stream.runCollect(client.stream(request))
          assert.strictEqual(received.at(-1)?.type, "response.completed")
        }
        // aborts are reported asynchronously: give them a moment to show up
        yield* Effect.sleep(20)
        assert.deepStrictEqual(bodyErrors, [])
        assert.strictEqual(server.requests.length, 3)
        assert.strictEqual(server.opened(), 1, "every call used the same keep-alive connection")
      })
  )
})

describe("G01 canary sweep (loopback)", () => {
  it("G01 canary sweep: no loopback error contains the key or its last 8 characters", () => {
    assert.isAbove(recordedCount(), 5)
    assert.deepStrictEqual(canaryHits(), [])
  })
})
