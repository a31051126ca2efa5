/**
 * ResponsesClient over an in-memory HttpClient under TestClock: status mapping and retries (A01–A05,
 * A09–A12), served model (A13), non-streaming statuses (C08), redaction of custom auth headers and
 * URL keys (G02), and the stream() content-type rules (B12). Loopback socket cases live in
 * ResponsesClient.loopback.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import type * as ResponsesError from "../src/ResponsesError.ts"
import * as RetryPolicy from "../src/RetryPolicy.ts"
import { canaryHits, recordedCount, recordError } from "./support/canary.ts"
import { canaryKey, clientOver, completed, errorResponse, json, makeFake, request } from "./support/fakeHttp.ts"

/** Runs `create` to its exit, advancing the TestClock far enough for every backoff. */
const runCreate = (
  fake: ReturnType<typeof makeFake>,
  options: Parameters<typeof clientOver>[1] = {},
  callOptions?: { readonly previousAttempts?: number }
) =>
  Effect.gen(function* () {
    const client = yield* clientOver(fake, options)
    const fiber = yield* client.create(request, callOptions).pipe(Effect.forkChild)
    yield* TestClock.adjust("10 minutes")
    const exit = yield* Fiber.await(fiber)
    if (Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "Some") recordError(error.value)
    }
    return exit
  })

const failureOf = <A>(exit: Exit.Exit<A, ResponsesError.ResponsesError>): ResponsesError.ResponsesError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, ResponsesError.ResponsesError>).cause)
  assert.strictEqual(error._tag, "Some")
  return (error as { readonly value: ResponsesError.ResponsesError }).value
}

const errorBody = (status: number) => ({ message: `boom ${status}`, type: "error", code: `code_${status}` })

