/**
 * Config tests for every default (docs/reliability.md, Defaults) owned by the Responses client: retry budget and
 * statuses, the backoff formula, Retry-After handling, timers, error-body limits, the SSE event cap,
 * redacted headers, idempotency and the attempt header, the default base URL and `layerConfig`'s
 * key rules. Each fails if the default changes; the behavioural ones also check the client uses it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { maxErrorBodyBytes } from "../src/internal/transport.ts"
import * as Redaction from "../src/Redaction.ts"
import type * as ResponsesError from "../src/ResponsesError.ts"
import * as ResponsesClient from "../src/ResponsesClient.ts"
import * as RetryPolicy from "../src/RetryPolicy.ts"
import { canaryKey, clientOver, completed, errorResponse, json, makeFake, request } from "./support/fakeHttp.ts"

describe("Defaults (docs/reliability.md)", () => {
  it("max retries is 2 (3 attempts)", () => {
    assert.strictEqual(RetryPolicy.defaults.maxRetries, 2)
  })

  it("retried statuses are 408, 409, 429, 500, 502, 503, 504", () => {
    assert.deepStrictEqual(RetryPolicy.defaults.retryStatuses, [408, 409, 429, 500, 502, 503, 504])
  })

  it.effect("never retried: 400, 401, 403, 404, 422, 501, 505+ and a quota 429", () =>
    Effect.gen(function* () {
      for (const status of [400, 401, 403, 404, 422, 501, 505, 507, 599]) {
        const fake = makeFake(() => errorResponse(status))
        const client = yield* clientOver(fake)
        const fiber = yield* Effect.exit(client.create(request)).pipe(Effect.forkChild)
        yield* TestClock.adjust("1 minute")
        yield* Fiber.await(fiber)
        assert.strictEqual(fake.seen.length, 1, `status ${status}`)
      }
      const quota = makeFake(() => errorResponse(429, {}, { message: "q", code: "insufficient_quota" }))
      const client = yield* clientOver(quota)
      yield* Effect.exit(client.create(request))
      assert.strictEqual(quota.seen.length, 1)
    })
  )

  it("backoff: 500 ms doubling, 8 s cap, jitter factor in (0.75, 1]", () => {
    assert.strictEqual(RetryPolicy.defaults.initialDelayMs, 500)
    assert.strictEqual(RetryPolicy.defaults.maxDelayMs, 8000)
    assert.strictEqual(RetryPolicy.defaults.jitter, 0.25)
    assert.strictEqual(RetryPolicy.backoffMs(RetryPolicy.defaults, 0, 0), 500)
    assert.isAbove(RetryPolicy.backoffMs(RetryPolicy.defaults, 0, 0.99999), 375)
    assert.strictEqual(RetryPolicy.backoffMs(RetryPolicy.defaults, 1, 0), 1000)
    assert.isAbove(RetryPolicy.backoffMs(RetryPolicy.defaults, 1, 0.99999), 750)
    assert.strictEqual(RetryPolicy.backoffMs(RetryPolicy.defaults, 20, 0), 8000)
  })

  it("maxRetryAfter is 60 s with up to 25 % jitter on top of the advertised delay", () => {
    assert.strictEqual(RetryPolicy.defaults.maxRetryAfterMs, 60_000)
    assert.strictEqual(RetryPolicy.defaults.retryAfterJitter, 0.25)
  })

  it("timers: connect 10 s, headers 10 min, stream idle 5 min, content idle off, total unset", () => {
    assert.deepStrictEqual(ResponsesClient.defaultTimeouts, {
      connectMs: 10_000,
      headersMs: 600_000,
      streamIdleMs: 300_000,
      contentIdleMs: undefined,
      totalMs: undefined
    })
  })

  it.effect("the client applies the 10 min headers timeout by default", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => Effect.never)
      const client = yield* clientOver(fake, { retryPolicy: { maxRetries: 0 } })
      const fiber = yield* client.create(request).pipe(Effect.forkChild)
      yield* TestClock.adjust("599 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      const error = Cause.findErrorOption((exit as Exit.Failure<unknown, ResponsesError.ResponsesError>).cause)
      assert.strictEqual(error._tag === "Some" ? (error.value as ResponsesError.RequestTimeout).timeoutMs : 0, 600_000)
    })
  )

  it("error bodies: read at most 64 KiB, message excerpt at most 1 KiB", () => {
    assert.strictEqual(maxErrorBodyBytes, 64 * 1024)
    assert.strictEqual(Redaction.maxExcerptBytes, 1024)
    const cut = Redaction.excerpt("é".repeat(5000), [])
    assert.isAtMost(Buffer.byteLength(cut, "utf8"), 1024)
  })

  it("max SSE event size is 16 MiB", () => {
    assert.strictEqual(ResponsesClient.defaultMaxEventSize, 16 * 1024 * 1024)
  })

  it("max SSE stream 64 MiB, max JSON body 32 MiB, 256 connections per origin (issue 13)", () => {
    assert.strictEqual(ResponsesClient.defaultMaxStreamBytes, 64 * 1024 * 1024)
    assert.strictEqual(ResponsesClient.defaultMaxJsonBytes, 32 * 1024 * 1024)
    assert.strictEqual(ResponsesClient.defaultMaxConnections, 256)
  })

  it.effect("a JSON body whose content-length is over the 32 MiB default is refused unread (ResponseTooLarge)", () =>
    Effect.gen(function* () {
      const fake = makeFake(
        () =>
          new Response("{}", {
            headers: { "content-type": "application/json", "content-length": String(32 * 1024 * 1024 + 1) }
          })
      )
      const client = yield* clientOver(fake)
      const exit = yield* Effect.exit(client.create(request))
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      assert.strictEqual(error?._tag === "Some" ? error.value._tag : undefined, "ResponseTooLarge")
    })
  )

  it("span events per streamed call: 4 retry: fields, 16 mismatches (the rest counted); redaction depth 64", () => {
    assert.strictEqual(ResponsesClient.maxRetryFieldEvents, 4)
    assert.strictEqual(ResponsesClient.maxMismatchEvents, 16)
    assert.strictEqual(Redaction.maxRedactDepth, 64)
  })

  it("redacted headers: authorization, api-key, x-api-key, x-amz-security-token, cookie, set-cookie", () => {
    assert.deepStrictEqual(Redaction.redactedHeaderNames, [
      "authorization",
      "api-key",
      "x-api-key",
      "x-amz-security-token",
      "cookie",
      "set-cookie"
    ])
    assert.deepStrictEqual(Redaction.redactHeaders({ Authorization: "Bearer x", "X-Other": "y" }), {
      Authorization: "<redacted>",
      "X-Other": "y"
    })
  })

  it.effect("idempotency key off; attempt counter header x-volley-retry-count on every attempt", () =>
    Effect.gen(function* () {
      assert.strictEqual(ResponsesClient.defaultAttemptHeader, "x-volley-retry-count")
      const fake = makeFake((call) => (call === 0 ? errorResponse(503, { "retry-after-ms": "0" }) : json(completed())))
      const client = yield* clientOver(fake)
      yield* client.create(request)
      assert.deepStrictEqual(
        fake.seen.map((seen) => [seen.headers["x-volley-retry-count"], seen.headers["idempotency-key"]]),
        [
          ["0", undefined],
          ["1", undefined]
        ]
      )
    })
  )

  it.effect("content in spans is off and insecure transport is refused by default", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => json(completed()))
      const exit = yield* Effect.exit(clientOver(fake, { baseUrl: "http://example.test/v1" }))
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it("the default base URL is https://api.hao.ai/v1", () => {
    assert.strictEqual(ResponsesClient.defaultBaseUrl, "https://api.hao.ai/v1")
  })
})

describe("ResponsesClient.layerConfig", () => {
  const build = (env: Record<string, string>) =>
    Effect.exit(
      Layer.build(ResponsesClient.layerConfig()).pipe(
        Effect.map((context) => Context.get(context, ResponsesClient.ResponsesClient)),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env)))
      )
    )

  it.effect("reads HAOAI_API_KEY and defaults HAOAI_BASE_URL to https://api.hao.ai/v1", () =>
    Effect.gen(function* () {
      const exit = yield* build({ HAOAI_API_KEY: canaryKey })
      assert.isTrue(Exit.isSuccess(exit))
    })
  )

  it.effect("a missing key is refused for the default (remote) base URL, allowed for loopback", () =>
    Effect.gen(function* () {
      const remote = yield* build({})
      assert.isTrue(Exit.isFailure(remote))
      const error = Cause.findErrorOption((remote as Exit.Failure<unknown, { readonly _tag: string }>).cause)
      assert.strictEqual(error._tag === "Some" ? error.value._tag : "", "InvalidConfiguration")
      assert.isTrue(Exit.isSuccess(yield* build({ HAOAI_BASE_URL: "http://127.0.0.1:8080/v1" })))
      assert.isTrue(Exit.isSuccess(yield* build({ HAOAI_BASE_URL: "http://localhost:8080/v1" })))
    })
  )

  it.effect("takes Config values for the key and base URL instead of the HAOAI_* names", () =>
    Effect.gen(function* () {
      const custom = (env: Record<string, string>) =>
        Effect.exit(
          Layer.build(
            ResponsesClient.layerConfig({
              apiKey: Config.option(Config.Redacted("MY_KEY")),
              baseUrl: Config.String("MY_URL")
            })
          ).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))
        )
      assert.isTrue(Exit.isSuccess(yield* custom({ MY_KEY: canaryKey, MY_URL: "https://gateway.example.test/v1" })))
      // the HAOAI_* names are not read when other Config values are given
      const missing = yield* custom({ HAOAI_API_KEY: canaryKey, MY_URL: "https://gateway.example.test/v1" })
      assert.isTrue(Exit.isFailure(missing))
      const error = Cause.findErrorOption((missing as Exit.Failure<unknown, { readonly message: string }>).cause)
      assert.include(error._tag === "Some" ? error.value.message : "", "the configured API key is not set")
      assert.isTrue(Exit.isFailure(yield* custom({ MY_KEY: canaryKey })), "MY_URL has no default")
    })
  )

  it.effect("G02 an http:// remote HAOAI_BASE_URL with a key is refused", () =>
    Effect.gen(function* () {
      const exit = yield* build({ HAOAI_API_KEY: canaryKey, HAOAI_BASE_URL: "http://gateway.example.test/v1" })
      assert.isTrue(Exit.isFailure(exit))
      assert.notInclude(Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause), canaryKey)
    })
  )
})
