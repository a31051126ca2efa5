/**
 * The direct undici transport (internal/undici.ts, behind `layerUndici`) over raw loopback sockets,
 * in real time, side by side with `layer` over Effect's undici `HttpClient` wherever the case is
 * cheap: the request as the server sees it, status mapping and Retry-After, the headers, body,
 * stream-idle and content-idle timers, retries before the first event, releasing or closing the
 * socket after the terminal event, early stops and interruptions, and the non-SSE answers to a
 * stream call. Every case checks what the server saw (requests, connections opened and closed).
 * Gotcha: real Node timers: the limits here are 150–600 ms with generous slack for a busy machine.
 */
import type * as net from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import type * as ResponsesClient from "../src/ResponsesClient.ts"
import type * as ResponsesError from "../src/ResponsesError.ts"
import type { StreamEvent } from "../src/ResponsesSchema.ts"
import { canaryHits, recordedCount, recordError } from "./support/canary.ts"
import { canaryKey, completed, request } from "./support/fakeHttp.ts"
import {
  chunk,
  clientOn,
  eventually,
  head,
  jsonReply,
  type RawServer,
  rawServer,
  sseFrame,
  sseHead,
  type Transport,
  transports
} from "./support/server.ts"
import { exporter, spansNamed, Tracing } from "./support/tracing.ts"

// Unhandled rejections anywhere in this file (an undici promise nobody awaited) fail the last test.
const unhandled: Array<unknown> = []
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason)
}
beforeAll(() => {
  process.on("unhandledRejection", onUnhandled)
})
afterAll(() => {
  process.off("unhandledRejection", onUnhandled)
})

const clientFor = (transport: Transport, options: ResponsesClient.Options) =>
  clientOn(transport, { apiKey: Redacted.make(canaryKey), ...options })

const failureOf = <A>(exit: Exit.Exit<A, ResponsesError.ResponsesError>): ResponsesError.ResponsesError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, ResponsesError.ResponsesError>).cause)
  assert.strictEqual(error._tag, "Some", "expected a typed failure")
  const value = (error as { readonly value: ResponsesError.ResponsesError }).value
  recordError(value)
  return value
}

/** Runs `stream`, recording each event type as it arrives; the exit and the types seen. */
const drain = (stream: Stream.Stream<StreamEvent, ResponsesError.ResponsesError>) =>
  Effect.gen(function* () {
    const seen: Array<string> = []
    const exit = yield* Effect.exit(Stream.runForEach(stream, (event) => Effect.sync(() => seen.push(event.type))))
    return { exit, seen }
  })

/** Calls `write` every `ms` until the socket is gone. */
const every = (socket: net.Socket, ms: number, write: () => void) => {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer)
    else write()
  }, ms)
  socket.on("close", () => clearInterval(timer))
}

const created = { type: "response.created", response: { id: "resp_u", status: "in_progress" } }
const opening: ReadonlyArray<Record<string, unknown>> = [
  created,
  {
    type: "response.output_item.added",
    output_index: 0,
    item: { type: "message", id: "msg_u", role: "assistant", status: "in_progress", content: [] }
  },
  { type: "response.content_part.added", output_index: 0, content_index: 0, part: { type: "output_text", text: "" } }
]
const delta = (text: string) => ({ type: "response.output_text.delta", output_index: 0, content_index: 0, delta: text })
const final = completed({
  id: "resp_u",
  output: [
    {
      type: "message",
      id: "msg_u",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "hello", annotations: [] }]
    }
  ]
})
const terminal = { type: "response.completed", response: final }
const whole: ReadonlyArray<Record<string, unknown>> = [...opening, delta("hel"), delta("lo"), terminal]
const types = whole.map((event) => String(event.type))
const sse = (events: ReadonlyArray<Record<string, unknown>>) => events.map((event) => sseFrame(event)).join("")

/** A complete chunked SSE response in one write (terminating chunk included): a reusable connection. */
const wholeStream = (socket: net.Socket, events = whole) =>
  socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(events)), chunk("")]))

/** Waits until the server has seen every socket it accepted closed. */
const allClosed = (server: RawServer, opened: number) =>
  eventually(() => server.opened() === opened && server.closed() === opened)