describe("ResponsesClient: HTTP statuses and retries", () => {
  for (const status of [408, 409, 429, 500, 502, 503, 504]) {
    it.effect(`A01 status ${status} with retry-after-ms: 0 is retried once, then succeeds`, () =>
      Effect.gen(function* () {
        const fake = makeFake((call) =>
          call === 0 ? errorResponse(status, { "retry-after-ms": "0" }, errorBody(status)) : json(completed())
        )
        const exit = yield* runCreate(fake)
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(fake.seen.length, 2)
      })
    )
  }

  const neverRetried: ReadonlyArray<readonly [number, string, Record<string, unknown>]> = [
    [400, "InvalidRequestError", { status: 400, code: "code_400" }],
    [401, "AuthenticationError", { kind: "InvalidKey" }],
    [403, "AuthenticationError", { kind: "InsufficientPermissions" }],
    [404, "InvalidRequestError", { status: 404 }],
    [422, "InvalidRequestError", { status: 422 }],
    [501, "InternalProviderError", { status: 501, retryable: false }]
  ]
  for (const [status, tag, fields] of neverRetried) {
    it.effect(`A01 status ${status} is not retried and maps to ${tag}`, () =>
      Effect.gen(function* () {
        const fake = makeFake((call) =>
          call === 0
            ? errorResponse(status, { "retry-after-ms": "0", "x-request-id": "req_1" }, errorBody(status))
            : json(completed())
        )
        const error = failureOf(yield* runCreate(fake))
        assert.strictEqual(fake.seen.length, 1)
        assert.strictEqual(error._tag, tag)
        assert.strictEqual(error.attempts, 1)
        assert.strictEqual(error.causes.length, 1)
        assert.strictEqual(error.requestId, "req_1")
        assert.isFalse(error.retryable)
        for (const [key, value] of Object.entries(fields)) {
          assert.deepStrictEqual((error as unknown as Record<string, unknown>)[key], value, key)
        }
      })
    )
  }

  it.effect("A02 persistent 503: exactly 3 requests, backoff in [375, 500] then [750, 1000] ms", () =>
    Effect.gen(function* () {
      for (let run = 0; run < 5; run++) {
        const fake = makeFake(() => errorResponse(503))
        const error = failureOf(yield* runCreate(fake))
        assert.strictEqual(fake.seen.length, 3)
        assert.strictEqual(error._tag, "InternalProviderError")
        assert.strictEqual((error as ResponsesError.InternalProviderError).status, 503)
        assert.strictEqual(error.attempts, 3)
        assert.deepStrictEqual(
          error.causes.map((cause) => [cause.attempt, cause.tag, cause.status]),
          [
            [1, "InternalProviderError", 503],
            [2, "InternalProviderError", 503],
            [3, "InternalProviderError", 503]
          ]
        )
        const first = fake.seen[1]!.at - fake.seen[0]!.at
        const second = fake.seen[2]!.at - fake.seen[1]!.at
        assert.isTrue(first >= 375 && first <= 500, `first wait ${first}`)
        assert.isTrue(second >= 750 && second <= 1000, `second wait ${second}`)
      }
    })
  )

  it.effect("A02 the wait is strictly longer than the jitter floor and never earlier (virtual clock check)", () =>
    Effect.gen(function* () {
      const fake = makeFake((call) => (call === 0 ? errorResponse(503) : json(completed())))
      const client = yield* clientOver(fake)
      const fiber = yield* client.create(request).pipe(Effect.forkChild)
      yield* TestClock.adjust("374 millis")
      assert.strictEqual(fake.seen.length, 1)
      yield* TestClock.adjust("126 millis")
      assert.strictEqual(fake.seen.length, 2)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
    })
  )

  it.effect(
    "A01 a persistent 409 is retried, then InvalidRequestError{409}; a persistent 408 is InternalProviderError{408}",
    () =>
      Effect.gen(function* () {
        const conflict = makeFake(() => errorResponse(409, {}, { message: "conflict", code: "conflict" }))
        const error = failureOf(yield* runCreate(conflict))
        assert.strictEqual(conflict.seen.length, 3)
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.strictEqual((error as ResponsesError.InvalidRequestError).status, 409)
        assert.strictEqual((error as ResponsesError.InvalidRequestError).code, "conflict")
        const timeout = makeFake(() => errorResponse(408))
        const second = failureOf(yield* runCreate(timeout))
        assert.strictEqual(timeout.seen.length, 3)
        assert.strictEqual(second._tag, "InternalProviderError")
        assert.strictEqual((second as ResponsesError.InternalProviderError).status, 408)
      })
  )

  it.effect("A03 (a) 400 with x-should-retry: true is retried, then succeeds", () =>
    Effect.gen(function* () {
      const fake = makeFake((call) =>
        call === 0 ? errorResponse(400, { "x-should-retry": "true" }) : json(completed())
      )
      const exit = yield* runCreate(fake)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(fake.seen.length, 2)
    })
  )

  it.effect("A03 (b) 503 with x-should-retry: false is not retried and not retryable", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => errorResponse(503, { "x-should-retry": "false" }))
      const error = failureOf(yield* runCreate(fake))
      assert.strictEqual(fake.seen.length, 1)
      assert.strictEqual(error._tag, "InternalProviderError")
      assert.isFalse(error.retryable)
    })
  )

  const retryAfterCases: ReadonlyArray<readonly [string, Record<string, string>, number]> = [
    ["retry-after-ms: 250", { "retry-after-ms": "250" }, 250],
    ["retry-after-ms: 0 wins over a date +30 s", { "retry-after-ms": "0", "retry-after": "DATE+30" }, 0],
    ["retry-after: 1.5", { "retry-after": "1.5" }, 1500],
    ["retry-after: <date +20 s>", { "retry-after": "DATE+20" }, 20_000]
  ]
  for (const [name, headers, advertised] of retryAfterCases) {
    it.effect(`A04 Retry-After parsing: ${name} waits in [d, 1.25 d]`, () =>
      Effect.gen(function* () {
        const fake = makeFake((call, _request) =>
          Effect.gen(function* () {
            if (call > 0) return json(completed())
            const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
            const resolved = Object.fromEntries(
              Object.entries(headers).map(([key, value]) => [
                key,
                value.startsWith("DATE+") ? new Date(now + Number(value.slice(5)) * 1000).toUTCString() : value
              ])
            )
            return errorResponse(429, resolved, { message: "slow down", code: "rate_limit_exceeded" })
          })
        )
        const exit = yield* runCreate(fake)
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(fake.seen.length, 2)
        const waited = fake.seen[1]!.at - fake.seen[0]!.at
        assert.isTrue(waited >= advertised && waited <= advertised * 1.25, `waited ${waited} for ${advertised}`)
      })
    )
  }

  for (const invalid of ["-5", "inf", "nan", "abc", "99999999999999999999", "Mon, 99 Foo 2024 99:99:99 GMT"]) {
    it.effect(
      `A04 Retry-After parsing: invalid retry-after ${JSON.stringify(invalid)} falls back to default backoff`,
      () =>
        Effect.gen(function* () {
          const fake = makeFake((call) =>
            call === 0 ? errorResponse(429, { "retry-after": invalid }, { message: "slow" }) : json(completed())
          )
          const exit = yield* runCreate(fake)
          assert.isTrue(Exit.isSuccess(exit))
          const waited = fake.seen[1]!.at - fake.seen[0]!.at
          assert.isTrue(waited >= 375 && waited <= 500, `waited ${waited}`)
        })
    )
  }

  for (const [name, headers, advertised] of [
    ["retry-after: 61", { "retry-after": "61" }, 61_000],
    ["retry-after-ms: 60001", { "retry-after-ms": "60001" }, 60_001]
  ] as const) {
    it.effect(`A04 Retry-After parsing: ${name} exceeds maxRetryAfter: no retry, RateLimitError carries it`, () =>
      Effect.gen(function* () {
        const fake = makeFake(() => errorResponse(429, headers, { message: "slow" }))
        const error = failureOf(yield* runCreate(fake))
        assert.strictEqual(fake.seen.length, 1)
        assert.strictEqual(error._tag, "RateLimitError")
        assert.strictEqual((error as ResponsesError.RateLimitError).retryAfter, advertised)
      })
    )
  }

  it.effect("A05 429 insufficient_quota: 1 request and QuotaExhaustedError; rate_limit_exceeded is retried", () =>
    Effect.gen(function* () {
      const quota = makeFake(() =>
        errorResponse(429, {}, { message: "quota", type: "insufficient_quota", code: "insufficient_quota" })
      )
      const error = failureOf(yield* runCreate(quota))
      assert.strictEqual(quota.seen.length, 1)
      assert.strictEqual(error._tag, "QuotaExhaustedError")
      assert.isFalse(error.retryable)

      const limited = makeFake((call) =>
        call === 0 ? errorResponse(429, {}, { message: "slow", code: "rate_limit_exceeded" }) : json(completed())
      )
      assert.isTrue(Exit.isSuccess(yield* runCreate(limited)))
      assert.strictEqual(limited.seen.length, 2)
    })
  )

  it.effect("A05 429 retried until the budget is spent ends in RateLimitError{status: 429}", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => errorResponse(429, { "retry-after": "1" }, { message: "slow" }))
      const error = failureOf(yield* runCreate(fake))
      assert.strictEqual(fake.seen.length, 3)
      assert.strictEqual(error._tag, "RateLimitError")
      assert.strictEqual((error as ResponsesError.RateLimitError).retryAfter, 1000)
      assert.isTrue(error.retryable)
    })
  )

  it.effect("A06 transport failure (connection refused) is NetworkError{connect}, retried 3 times", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => ({
        transportError: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
      }))
      const error = failureOf(yield* runCreate(fake))
      assert.strictEqual(fake.seen.length, 3)
      assert.strictEqual(error._tag, "NetworkError")
      assert.strictEqual((error as ResponsesError.NetworkError).phase, "connect")
      assert.strictEqual(error.causes.length, 3)
    })
  )

  it.effect(
    "A06 undici connect timeout is RequestTimeout{connect}; a reset before headers is NetworkError{headers}",
    () =>
      Effect.gen(function* () {
        const timedOut = makeFake(() => ({ transportError: { code: "UND_ERR_CONNECT_TIMEOUT" } }))
        const error = failureOf(yield* runCreate(timedOut, { retryPolicy: { maxRetries: 0 } }))
        assert.strictEqual(error._tag, "RequestTimeout")
        assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "connect")
        assert.strictEqual((error as ResponsesError.RequestTimeout).timeoutMs, 10_000)

        const reset = makeFake(() => ({ transportError: { name: "SocketError", code: "UND_ERR_SOCKET" } }))
        const second = failureOf(yield* runCreate(reset, { retryPolicy: { maxRetries: 0 } }))
        assert.strictEqual(second._tag, "NetworkError")
        assert.strictEqual((second as ResponsesError.NetworkError).phase, "headers")
      })
  )

  it.effect("A07 headers timeout under TestClock: RequestTimeout{headers} on every attempt", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => Effect.never)
      const client = yield* clientOver(fake, { timeouts: { headersMs: 2000 } })
      const fiber = yield* client.create(request).pipe(Effect.forkChild)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(fake.seen.length, 1)
      yield* TestClock.adjust("10 seconds")
      const error = failureOf(yield* Fiber.await(fiber))
      recordError(error)
      assert.strictEqual(fake.seen.length, 3)
      assert.strictEqual(error._tag, "RequestTimeout")
      assert.strictEqual((error as ResponsesError.RequestTimeout).phase, "headers")
      assert.deepStrictEqual(
        error.causes.map((cause) => cause.tag),
        ["RequestTimeout", "RequestTimeout", "RequestTimeout"]
      )
    })
  )

  it.effect("A09 idempotency key: one key shared by the 3 attempts of a call, a new key for the next call", () =>
    Effect.gen(function* () {
      const fake = makeFake((call) => (call < 2 ? errorResponse(503) : json(completed())))
      const client = yield* clientOver(fake, { idempotencyKey: true })
      const first = yield* client.create(request).pipe(Effect.forkChild)
      yield* TestClock.adjust("5 seconds")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
      yield* client.create(request)
      const keys = fake.seen.map((seen) => seen.headers["idempotency-key"])
      assert.strictEqual(keys.length, 4)
      assert.isString(keys[0])
      assert.strictEqual(keys[1], keys[0])
      assert.strictEqual(keys[2], keys[0])
      assert.notStrictEqual(keys[3], keys[0])
      assert.deepStrictEqual(
        fake.seen.map((seen) => seen.headers["x-volley-retry-count"]),
        ["0", "1", "2", "0"]
      )
    })
  )

  it.effect("A09 an outer retry can pass CallOptions.idempotencyKey to keep the key of its logical call", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => json(completed()))
      const client = yield* clientOver(fake, { idempotencyKey: { header: "x-idempotency-key" } })
      yield* client.create(request, { idempotencyKey: "turn-7" })
      yield* client.create(request, { idempotencyKey: "turn-7", previousAttempts: 1 })
      assert.deepStrictEqual(
        fake.seen.map((seen) => [seen.headers["x-idempotency-key"], seen.headers["x-volley-retry-count"]]),
        [
          ["turn-7", "0"],
          ["turn-7", "1"]
        ]
      )
    })
  )

  it.effect("A09 no idempotency header by default; the attempt counter header is always sent", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => json(completed()))
      const client = yield* clientOver(fake)
      yield* client.create(request)
      assert.isUndefined(fake.seen[0]!.headers["idempotency-key"])
      assert.strictEqual(fake.seen[0]!.headers["x-volley-retry-count"], "0")
    })
  )

  it.effect("A10 previousAttempts shares the retry budget: an outer layer that spent 2 leaves 1 attempt", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => errorResponse(503))
      const error = failureOf(yield* runCreate(fake, {}, { previousAttempts: 2 }))
      assert.strictEqual(fake.seen.length, 1)
      assert.strictEqual(fake.seen[0]!.headers["x-volley-retry-count"], "2")
      assert.strictEqual(error.attempts, 3)
      // a turn-retry layer (like the agent's) that re-calls with the attempts already spent
      const outer = makeFake(() => errorResponse(503))
      const client = yield* clientOver(outer)
      let spent = 0
      const fiber = yield* Effect.gen(function* () {
        for (let turn = 0; turn < 3; turn++) {
          const exit = yield* Effect.exit(client.create(request, { previousAttempts: spent }))
          if (Exit.isSuccess(exit)) return
          const failure = Cause.findErrorOption(exit.cause)
          if (failure._tag === "Some") spent = failure.value.attempts
          if (spent >= RetryPolicy.defaults.maxRetries + 1) return
        }
      }).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 minute")
      yield* Fiber.await(fiber)
      assert.strictEqual(outer.seen.length, RetryPolicy.defaults.maxRetries + 1)
    })
  )

  it.effect("A11 (a) an already-interrupted call sends nothing", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => json(completed()))
      const client = yield* clientOver(fake)
      const exit = yield* Effect.exit(Effect.interrupt.pipe(Effect.andThen(client.create(request))))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      assert.strictEqual(fake.seen.length, 0)
    })
  )

  it.effect("A11 (a) an already-aborted signal sends nothing (create and stream), Interrupted at once", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => json(completed()))
      const client = yield* clientOver(fake)
      const controller = new AbortController()
      controller.abort()
      const exit = yield* Effect.exit(client.create(request, { signal: controller.signal }))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      const streamed = yield* Effect.exit(Stream.runCollect(client.stream(request, { signal: controller.signal })))
      assert.isTrue(Exit.isFailure(streamed) && Cause.hasInterruptsOnly(streamed.cause))
      assert.strictEqual(fake.seen.length, 0)
    })
  )

  it.effect("A11 (b) aborting the signal during a Retry-After wait: no second request, Interrupted", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => errorResponse(429, { "retry-after-ms": "10000" }))
      const client = yield* clientOver(fake)
      const controller = new AbortController()
      const fiber = yield* client.create(request, { signal: controller.signal }).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      controller.abort()
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(fake.seen.length, 1)
    })
  )

  it.effect("A11 (b) 429 with retry-after-ms: 10000 interrupted at t = 1 s: no second request, Interrupted", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => errorResponse(429, { "retry-after-ms": "10000" }))
      const client = yield* clientOver(fake)
      const fiber = yield* client.create(request).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(fake.seen.length, 1)
    })
  )
})

