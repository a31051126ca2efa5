/**
 * The direct undici transport's timers under `TestClock`: the `Timers` seam (internal/transport.ts)
 * runs the headers, stream-idle and content-idle timers on the fiber's `Clock`, so a test drives
 * them with `TestClock.adjust` instead of waiting. The limits here are a minute: with real Node
 * timers these tests would time out, so each one fails without the seam.
 * Gotcha: the socket I/O is real, so each test waits (in real time) for the server to see the
 * request before it moves the clock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import type * as ResponsesError from "../src/ResponsesError.ts"
import { request } from "./support/fakeHttp.ts"
import { eventually, rawServer, sseHead, transports } from "./support/server.ts"
import { canarySweep, clientFor, failureOf, opening, sse, watchUnhandled } from "./support/transportCases.ts"

const unhandled = watchUnhandled()
const direct = transports.find((transport) => transport.name === "direct undici")!

/** Waits in real time (the clock under test does not move by itself) for the server side. */
const seen = (predicate: () => boolean) =>
  Effect.flatMap(eventually(predicate), (ok) => Effect.sync(() => assert.isTrue(ok, "the server never saw it")))

describe("direct undici timers under TestClock", () => {
  it.effect("A07 headers timer: a server that never answers fails with RequestTimeout{headers} at the minute", () =>
    Effect.gen(function* () {
      const server = yield* rawServer(() => {})
      const client = yield* clientFor(direct, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { headersMs: 60_000 },
        retryPolicy: { maxRetries: 0 }
      })
      const fiber = yield* Effect.forkChild(Effect.exit(client.create(request)))
      yield* seen(() => server.requests.length === 1)
      yield* TestClock.adjust("59 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "not before the limit")
      yield* TestClock.adjust("1 second")
      const error = failureOf(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "headers")
      assert.strictEqual((error as ResponsesError.RequestTimeout).timeoutMs, 60_000)
    })
  )

  it.effect("stream-idle timer: events, then silence, fail with RequestTimeout{stream-idle} and the partial", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => socket.write(sseHead() + chunkOf(sse(opening))))
      const client = yield* clientFor(direct, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { streamIdleMs: 60_000 },
        retryPolicy: { maxRetries: 0 }
      })
      const received: Array<string> = []
      const fiber = yield* Effect.forkChild(
        Effect.exit(Stream.runForEach(client.stream(request), (event) => Effect.sync(() => received.push(event.type))))
      )
      yield* seen(() => received.length === opening.length)
      yield* TestClock.adjust("59 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "not before the limit")
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "stream-idle")
      assert.strictEqual((error as ResponsesError.RequestTimeout).partial?.id, "resp_u")
    })
  )

  it.effect("content-idle timer: no content event for the limit fails with RequestTimeout{content-idle}", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => socket.write(sseHead() + chunkOf(sse(opening))))
      const client = yield* clientFor(direct, {
        baseUrl: `${server.origin}/v1`,
        timeouts: { streamIdleMs: 600_000, contentIdleMs: 60_000 },
        retryPolicy: { maxRetries: 0 }
      })
      const received: Array<string> = []
      const fiber = yield* Effect.forkChild(
        Effect.exit(Stream.runForEach(client.stream(request), (event) => Effect.sync(() => received.push(event.type))))
      )
      yield* seen(() => received.length === opening.length)
      yield* TestClock.adjust("60 seconds")
      const error = failureOf(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "content-idle")
    })
  )
})

/** One HTTP/1.1 chunk of `text`. */
const chunkOf = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`

canarySweep(unhandled, 2)