describe.each(transports)("request shape at the server ($name)", (transport) => {
  it.live(
    "A09 create: Bearer key, accept, traceparent of each attempt span, attempt header 0, 1, 2, one idempotency key per call, per-call headers",
    () =>
      Effect.gen(function* () {
        exporter.reset()
        const server = yield* rawServer((socket, _request, index) => {
          if (index < 2) jsonReply(socket, 503, { error: { message: "busy" } }, { "retry-after-ms": "0" })
          else jsonReply(socket, 200, completed())
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, idempotencyKey: true })
        yield* client.create(request, { headers: { "x-volley-test": "per-call" } }).pipe(Effect.provide(Tracing))
        yield* client.create(request).pipe(Effect.provide(Tracing))
        const seen = server.requests
        assert.strictEqual(seen.length, 4)
        assert.deepStrictEqual(
          seen.map((one) => one.headers["x-volley-retry-count"]),
          ["0", "1", "2", "0"]
        )
        for (const one of seen) {
          assert.strictEqual(one.method, "POST")
          assert.strictEqual(one.path, "/v1/responses")
          assert.strictEqual(one.headers.authorization, `Bearer ${canaryKey}`)
          assert.strictEqual(one.headers.accept, "application/json")
          assert.strictEqual(one.headers["content-type"], "application/json")
          assert.strictEqual(JSON.parse(one.body).stream, false)
          assert.match(one.headers.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
        }
        const keys = seen.map((one) => one.headers["idempotency-key"])
        assert.isString(keys[0])
        assert.isAbove(keys[0]!.length, 8)
        assert.deepStrictEqual(keys.slice(0, 3), [keys[0], keys[0], keys[0]])
        assert.notStrictEqual(keys[3], keys[0])
        assert.deepStrictEqual(
          seen.map((one) => one.headers["x-volley-test"]),
          ["per-call", "per-call", "per-call", undefined]
        )
        // each traceparent names the attempt's own POST span, a child of the call's chat span
        const [chat] = spansNamed(`chat ${request.model}`)
        assert.isDefined(chat)
        const attempts = spansNamed("POST").filter(
          (span) => span.parentSpanContext?.spanId === chat!.spanContext().spanId
        )
        assert.strictEqual(attempts.length, 3)
        const sent = seen.slice(0, 3).map((one) => one.headers.traceparent!.split("-"))
        for (const [, traceId] of sent) assert.strictEqual(traceId, chat!.spanContext().traceId)
        assert.deepStrictEqual(
          sent.map(([, , spanId]) => spanId).sort(),
          attempts.map((span) => span.spanContext().spanId).sort()
        )
      })
  )

  it.live(
    "G02 stream: a custom authHeader carries the raw key, accept is text/event-stream, ?key= reaches the server only",
    () =>
      Effect.gen(function* () {
        exporter.reset()
        const urlKey = `urlkey-${canaryKey}`
        const server = yield* rawServer((socket) => wholeStream(socket))
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1?key=${urlKey}`,
          authHeader: "x-gateway-key"
        })
        const received = yield* Stream.runCollect(client.stream(request)).pipe(Effect.provide(Tracing))
        assert.deepStrictEqual(
          received.map((event) => event.type),
          types
        )
        const [seen] = server.requests
        assert.strictEqual(seen!.path, `/v1/responses?key=${urlKey}`)
        assert.strictEqual(seen!.headers["x-gateway-key"], canaryKey)
        assert.isUndefined(seen!.headers.authorization)
        assert.strictEqual(seen!.headers.accept, "text/event-stream")
        assert.strictEqual(seen!.headers["x-volley-retry-count"], "0")
        assert.isString(seen!.headers.traceparent)
        assert.strictEqual(JSON.parse(seen!.body).stream, true)
        const [attempt] = spansNamed("POST")
        assert.isDefined(attempt)
        assert.include(String(attempt!.attributes["url.full"]), "key=")
        for (const span of exporter.getFinishedSpans()) {
          const rendered = JSON.stringify({ attributes: span.attributes, events: span.events, status: span.status })
          assert.notInclude(rendered, urlKey.slice(-8))
        }
      })
  )

  for (const kind of ["create", "stream"] as const) {
    it.live(`A01 ${kind}: a 401 is not retried; the key and ?key= echoed in its body never reach the error`, () =>
      Effect.gen(function* () {
        exporter.reset()
        const urlKey = `urlkey-${canaryKey}`
        const server = yield* rawServer((socket) =>
          jsonReply(socket, 401, {
            error: {
              message: `Incorrect API key provided: ${canaryKey} (url ${urlKey})`,
              type: "invalid_request_error",
              code: "invalid_api_key"
            }
          })
        )
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1?key=${urlKey}` })
        const call = kind === "create" ? client.create(request) : Stream.runDrain(client.stream(request))
        const error = failureOf(yield* Effect.exit(call.pipe(Effect.provide(Tracing))))
        assert.strictEqual(error._tag, "AuthenticationError")
        assert.strictEqual((error as ResponsesError.AuthenticationError).kind, "InvalidKey")
        assert.strictEqual(error.attempts, 1)
        assert.strictEqual(server.requests.length, 1)
        // the excerpt is there (so the check below is not vacuous), with both secrets cut out
        assert.include(error.message, "Incorrect API key provided")
        for (const rendered of [error.message, JSON.stringify(error), String(error)]) {
          assert.notInclude(rendered, canaryKey.slice(-8))
          assert.notInclude(rendered, urlKey.slice(-8))
        }
        for (const span of exporter.getFinishedSpans()) {
          const rendered = JSON.stringify({ attributes: span.attributes, events: span.events, status: span.status })
          assert.notInclude(rendered, canaryKey.slice(-8))
          assert.notInclude(rendered, urlKey.slice(-8))
        }
      })
    )
  }
  it.live(
    "per-call headers replace static ones whatever their case; the configured key replaces a per-call Authorization; nothing is sent twice",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => jsonReply(socket, 200, completed()))
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          headers: { "X-Volley-Static": "static", "x-volley-both": "static" }
        })
        yield* client.create(request, {
          headers: { "X-Volley-Both": "per-call", Authorization: "Bearer per-call", Accept: "text/plain" }
        })
        const [seen] = server.requests
        const values = (name: string) =>
          seen!.rawHeaders.filter(([sent]) => sent.toLowerCase() === name).map(([, value]) => value)
        assert.deepStrictEqual(values("x-volley-static"), ["static"])
        assert.deepStrictEqual(values("x-volley-both"), ["per-call"])
        assert.deepStrictEqual(values("authorization"), [`Bearer ${canaryKey}`])
        assert.strictEqual(values("accept").length, 1)
        const names = seen!.rawHeaders.map(([name]) => name.toLowerCase())
        assert.deepStrictEqual(names, [...new Set(names)], "no header sent twice")
      })
  )

  it.live("A04 a 429 with retry-after: 1.2, then 200: one retry, sent no sooner than 1.2 s later", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket, _request, index) => {
        if (index === 0)
          jsonReply(
            socket,
            429,
            { error: { message: "slow down", code: "rate_limit_exceeded" } },
            { "retry-after": "1.2" }
          )
        else jsonReply(socket, 200, completed())
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const response = yield* client.create(request)
      assert.strictEqual(response.id, "resp_1")
      assert.strictEqual(server.requests.length, 2)
      // the default backoff (≤ 500 ms) would come far sooner: the advertised delay is a floor
      assert.isAtLeast(server.requests[1]!.at - server.requests[0]!.at, 1190)
    })
  )

  it.live(
    "A12 stream: a 2 MiB 400 body starting with the key: one request, ≤ 1 KiB redacted message, body abandoned",
    () =>
      Effect.gen(function* () {
        let written = 0
        const total = 2 * 1024 * 1024
        const server = yield* rawServer((socket) => {
          socket.write(head(400, { "content-type": "application/json", "content-length": total }))
          const first = Buffer.from(`{"error":{"message":"bad key ${canaryKey} `)
          socket.write(first)
          written = first.byteLength
          const filler = Buffer.alloc(16 * 1024, 120)
          const next = () => {
            if (socket.destroyed || written >= total) return
            socket.write(filler)
            written += filler.byteLength
            setTimeout(next, 5)
          }
          next()
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
        const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.strictEqual((error as ResponsesError.InvalidRequestError).status, 400)
        assert.strictEqual(server.requests.length, 1)
        assert.isAtMost(Buffer.byteLength(error.message, "utf8"), 1024)
        assert.include(error.message, "bad key")
        assert.notInclude(error.message, canaryKey.slice(-8))
        assert.isTrue(yield* allClosed(server, 1))
        assert.isBelow(written, total)
      })
  )
})