describe("ResponsesClient: error bodies", () => {
  const bodies: ReadonlyArray<readonly [string, () => Response]> = [
    ["(a) an empty body", () => new Response("", { status: 500, headers: { "x-request-id": "req_a" } })],
    [
      "(b) an HTML page",
      () =>
        new Response("<html>502 Bad Gateway</html>", {
          status: 500,
          headers: { "x-request-id": "req_a", "content-type": "text/html" }
        })
    ],
    [
      "(c) a 2 MiB body",
      () => new Response("x".repeat(2 * 1024 * 1024), { status: 500, headers: { "x-request-id": "req_a" } })
    ],
    ['(d) {"error":"string"}', () => json({ error: "string" }, 500, { "x-request-id": "req_a" })],
    [
      "(e) the gateway shape with a provider field",
      () =>
        json(
          {
            error: { message: "upstream failed", type: "server_error", code: "upstream_error", provider: { name: "x" } }
          },
          500,
          { "x-request-id": "req_a" }
        )
    ]
  ]
  for (const [name, body] of bodies) {
    it.effect(`A12 500 with ${name}: typed error, status, requestId, message <= 1 KiB`, () =>
      Effect.gen(function* () {
        const fake = makeFake(() => body())
        const error = failureOf(yield* runCreate(fake, { retryPolicy: { maxRetries: 0 } }))
        assert.strictEqual(error._tag, "InternalProviderError")
        assert.strictEqual((error as ResponsesError.InternalProviderError).status, 500)
        assert.strictEqual(error.requestId, "req_a")
        assert.isAtMost(Buffer.byteLength(error.message, "utf8"), 1024)
      })
    )
  }

  it.effect("A12 at most 64 KiB of an error body is read", () =>
    Effect.gen(function* () {
      let pulled = 0
      const chunk = new Uint8Array(16 * 1024).fill(120)
      const body = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulled += chunk.byteLength
            controller.enqueue(chunk)
            if (pulled >= 2 * 1024 * 1024) controller.close()
          }
        },
        { highWaterMark: 0 }
      )
      const fake = makeFake(() => new Response(body, { status: 500 }))
      const error = failureOf(yield* runCreate(fake, { retryPolicy: { maxRetries: 0 } }))
      assert.strictEqual(error._tag, "InternalProviderError")
      assert.isAtMost(pulled, 64 * 1024 + chunk.byteLength)
    })
  )
})

