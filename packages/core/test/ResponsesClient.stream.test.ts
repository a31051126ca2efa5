/**
 * ResponsesClient timers and tracing under TestClock with an in-memory HttpClient whose SSE bodies
 * are pushed by the test: stream-idle (reset by any bytes, comments included), content-idle (only
 * content resets it), the total deadline, retry span events (A04, B04), GenAI attributes on the
 * `chat {model}` span of a stream (A13) and `captureContent` (G03, client part).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as HttpClient from "effect/http/HttpClient"
import { TestClock } from "effect/testing"
import type * as ResponsesError from "../src/ResponsesError.ts"
import type { StreamEvent } from "../src/ResponsesSchema.ts"
import { canaryHits, recordedCount, recordError } from "./support/canary.ts"
import { canaryKey, clientOver, completed, errorResponse, json, makeFake, request } from "./support/fakeHttp.ts"
import { exporter, spansNamed, Tracing } from "./support/tracing.ts"

/** A pushable SSE body. */
const pushable = () => {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    }
  })
  const encoder = new TextEncoder()
  return {
    response: () => new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } }),
    push: (text: string) => controller.enqueue(encoder.encode(text)),
    close: () => controller.close()
  }
}

/** Lets promise-based body reads settle (a macrotask; not a clock sleep). */
const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve))).pipe(
  Effect.andThen(Effect.yieldNow),
  Effect.repeat({ times: 3 })
)