describe("trace propagation (direct undici)", () => {
  const transport = transports[0]!
  it.live("no traceparent when the tracer is off or HttpClient.TracerPropagationEnabled is false", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => jsonReply(socket, 200, completed()))
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      yield* client.create(request).pipe(Effect.provide(Tracing))
      yield* client.create(request).pipe(Effect.provideService(References.TracerEnabled, false))
      yield* client
        .create(request)
        .pipe(Effect.provide(Tracing), Effect.provideService(HttpClient.TracerPropagationEnabled, false))
      assert.deepStrictEqual(
        server.requests.map((seen) => typeof seen.headers.traceparent),
        ["string", "undefined", "undefined"]
      )
    })
  )
})

describe.each(transports)("timers ($name)", (transport) => {
  it.live(
    "A07 stream: the server never answers: RequestTimeout{headers}, retried per policy (2 attempts), sockets closed",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer(() => {})
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          timeouts: { headersMs: 200 },
          retryPolicy: { maxRetries: 1, initialDelayMs: 10 }
        })
        const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
        assert.strictEqual(error._tag, "RequestTimeout")
        assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "headers")
        assert.strictEqual(error.attempts, 2)
        assert.deepStrictEqual(
          error.causes.map((cause) => cause.tag),
          ["RequestTimeout", "RequestTimeout"]
        )
        assert.strictEqual(server.requests.length, 2)
        assert.isTrue(yield* allClosed(server, 2))
      })
  )

  it.live("A08 B12 stream answered with application/json whose body stalls: RequestTimeout{body}, retried", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.write(`${head(200, { "content-type": "application/json", "content-length": 100 })}{"id":"resp_`)
      })
      const client = yield* clientFor(transport, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { headersMs: 250 },
        retryPolicy: { maxRetries: 1, initialDelayMs: 10 }
      })
      const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "body")
      assert.strictEqual(server.requests.length, 2)
      assert.isTrue(yield* allClosed(server, 2))
    })
  )

  it.live(
    "stream-idle: bytes stop after some events: RequestTimeout{stream-idle} with partial, not retried, socket closed",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse([...opening, delta("hel")]))]))
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { streamIdleMs: 250 } })
        const { exit, seen } = yield* drain(client.stream(request))
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "RequestTimeout")
        assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "stream-idle")
        const partial = (error as ResponsesError.RequestTimeout).partial
        assert.strictEqual(partial?.id, "resp_u")
        assert.deepStrictEqual(seen, types.slice(0, 4))
        assert.strictEqual(error.attempts, 1)
        assert.strictEqual(server.requests.length, 1)
        assert.isTrue(yield* allClosed(server, 1))
      })
  )

  it.live("B03 keepalive comments alone (before and between events) keep a stream alive past 3× stream-idle", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.setNoDelay(true)
        socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(": OPENROUTER PROCESSING\n\n")]))
        every(socket, 40, () => socket.write(chunk(": keep-alive\n\n")))
        setTimeout(() => socket.write(chunk(sse(opening))), 500)
        setTimeout(() => {
          if (!socket.destroyed)
            socket.write(Buffer.concat([chunk(sse([delta("hel"), delta("lo"), terminal])), chunk("")]))
        }, 1000)
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { streamIdleMs: 150 } })
      const received = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        received.map((event) => event.type),
        types
      )
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live(
    "B03 content-idle: after the first events only comments and keepalive events come: RequestTimeout{content-idle} with partial",
    () =>
      Effect.gen(function* () {
        let sequence = 0
        const server = yield* rawServer((socket) => {
          socket.setNoDelay(true)
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(opening))]))
          every(socket, 40, () =>
            socket.write(
              chunk(
                sequence++ % 2 === 0 ? ": keep-alive\n\n" : sseFrame({ type: "keepalive", sequence_number: sequence })
              )
            )
          )
        })
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          timeouts: { streamIdleMs: 200, contentIdleMs: 500 }
        })
        const { exit, seen } = yield* drain(client.stream(request))
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "RequestTimeout")
        assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "content-idle")
        assert.strictEqual((error as ResponsesError.RequestTimeout).partial?.id, "resp_u")
        assert.deepStrictEqual(seen.slice(0, 3), types.slice(0, 3))
        assert.isAbove(sequence, 5, "the server kept the connection busy")
        assert.strictEqual(server.requests.length, 1)
        assert.isTrue(yield* allClosed(server, 1))
      })
  )

  it.live("B03 content-idle before any event (comments only) fails the attempt, which is retried", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket, _request, index) => {
        if (index > 0) return wholeStream(socket)
        socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(": keep-alive\n\n")]))
        every(socket, 40, () => socket.write(chunk(": keep-alive\n\n")))
      })
      const client = yield* clientFor(transport, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { streamIdleMs: 200, contentIdleMs: 400 },
        retryPolicy: { maxRetries: 1, initialDelayMs: 10 }
      })
      const received = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        received.map((event) => event.type),
        types
      )
      assert.strictEqual(server.requests.length, 2)
      assert.deepStrictEqual(
        server.requests.map((seen) => seen.headers["x-volley-retry-count"]),
        ["0", "1"]
      )
      assert.isTrue(yield* eventually(() => server.closed() >= 1))
    })
  )

  it.live(
    "B11 a consumer slower than stream-idle, while the server's bytes wait unread, does not trip stream-idle",
    () =>
      Effect.gen(function* () {
        // the opening events, then (30 ms later, long before the consumer asks) the rest and the end
        const server = yield* rawServer((socket) => {
          socket.setNoDelay(true)
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(opening))]))
          setTimeout(
            () => socket.write(Buffer.concat([chunk(sse([delta("hel"), delta("lo"), terminal])), chunk("")])),
            30
          )
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { streamIdleMs: 200 } })
        const { exit, seen } = yield* drain(
          client
            .stream(request)
            .pipe(Stream.tap((event) => (event.type === "response.created" ? Effect.sleep(600) : Effect.void)))
        )
        if (Exit.isFailure(exit)) failureOf(exit)
        assert.isTrue(Exit.isSuccess(exit), "a slow consumer is not an idle server")
        assert.deepStrictEqual(seen, types)
        assert.strictEqual(server.requests.length, 1)
      })
  )
})