describe("ResponsesClient: non-streaming responses", () => {
  it.effect("A13 a served model differing from the requested one decodes; provider routing goes out unchanged", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => json(completed({ model: "b/y", surprise: { nested: true }, provider_meta: 1 })))
      const client = yield* clientOver(fake)
      const provider = { order: ["p1", "p2"], allow_fallbacks: true }
      const response = yield* client.create({ model: "a/x", input: "hi", provider })
      assert.strictEqual(response.model, "b/y")
      const sent = JSON.parse(fake.seen[0]!.body)
      assert.deepStrictEqual(sent.provider, provider)
      assert.strictEqual(sent.stream, false)
      assert.strictEqual(sent.model, "a/x")
    })
  )

  it.effect("C08 non-streaming statuses: failed, incomplete, in_progress, cancelled, completed-empty", () =>
    Effect.gen(function* () {
      const run = (body: unknown) =>
        Effect.gen(function* () {
          const fake = makeFake(() => json(body))
          const client = yield* clientOver(fake)
          const exit = yield* Effect.exit(client.create(request))
          return { exit, calls: fake.seen.length }
        })
      const failed = yield* run(completed({ status: "failed", error: { code: "server_error", message: "oops" } }))
      const failedError = failureOf(failed.exit)
      assert.strictEqual(failedError._tag, "ResponseFailed")
      assert.strictEqual((failedError as ResponsesError.ResponseFailed).code, "server_error")
      assert.strictEqual((failedError as ResponsesError.ResponseFailed).responseId, "resp_1")
      assert.strictEqual(failed.calls, 1)

      const incomplete = yield* run(
        completed({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } })
      )
      assert.isTrue(Exit.isSuccess(incomplete.exit))
      assert.strictEqual(Exit.isSuccess(incomplete.exit) ? incomplete.exit.value.status : "", "incomplete")

      for (const status of ["in_progress", "cancelled", "queued"]) {
        const result = yield* run(completed({ status }))
        const error = failureOf(result.exit)
        assert.strictEqual(error._tag, "StreamProtocolError")
        assert.strictEqual((error as ResponsesError.StreamProtocolError).reason, "UnexpectedStatus")
        assert.strictEqual((error as ResponsesError.StreamProtocolError).eventIndex, -1)
        assert.strictEqual(result.calls, 1)
      }

      // the agent maps an empty completed output to ModelBehavior{EmptyOutput}; the client returns it as is
      const empty = yield* run(completed({ output: [] }))
      assert.isTrue(Exit.isSuccess(empty.exit))
    })
  )

  it.effect("C08 a malformed body is a ResponseDecodeError naming the path; invalid JSON too", () =>
    Effect.gen(function* () {
      const bad = makeFake(() =>
        json(completed({ output: [{ type: "message", id: 7, role: "assistant", content: [] }] }))
      )
      const error = failureOf(yield* runCreate(bad))
      assert.strictEqual(error._tag, "ResponseDecodeError")
      assert.strictEqual((error as ResponsesError.ResponseDecodeError).path, "output[0].id")
      assert.strictEqual(bad.seen.length, 1)

      const notJson = makeFake(
        () => new Response('{"id":"resp_', { status: 200, headers: { "content-type": "application/json" } })
      )
      const second = failureOf(yield* runCreate(notJson))
      assert.strictEqual(second._tag, "ResponseDecodeError")
    })
  )

  it.effect("G04 a 3xx is a typed error and is never followed", () =>
    Effect.gen(function* () {
      for (const status of [302, 307]) {
        const fake = makeFake(() => new Response(null, { status, headers: { location: "http://169.254.169.254/" } }))
        const error = failureOf(yield* runCreate(fake))
        assert.strictEqual(fake.seen.length, 1)
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.strictEqual((error as ResponsesError.InvalidRequestError).status, status)
        assert.strictEqual((error as ResponsesError.InvalidRequestError).code, "redirect_not_followed")
      }
    })
  )
})

