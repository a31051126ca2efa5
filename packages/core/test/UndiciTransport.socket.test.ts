/**
 * Both transports over raw loopback sockets: what happens to the socket after a stream (kept for
 * keep-alive after a clean end, closed after garbage, an early stop or a held-open body) and on
 * interruption (consumer interrupted, aborted signal, total deadline, a half-sent body).
 * Every case checks the connections the server saw opened and closed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type * as ResponsesError from "../src/ResponsesError.ts"
import { request } from "./support/fakeHttp.ts"
import { chunk, eventually, head, rawServer, sseFrame, sseHead, transports } from "./support/server.ts"
import {
  allClosed,
  canarySweep,
  clientFor,
  delta,
  drain,
  every,
  failureOf,
  opening,
  sse,
  types,
  watchUnhandled,
  whole,
  wholeStream
} from "./support/transportCases.ts"

const unhandled = watchUnhandled()

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

canarySweep(unhandled, 3)