describe.each(transports)("retries before the first event ($name)", (transport) => {
  it.live("stall after the headers, before any event: the attempt fails on stream-idle and is retried", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket, _request, index) => {
        if (index === 0) socket.write(sseHead())
        else wholeStream(socket)
      })
      const client = yield* clientFor(transport, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { streamIdleMs: 200 },
        retryPolicy: { initialDelayMs: 10 }
      })
      const received = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        received.map((event) => event.type),
        types
      )
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(server.requests[1]!.connection, 1, "the stalled connection is not reused")
      assert.isTrue(yield* eventually(() => server.closed() >= 1))
    })
  )

  it.live(
    "a reset in the middle of the first event: retried like a failed request, the consumer sees one clean stream",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket, _request, index) => {
          if (index > 0) return wholeStream(socket)
          const first = sseFrame(created)
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(first.slice(0, first.length - 10))]))
          setTimeout(() => socket.resetAndDestroy(), 20)
        })
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          retryPolicy: { initialDelayMs: 10 }
        })
        const received = yield* Stream.runCollect(client.stream(request))
        assert.deepStrictEqual(
          received.map((event) => event.type),
          types
        )
        assert.strictEqual(server.requests.length, 2)
      })
  )
})

describe.each(transports)("the socket after the stream ($name)", (transport) => {
  it.live("a completed stream leaves the keep-alive socket reusable: 3 calls on one connection", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => wholeStream(socket))
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      for (let call = 0; call < 3; call++) {
        const received = yield* Stream.runCollect(client.stream(request))
        assert.strictEqual(received.at(-1)?.type, "response.completed")
      }
      assert.strictEqual(server.requests.length, 3)
      assert.deepStrictEqual(
        server.requests.map((seen) => seen.connection),
        [0, 0, 0]
      )
      assert.strictEqual(server.opened(), 1)
      assert.strictEqual(server.closed(), 0)
    })
  )

  it.live("B05 (d) garbage and event: error after [DONE], socket held open: success at once, the socket closed", () =>
    Effect.gen(function* () {
      const garbage = `data: [DONE]\n\n\u0000\u0001 garbage\n\nevent: error\ndata: {"type":"error","code":"server_error"}\n\n`
      const server = yield* rawServer((socket, _request, index) => {
        socket.setNoDelay(true)
        if (index === 0) {
          // everything in one chunk, no terminating chunk: the body never ends
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(whole) + garbage)]))
        } else {
          // the terminal event, then garbage a little later, never an end
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(whole))]))
          setTimeout(() => !socket.destroyed && socket.write(chunk(garbage)), 30)
        }
      })
      const client = yield* clientFor(transport, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { streamIdleMs: 20_000, headersMs: 20_000 }
      })
      for (let call = 0; call < 2; call++) {
        const started = Date.now()
        const received = yield* Stream.runCollect(client.stream(request))
        assert.deepStrictEqual(
          received.map((event) => event.type),
          types
        )
        // far below the 20 s idle limit: the client did not wait for the body to end
        assert.isBelow(Date.now() - started, 10_000)
        assert.isTrue(yield* eventually(() => server.closed() === call + 1), "the open body was abandoned")
      }
      assert.strictEqual(server.opened(), 2)
    })
  )

  it.live(
    "B05 (c) a forged `data: [DONE]x` after some events, socket held open: ForgedSentinel, the socket closed",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(`${sse(opening)}data: [DONE]x\n\n`)]))
        })
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          timeouts: { streamIdleMs: 20_000 }
        })
        const { exit, seen } = yield* drain(client.stream(request))
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "StreamProtocolError")
        assert.strictEqual((error as ResponsesError.StreamProtocolError).reason, "ForgedSentinel")
        assert.deepStrictEqual(seen, types.slice(0, 3))
        assert.strictEqual(server.requests.length, 1)
        assert.isTrue(yield* allClosed(server, 1))
      })
  )

  it.live(
    "B09 an event over maxEventSize (1 KiB here) after some events, socket held open: EventTooLarge, the socket closed",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(opening))]))
          setTimeout(() => !socket.destroyed && socket.write(chunk(sseFrame(delta("x".repeat(4096))))), 20)
        })
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          maxEventSize: 1024,
          timeouts: { streamIdleMs: 20_000 }
        })
        const { exit, seen } = yield* drain(client.stream(request))
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "EventTooLarge")
        assert.deepStrictEqual(seen, types.slice(0, 3))
        assert.strictEqual(server.requests.length, 1)
        assert.isTrue(yield* allClosed(server, 1))
      })
  )

  it.live("an early stop (Stream.take(2)) releases the body: the server sees the socket closed", () =>
    Effect.gen(function* () {
      let deltas = 0
      const server = yield* rawServer((socket) => {
        socket.setNoDelay(true)
        socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(opening))]))
        every(socket, 30, () => {
          deltas++
          socket.write(chunk(sseFrame(delta("x"))))
        })
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { streamIdleMs: 20_000 } })
      const received = yield* Stream.runCollect(client.stream(request).pipe(Stream.take(2)))
      assert.deepStrictEqual(
        received.map((event) => event.type),
        types.slice(0, 2)
      )
      assert.isTrue(yield* allClosed(server, 1))
      const after = deltas
      yield* Effect.sleep(100)
      assert.isAtMost(deltas, after + 1, "the server stopped writing once the socket closed")
    })
  )
})