const frame = (event: Record<string, unknown>) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`
const created = frame({ type: "response.created", response: { id: "resp_1", status: "in_progress" } })
const done = frame({ type: "response.completed", response: completed() })
const keepalive = frame({ type: "keepalive" })

const errorOf = (exit: Exit.Exit<unknown, ResponsesError.ResponsesError>): ResponsesError.ResponsesError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = Cause.findErrorOption((exit as Exit.Failure<unknown, ResponsesError.ResponsesError>).cause)
  assert.strictEqual(found._tag, "Some")
  const error = (found as { readonly value: ResponsesError.ResponsesError }).value
  recordError(error)
  return error
}

/** Forks a collecting consumer of `client.stream(request)`. */
const consume = (stream: Stream.Stream<StreamEvent, ResponsesError.ResponsesError>) =>
  Effect.gen(function* () {
    const seen: Array<string> = []
    const fiber = yield* Stream.runForEach(stream, (event) => Effect.sync(() => seen.push(event.type))).pipe(
      Effect.forkChild
    )
    return { seen, fiber }
  })

describe("ResponsesClient.stream timers", () => {
  it.effect("B03 stream-idle: comments and keepalives every 4 min keep a stream alive past 5 min", () =>
    Effect.gen(function* () {
      const body = pushable()
      const fake = makeFake(() => body.response())
      const client = yield* clientOver(fake)
      const { seen, fiber } = yield* consume(client.stream(request))
      yield* settle
      body.push(created)
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("4 minutes")
        body.push(i % 2 === 0 ? ": keep-alive\n\n" : keepalive)
        yield* settle
      }
      body.push(done)
      body.close()
      yield* settle
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(seen.at(-1), "response.completed")
    })
  )

  it.effect(
    "stream-idle: 5 min of silence after an event is RequestTimeout{stream-idle} with partial, not retried",
    () =>
      Effect.gen(function* () {
        const body = pushable()
        const fake = makeFake(() => body.response())
        const client = yield* clientOver(fake)
        const { seen, fiber } = yield* consume(client.stream(request))
        yield* settle
        body.push(created)
        yield* settle
        yield* TestClock.adjust("299 seconds")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 second")
        const error = errorOf(yield* Fiber.await(fiber))
        assert.strictEqual(error._tag, "RequestTimeout")
        assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "stream-idle")
        assert.strictEqual((error as ResponsesError.RequestTimeout).timeoutMs, 300_000)
        assert.strictEqual((error as ResponsesError.RequestTimeout).partial?.id, "resp_1")
        assert.deepStrictEqual(seen, ["response.created"])
        assert.strictEqual(fake.seen.length, 1)
      })
  )

  it.effect("stream-idle before the first event is retried (nothing reached the consumer)", () =>
    Effect.gen(function* () {
      const second = pushable()
      const fake = makeFake((call) => (call === 0 ? pushable().response() : second.response()))
      const client = yield* clientOver(fake, { timeouts: { streamIdleMs: 1000 } })
      const { seen, fiber } = yield* consume(client.stream(request))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(fake.seen.length, 2)
      second.push(created + done)
      second.close()
      yield* settle
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
      assert.deepStrictEqual(seen, ["response.created", "response.completed"])
    })
  )

  it.effect("B03 content-idle (opt-in): keepalives do not reset it; RequestTimeout{content-idle}", () =>
    Effect.gen(function* () {
      const body = pushable()
      const fake = makeFake(() => body.response())
      const client = yield* clientOver(fake, { timeouts: { contentIdleMs: 1000 } })
      const { fiber } = yield* consume(client.stream(request))
      yield* settle
      body.push(created)
      yield* settle
      for (let i = 0; i < 2; i++) {
        yield* TestClock.adjust("400 millis")
        body.push(keepalive)
        yield* settle
      }
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("200 millis")
      const error = errorOf(yield* Fiber.await(fiber))
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "content-idle")
    })
  )

  it.effect("total deadline (opt-in): RequestTimeout{total}, not retried, the request is abandoned", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => Effect.never)
      const client = yield* clientOver(fake, { timeouts: { totalMs: 1000 } })
      const fiber = yield* client.create(request).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      const error = errorOf(yield* Fiber.await(fiber))
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "total")
      assert.isFalse(error.retryable)
      assert.strictEqual(fake.seen.length, 1)

      const streamFake = makeFake(() => Effect.never)
      const streaming = yield* clientOver(streamFake, { timeouts: { totalMs: 1000 } })
      const { fiber: streamFiber } = yield* consume(streaming.stream(request))
      yield* TestClock.adjust("1 second")
      const streamError = errorOf(yield* Fiber.await(streamFiber))
      assert.strictEqual(streamError._tag, "RequestTimeout")
      assert.strictEqual((streamError as ResponsesError.RequestTimeout).phase, "total")
    })
  )
})

describe("ResponsesClient.stream errors", () => {
  it.effect("G02 a response.failed message echoing a non-sk-shaped gateway key is redacted", () =>
    Effect.gen(function* () {
      const gatewayKey = "gwkey-0123456789abcdefXYZ"
      const failed = frame({
        type: "response.failed",
        response: {
          id: "resp_1",
          status: "failed",
          error: { code: "server_error", message: `upstream rejected ${gatewayKey}` }
        }
      })
      const fake = makeFake(
        () => new Response(created + failed, { status: 200, headers: { "content-type": "text/event-stream" } })
      )
      const client = yield* clientOver(fake, { apiKey: Redacted.make(gatewayKey), authHeader: "x-gateway-key" })
      const error = errorOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
      assert.strictEqual(error._tag, "ResponseFailed")
      assert.strictEqual(fake.seen[0]!.headers["x-gateway-key"], gatewayKey)
      for (const rendering of [error.message, JSON.stringify(error), String(error)]) {
        assert.notInclude(rendering, gatewayKey)
        assert.notInclude(rendering, gatewayKey.slice(-8))
      }
      assert.deepStrictEqual(
        error.causes.map((cause) => cause.tag),
        ["ResponseFailed"]
      )
    })
  )
})

describe("ResponsesClient tracing", () => {
  it.effect("A04 a Retry-After wait is recorded as a span event on the chat span", () =>
    Effect.gen(function* () {
      exporter.reset()
      const fake = makeFake((call) =>
        call === 0 ? errorResponse(429, { "retry-after-ms": "250" }, { message: "slow" }) : json(completed())
      )
      const client = yield* clientOver(fake)
      const fiber = yield* client.create(request).pipe(Effect.provide(Tracing), Effect.forkChild)
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
      const [chat] = spansNamed(`chat ${request.model}`)
      const retry = chat!.events.find((event) => event.name === "volley.retry")
      assert.isDefined(retry)
      assert.strictEqual(retry!.attributes?.["volley.retry_after.ms"], 250)
      assert.strictEqual(retry!.attributes?.["volley.retry.source"], "retry-after-ms")
      assert.deepStrictEqual(chat!.attributes["gen_ai.response.finish_reasons"], ["completed"])

      exporter.reset()
      const failing = makeFake(() => errorResponse(401))
      const denied = yield* clientOver(failing)
      yield* Effect.exit(denied.create(request).pipe(Effect.provide(Tracing)))
      yield* Effect.exit(Stream.runDrain(denied.stream(request)).pipe(Effect.provide(Tracing)))
      assert.deepStrictEqual(
        spansNamed(`chat ${request.model}`).map((span) => span.attributes["error.type"]),
        ["AuthenticationError", "AuthenticationError"]
      )
    })
  )

  it.effect("A13 B04 a stream's chat span has the served model, usage and the SSE retry: field as an event", () =>
    Effect.gen(function* () {
      exporter.reset()
      const served = frame({ type: "response.completed", response: completed({ model: "b/y" }) })
      const fake = makeFake(
        () =>
          new Response(`retry: 3000\nid: 7\n\n${created}${served}`, {
            status: 200,
            headers: { "content-type": "text/event-stream" }
          })
      )
      const client = yield* clientOver(fake)
      const events = yield* Stream.runCollect(client.stream({ model: "a/x", input: "hi" })).pipe(
        Effect.provide(Tracing)
      )
      assert.strictEqual(events.at(-1)?.type, "response.completed")
      const [chat] = spansNamed("chat a/x")
      assert.isDefined(chat)
      assert.strictEqual(chat!.attributes["gen_ai.request.model"], "a/x")
      assert.strictEqual(chat!.attributes["gen_ai.response.model"], "b/y")
      assert.strictEqual(chat!.attributes["gen_ai.response.id"], "resp_1")
      assert.strictEqual(chat!.attributes["gen_ai.usage.output_tokens"], 5)
      const retryField = chat!.events.find((event) => event.name === "volley.sse.retry_field")
      assert.strictEqual(retryField?.attributes?.["volley.sse.retry_ms"], 3000)
    })
  )

  it.effect(
    "G02 even with every header captured on HTTP spans, the key and custom auth header show as <redacted>",
    () =>
      Effect.gen(function* () {
        exporter.reset()
        const fake = makeFake(() => json(completed()))
        const bearer = yield* clientOver(fake)
        const gateway = yield* clientOver(fake, { authHeader: "x-gateway-key" })
        const captureAll = Effect.provideService(HttpClient.TracerHeaderFilter, () => true)
        yield* bearer.create(request).pipe(captureAll, Effect.provide(Tracing))
        yield* gateway.create(request).pipe(captureAll, Effect.provide(Tracing))
        const attempts = spansNamed("POST")
        assert.strictEqual(attempts.length, 2)
        assert.strictEqual(attempts[0]!.attributes["http.request.header.authorization"], "<redacted>")
        assert.strictEqual(attempts[1]!.attributes["http.request.header.x-gateway-key"], "<redacted>")
        assert.strictEqual(attempts[0]!.attributes["http.request.header.x-volley-retry-count"], "0")
        for (const span of exporter.getFinishedSpans()) {
          const rendered = JSON.stringify({ attributes: span.attributes, events: span.events })
          assert.notInclude(rendered, canaryKey)
          assert.notInclude(rendered, canaryKey.slice(-8))
        }
      })
  )

  it.effect("G03 content is off by default; captureContent records input and output, each <= 8 KiB", () =>
    Effect.gen(function* () {
      exporter.reset()
      const fake = makeFake(() => json(completed()))
      const big = { model: "m", input: "x".repeat(20_000), instructions: "be brief" }
      const quiet = yield* clientOver(fake)
      yield* quiet.create(big).pipe(Effect.provide(Tracing))
      const loud = yield* clientOver(fake, { captureContent: true })
      yield* loud.create(big).pipe(Effect.provide(Tracing))
      const [off, on] = spansNamed("chat m")
      for (const key of ["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"]) {
        assert.isUndefined(off!.attributes[key], key)
        const value = on!.attributes[key]
        assert.isString(value, key)
        assert.isAtMost(Buffer.byteLength(String(value), "utf8"), 8 * 1024, key)
      }
    })
  )
})

describe("G01 canary sweep (stream)", () => {
  it("G01 canary sweep: no stream or timer error contains the key or its last 8 characters", () => {
    assert.isAbove(recordedCount(), 3)
    assert.deepStrictEqual(canaryHits(), [])
  })
})
