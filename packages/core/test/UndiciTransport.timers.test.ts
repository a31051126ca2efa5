/**
 * Both transports over raw loopback sockets, in real time: the headers, body, stream-idle and
 * content-idle timers, and retries before the first event. The same timers of the direct undici
 * path under `TestClock` are in UndiciTransport.testClock.test.ts.
 * Gotcha: real Node timers: the limits here are 150–600 ms with generous slack for a busy machine.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import type * as ResponsesError from "../src/ResponsesError.ts"
import { request } from "./support/fakeHttp.ts"
import { chunk, eventually, head, rawServer, sseFrame, sseHead, transports } from "./support/server.ts"
import {
  allClosed,
  canarySweep,
  clientFor,
  created,
  delta,
  drain,
  every,
  failureOf,
  opening,
  sse,
  terminal,
  types,
  watchUnhandled,
  wholeStream
} from "./support/transportCases.ts"

const unhandled = watchUnhandled()

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

canarySweep(unhandled, 6)