describe("the socket after the stream (direct undici only)", () => {
  const transport = transports[0]!
  // Any byte after the terminal event that was not already buffered used to cost the connection. Not run
  // over the HttpClient path, which churns here too (1–4 connections, observed).
  const trailers = [
    ["data: [DONE] and the last chunk", Buffer.concat([chunk("data: [DONE]\n\n"), chunk("")])],
    ["the last chunk alone", chunk("")]
  ] as const
  for (const [name, trailer] of trailers) {
    it.live(`B05 (a) ${name} 10 ms after response.completed: the connection is reused`, () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.setNoDelay(true)
          socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(whole))]))
          setTimeout(() => !socket.destroyed && socket.write(trailer), 10)
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
        for (let call = 0; call < 4; call++) {
          const received = yield* Stream.runCollect(client.stream(request))
          assert.strictEqual(received.at(-1)?.type, "response.completed")
          yield* Effect.sleep(100)
        }
        assert.strictEqual(server.requests.length, 4)
        assert.strictEqual(server.opened(), 1, "one keep-alive connection for every call")
      })
    )
  }
})

describe.each(transports)("interruption ($name)", (transport) => {
  it.live("interrupting the consumer mid-stream closes the socket; no unhandled rejection", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.setNoDelay(true)
        socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(opening))]))
        every(socket, 50, () => socket.write(chunk(": keep-alive\n\n")))
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { streamIdleMs: 20_000 } })
      const started = yield* Deferred.make<void>()
      const fiber = yield* Stream.runForEach(client.stream(request), () => Deferred.succeed(started, undefined)).pipe(
        Effect.forkChild
      )
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.isTrue(yield* allClosed(server, 1))
      yield* Effect.sleep(50)
      assert.deepStrictEqual(unhandled, [])
    })
  )

  it.live("an aborted CallOptions.signal mid-stream interrupts the call and closes the socket", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.setNoDelay(true)
        socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(opening))]))
        every(socket, 50, () => socket.write(chunk(": keep-alive\n\n")))
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { streamIdleMs: 20_000 } })
      const controller = new AbortController()
      const seen: Array<string> = []
      const exit = yield* Effect.exit(
        Stream.runForEach(client.stream(request, { signal: controller.signal }), (event) =>
          Effect.sync(() => {
            seen.push(event.type)
            controller.abort()
          })
        )
      )
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.isAbove(seen.length, 0)
      assert.strictEqual(server.requests.length, 1)
      assert.isTrue(yield* allClosed(server, 1))
    })
  )

  it.live("the total deadline mid-stream: RequestTimeout{total}, not retried, the socket closed", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.setNoDelay(true)
        socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(opening))]))
        every(socket, 50, () => socket.write(chunk(sseFrame(delta("x")))))
      })
      const client = yield* clientFor(transport, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { streamIdleMs: 20_000, totalMs: 400 }
      })
      const { exit, seen } = yield* drain(client.stream(request))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "total")
      assert.isAbove(seen.length, 3)
      assert.strictEqual(server.requests.length, 1)
      assert.isTrue(yield* allClosed(server, 1))
    })
  )

  it.live("interrupting a create whose JSON body is half sent closes the socket; no unhandled rejection", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.write(`${head(200, { "content-type": "application/json", "content-length": 100 })}{"id":"resp_`)
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { headersMs: 20_000 } })
      const fiber = yield* client.create(request).pipe(Effect.forkChild)
      assert.isTrue(yield* eventually(() => server.requests.length === 1))
      yield* Effect.sleep(50)
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.isTrue(yield* allClosed(server, 1))
      yield* Effect.sleep(50)
      assert.deepStrictEqual(unhandled, [])
    })
  )

  it.live("interrupting a stream call waiting for headers closes the socket; no unhandled rejection", () =>
    Effect.gen(function* () {
      const server = yield* rawServer(() => {})
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { headersMs: 20_000 } })
      const fiber = yield* Stream.runDrain(client.stream(request)).pipe(Effect.forkChild)
      assert.isTrue(yield* eventually(() => server.requests.length === 1))
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.isTrue(yield* allClosed(server, 1))
      yield* Effect.sleep(50)
      assert.deepStrictEqual(unhandled, [])
    })
  )
})