describe("ResponsesClient: secrets and configuration", () => {
  it.effect(
    "G02 custom auth header: the key goes in x-gateway-key, never in authorization, and is redacted in errors",
    () =>
      Effect.gen(function* () {
        const fake = makeFake(() =>
          errorResponse(500, {}, { message: `bad key ${canaryKey} (…${canaryKey.slice(-8)})`, type: "server_error" })
        )
        const error = failureOf(yield* runCreate(fake, { authHeader: "x-gateway-key", retryPolicy: { maxRetries: 0 } }))
        assert.strictEqual(fake.seen[0]!.headers["x-gateway-key"], canaryKey)
        assert.isUndefined(fake.seen[0]!.headers.authorization)
        assert.notInclude(error.message, canaryKey)
        assert.notInclude(error.message, canaryKey.slice(-8))
        assert.include(error.message, "<redacted>")
      })
  )

  it.effect("G02 a ?key= in the base URL is sent as a query parameter and redacted from errors", () =>
    Effect.gen(function* () {
      const urlKey = `gw-${canaryKey}`
      const fake = makeFake(() => errorResponse(500, {}, { message: `no access for ${urlKey}` }))
      const error = failureOf(
        yield* runCreate(fake, {
          baseUrl: `https://fake.test/v1?key=${urlKey}`,
          apiKey: undefined,
          retryPolicy: { maxRetries: 0 }
        })
      )
      assert.strictEqual(fake.seen[0]!.url, `https://fake.test/v1/responses?key=${urlKey}`)
      assert.notInclude(error.message, urlKey)
    })
  )

  it.effect(
    "G02 a non-loopback http:// base URL with a key is refused; loopback or allowInsecureTransport is fine",
    () =>
      Effect.gen(function* () {
        const fake = makeFake(() => json(completed()))
        const refused = yield* Effect.exit(clientOver(fake, { baseUrl: "http://api.example.test/v1" }))
        assert.isTrue(Exit.isFailure(refused))
        const error = Cause.findErrorOption((refused as Exit.Failure<unknown, { _tag: string }>).cause)
        assert.strictEqual(error._tag === "Some" ? error.value._tag : "", "InvalidConfiguration")
        const urlKey = yield* Effect.exit(
          clientOver(fake, { baseUrl: "http://api.example.test/v1?key=secret-value-1", apiKey: undefined })
        )
        assert.isTrue(Exit.isFailure(urlKey))
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(clientOver(fake, { baseUrl: "http://127.0.0.1:1/v1" }))))
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(clientOver(fake, { baseUrl: "http://localhost/v1" }))))
        assert.isTrue(
          Exit.isSuccess(
            yield* Effect.exit(
              clientOver(fake, { baseUrl: "http://api.example.test/v1", allowInsecureTransport: true })
            )
          )
        )
        assert.isTrue(
          Exit.isSuccess(
            yield* Effect.exit(clientOver(fake, { baseUrl: "http://api.example.test/v1", apiKey: undefined }))
          )
        )
      })
  )

  it.effect("G01 a 401 whose body echoes the key (full, or masked to its last 8 characters) never leaks it", () =>
    Effect.gen(function* () {
      for (const echoed of [canaryKey, `sk-volley-****${canaryKey.slice(-8)}`]) {
        const fake = makeFake(() =>
          errorResponse(
            401,
            {},
            { message: `Incorrect API key provided: ${echoed}`, type: "invalid_request_error", code: "invalid_api_key" }
          )
        )
        const error = failureOf(yield* runCreate(fake))
        assert.strictEqual(error._tag, "AuthenticationError")
        for (const rendering of [
          String(error),
          JSON.stringify(error),
          error.message,
          Cause.pretty(Cause.fail(error))
        ]) {
          assert.notInclude(rendering, canaryKey)
          assert.notInclude(rendering, canaryKey.slice(-8))
        }
      }
    })
  )

  it.effect("G01 a server echoing the Authorization header into x-request-id: no error type carries the key", () =>
    Effect.gen(function* () {
      const sse = (body: string, echo: string) =>
        new Response(body, { headers: { "content-type": "text/event-stream", "x-request-id": echo } })
      const created = `data: ${JSON.stringify({ type: "response.created", response: { id: "resp_1" } })}\n\n`
      const replies: Record<string, (echo: string) => Response> = {
        AuthenticationError: (echo) => errorResponse(401, { "x-request-id": echo }),
        InternalProviderError: (echo) => errorResponse(500, { "x-request-id": echo }),
        ResponseDecodeError: (echo) =>
          new Response("not json", { headers: { "content-type": "application/json", "x-request-id": echo } }),
        StreamTruncated: (echo) => sse(created, echo),
        StreamProtocolError: (echo) => sse(`${created}data: {oops}\n\n`, echo)
      }
      for (const [tag, reply] of Object.entries(replies)) {
        const fake = makeFake((_, req) => reply(req.headers.authorization ?? ""))
        const client = yield* clientOver(fake, { retryPolicy: { maxRetries: 0 } })
        const call = tag.startsWith("Stream") ? Stream.runDrain(client.stream(request)) : client.create(request)
        const error = failureOf(yield* Effect.exit(call))
        assert.strictEqual(error._tag, tag)
        assert.include(error.requestId ?? "", "Bearer", tag)
        for (const rendering of [error.requestId ?? "", String(error), JSON.stringify(error)]) {
          assert.notInclude(rendering, canaryKey, tag)
          assert.notInclude(rendering, canaryKey.slice(-8), tag)
        }
      }
    })
  )

  it.effect("G01 a failed response echoing the key in its error and output: the partial is redacted too", () =>
    Effect.gen(function* () {
      const fake = makeFake(() =>
        json(
          completed({
            status: "failed",
            error: { code: "server_error", message: `bad key ${canaryKey}` },
            output: [
              {
                type: "message",
                id: "msg_1",
                role: "assistant",
                content: [{ type: "output_text", text: `your key is ${canaryKey}` }]
              }
            ]
          })
        )
      )
      const error = failureOf(yield* runCreate(fake))
      assert.strictEqual(error._tag, "ResponseFailed")
      assert.isDefined((error as ResponsesError.ResponseFailed).partial)
      for (const rendering of [String(error), JSON.stringify(error), Cause.pretty(Cause.fail(error))]) {
        assert.notInclude(rendering, canaryKey)
        assert.notInclude(rendering, canaryKey.slice(-8))
      }
    })
  )

  it.effect("G01 retries are logged at debug level, redacted", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.map(Logger.formatJson, (line) => {
        lines.push(line)
      })
      const fake = makeFake((call) =>
        call === 0 ? errorResponse(500, { "retry-after-ms": "0" }, { message: `key ${canaryKey}` }) : json(completed())
      )
      const client = yield* clientOver(fake)
      yield* client
        .create(request)
        .pipe(Effect.provide(Logger.layer([capture])), Effect.provideService(References.MinimumLogLevel, "Debug"))
      assert.strictEqual(lines.length, 1)
      assert.include(lines[0]!, "volley: retrying the Responses request")
      assert.notInclude(lines[0]!, canaryKey)
      assert.notInclude(lines[0]!, canaryKey.slice(-8))
    })
  )

  it.effect("G01 the options object prints the key as <redacted>", () =>
    Effect.sync(() => {
      const options = { apiKey: Redacted.make(canaryKey) }
      assert.notInclude(String(options.apiKey), canaryKey)
      assert.notInclude(JSON.stringify(options), canaryKey)
    })
  )
})