describe.each(transports)("other answers to a stream call ($name)", (transport) => {
  it.live("B12 application/json answering a stream call: synthesized events ending in response.completed", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => jsonReply(socket, 200, final))
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const received = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        received.map((event) => event.type),
        ["response.created", "response.output_item.added", "response.output_item.done", "response.completed"]
      )
      const last = received.at(-1) as { readonly response: { readonly id: string } }
      assert.strictEqual(last.response.id, "resp_u")
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live("B12 text/html answering a stream call: StreamProtocolError{UnexpectedContentType}, not retried", () =>
    Effect.gen(function* () {
      const html = `<html><body>${"x".repeat(5000)} ${canaryKey}</body></html>`
      const server = yield* rawServer((socket) => {
        socket.write(head(200, { "content-type": "text/html", "content-length": Buffer.byteLength(html) }) + html)
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
      assert.strictEqual(error._tag, "StreamProtocolError")
      assert.strictEqual((error as ResponsesError.StreamProtocolError).reason, "UnexpectedContentType")
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual(server.requests.length, 1)
      assert.isAtMost(Buffer.byteLength(error.message, "utf8"), 1024)
    })
  )

  it.live(
    "B12 text/html whose body stalls: StreamProtocolError{UnexpectedContentType} once the headers limit passes, no hang",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(`${head(200, { "content-type": "text/html", "content-length": 1000 })}<html><body>`)
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { headersMs: 300 } })
        const exit = yield* Effect.exit(
          Stream.runDrain(client.stream(request)).pipe(
            Effect.timeoutOrElse({
              duration: 3000,
              orElse: () => Effect.die("the call hung on a stalled text/html body")
            })
          )
        )
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "StreamProtocolError")
        assert.strictEqual((error as ResponsesError.StreamProtocolError).reason, "UnexpectedContentType")
        assert.strictEqual(server.requests.length, 1)
        assert.isTrue(yield* allClosed(server, 1))
      })
  )

  it.live(
    "A01 a 503 on a stream call whose error body stalls: InternalProviderError{503} after the headers limit, retried",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(`${head(503, { "content-type": "application/json", "content-length": 1000 })}{"error":`)
        })
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          timeouts: { headersMs: 250 },
          retryPolicy: { maxRetries: 1, initialDelayMs: 10 }
        })
        const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
        assert.strictEqual(error._tag, "InternalProviderError")
        assert.strictEqual((error as ResponsesError.InternalProviderError).status, 503)
        assert.strictEqual(error.attempts, 2)
        assert.strictEqual(server.requests.length, 2)
        assert.isTrue(yield* allClosed(server, 2))
      })
  )

  it.live("C01 an error event after deltas: ResponseFailed with its code and the partial, not retried", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.write(
          Buffer.concat([
            Buffer.from(sseHead()),
            chunk(
              `${sse([...opening, delta("hel")])}event: error\ndata: ${JSON.stringify({ type: "error", code: "server_is_overloaded", message: "overloaded" })}\n\n`
            ),
            chunk("")
          ])
        )
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const { exit, seen } = yield* drain(client.stream(request))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "ResponseFailed")
      assert.strictEqual((error as ResponsesError.ResponseFailed).code, "server_is_overloaded")
      assert.deepStrictEqual(seen, types.slice(0, 4))
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live("C06 (a) a clean EOF without a terminal event: StreamTruncated with the partial, not retried", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => wholeStream(socket, [...opening, delta("hel")]))
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const { exit, seen } = yield* drain(client.stream(request))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "StreamTruncated")
      assert.strictEqual((error as ResponsesError.StreamTruncated).partial?.id, "resp_u")
      assert.deepStrictEqual(seen, types.slice(0, 4))
      assert.strictEqual(server.requests.length, 1)
    })
  )
})

describe("G01 canary sweep (direct transport)", () => {
  it("G01 canary sweep: no error of this file contains the key or its last 8 characters; no unhandled rejection", () => {
    assert.isAbove(recordedCount(), 10)
    assert.deepStrictEqual(canaryHits(), [])
    assert.deepStrictEqual(unhandled, [])
  })
})