describe("ResponsesClient.stream: content types", () => {
  it.effect("B12 stream:true answered with application/json: the JSON is accepted and replayed as events", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => json(completed()))
      const client = yield* clientOver(fake)
      const events = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        events.map((event) => event.type),
        ["response.created", "response.output_item.added", "response.output_item.done", "response.completed"]
      )
      assert.strictEqual(JSON.parse(fake.seen[0]!.body).stream, true)
      assert.strictEqual(fake.seen[0]!.headers.accept, "text/event-stream")
    })
  )

  it.effect(
    "B12 stream:true answered with 200 text/html: StreamProtocolError{UnexpectedContentType}, excerpt <= 200 chars",
    () =>
      Effect.gen(function* () {
        const fake = makeFake(
          () =>
            new Response(`<html>${"captive portal ".repeat(100)}</html>`, {
              status: 200,
              headers: { "content-type": "text/html" }
            })
        )
        const client = yield* clientOver(fake)
        const exit = yield* Effect.exit(Stream.runCollect(client.stream(request)))
        const error = failureOf(exit)
        recordError(error)
        assert.strictEqual(error._tag, "StreamProtocolError")
        assert.strictEqual((error as ResponsesError.StreamProtocolError).reason, "UnexpectedContentType")
        assert.isAtMost(error.message.length, 300)
        assert.strictEqual(fake.seen.length, 1)
      })
  )

  it.effect("A01 stream(): a 503 before any event is retried, then the SSE body streams", () =>
    Effect.gen(function* () {
      const sse = [
        `event: response.created\ndata: ${JSON.stringify({ type: "response.created", response: { id: "resp_1", status: "in_progress" } })}\n\n`,
        `event: response.completed\ndata: ${JSON.stringify({ type: "response.completed", response: completed() })}\n\n`
      ].join("")
      const fake = makeFake((call) =>
        call === 0
          ? errorResponse(503, { "retry-after-ms": "0" })
          : new Response(sse, { status: 200, headers: { "content-type": "text/event-stream" } })
      )
      const client = yield* clientOver(fake)
      const events = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        events.map((event) => event.type),
        ["response.created", "response.completed"]
      )
      assert.strictEqual(fake.seen.length, 2)
    })
  )
})

describe("G01 canary sweep", () => {
  it("G01 canary sweep: no error produced above contains the key or its last 8 characters", () => {
    assert.isAbove(recordedCount(), 20)
    assert.deepStrictEqual(canaryHits(), [])
  })
})
