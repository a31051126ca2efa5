/**
 * RetryPolicy and its helpers: the backoff formula and its jitter bounds, Retry-After floors and the
 * ceiling, `decide`, swapping the policy per client / per fiber / by layer, deterministic jitter
 * through Effect's `Random`, and the Retry-After header parser (A04's value table).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Duration from "effect/Duration"
import { TestClock } from "effect/testing"
import { parseRetryAfter } from "../src/internal/retryAfter.ts"
import * as RetryPolicy from "../src/RetryPolicy.ts"
import { clientOver, completed, errorResponse, json, makeFake, request } from "./support/fakeHttp.ts"

const fixedRandom = (u: number): Random.Random => ({ nextDoubleUnsafe: () => u, nextIntUnsafe: () => 0 })

describe("RetryPolicy.backoffMs", () => {
  it("A02 retry n waits min(0.5 s · 2^n, 8 s) · j with j in (0.75, 1]", () => {
    const policy = RetryPolicy.defaults
    const bounds = [500, 1000, 2000, 4000, 8000, 8000, 8000]
    bounds.forEach((d, retry) => {
      assert.strictEqual(RetryPolicy.backoffMs(policy, retry, 0), d)
      for (let i = 0; i < 200; i++) {
        const wait = RetryPolicy.backoffMs(policy, retry, Math.random())
        assert.isTrue(wait > 0.75 * d && wait <= d, `retry ${retry}: ${wait}`)
      }
      assert.isAbove(RetryPolicy.backoffMs(policy, retry, 0.999999), 0.75 * d)
      assert.isAbove(RetryPolicy.backoffMs(policy, retry, 0.9999999999999998), 0.75 * d)
      assert.isAbove(RetryPolicy.backoffMs(policy, retry, 1), 0.75 * d)
    })
  })

  it("A04 a Retry-After d is a floor: the wait lies in [d, 1.25 d], capped at maxRetryAfter but never below d", () => {
    const policy = RetryPolicy.defaults
    for (const d of [0, 250, 1500, 20_000, 50_000, 60_000]) {
      for (const u of [0, 0.3, 0.999]) {
        const wait = RetryPolicy.retryAfterWaitMs(policy, d, u)
        assert.isTrue(wait >= d && wait <= Math.max(d, Math.min(1.25 * d, 60_000)), `${d}: ${wait}`)
      }
    }
    assert.strictEqual(RetryPolicy.retryAfterWaitMs(policy, 0, 0.9), 0)
  })
})

describe("RetryPolicy.decide", () => {
  const policy = RetryPolicy.defaults
  it("stops for non-retryable failures, a spent budget, and a Retry-After above the ceiling", () => {
    assert.deepStrictEqual(RetryPolicy.decide(policy, { retryable: false, attempts: 1 }, 0), {
      _tag: "Stop",
      reason: "NotRetryable"
    })
    assert.deepStrictEqual(RetryPolicy.decide(policy, { retryable: true, attempts: 3 }, 0), {
      _tag: "Stop",
      reason: "BudgetSpent"
    })
    assert.deepStrictEqual(
      RetryPolicy.decide(
        policy,
        { retryable: true, attempts: 1, retryAfter: { delayMs: 60_001, source: "retry-after-ms" } },
        0
      ),
      { _tag: "Stop", reason: "RetryAfterTooLong" }
    )
  })

  it("retries with the default backoff, or the Retry-After floor when advertised", () => {
    assert.deepStrictEqual(RetryPolicy.decide(policy, { retryable: true, attempts: 1 }, 0), {
      _tag: "Retry",
      delayMs: 500,
      source: "backoff"
    })
    assert.deepStrictEqual(RetryPolicy.decide(policy, { retryable: true, attempts: 2 }, 0), {
      _tag: "Retry",
      delayMs: 1000,
      source: "backoff"
    })
    assert.deepStrictEqual(
      RetryPolicy.decide(
        policy,
        { retryable: true, attempts: 1, retryAfter: { delayMs: 60_000, source: "retry-after" } },
        0
      ),
      { _tag: "Retry", delayMs: 60_000, source: "retry-after" }
    )
  })
})

describe("RetryPolicy as a swappable policy", () => {
  it.effect("a stubbed Random makes the jitter deterministic (u = 0.5 gives 437.5 ms)", () =>
    Effect.gen(function* () {
      const fake = makeFake((call) => (call === 0 ? errorResponse(503) : json(completed())))
      const client = yield* clientOver(fake)
      const fiber = yield* client
        .create(request)
        .pipe(Effect.provideService(Random.Random, fixedRandom(0.5)), Effect.forkChild)
      yield* TestClock.adjust("437 millis")
      assert.strictEqual(fake.seen.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(fake.seen.length, 2)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
    })
  )

  it.effect(
    "RetryPolicy.layer / provideService changes the policy for the fiber; Options.retryPolicy overrides it",
    () =>
      Effect.gen(function* () {
        const fake = makeFake(() => errorResponse(503))
        const client = yield* clientOver(fake)
        yield* Effect.exit(client.create(request)).pipe(Effect.provide(RetryPolicy.layer({ maxRetries: 0 })))
        assert.strictEqual(fake.seen.length, 1)
        yield* Effect.exit(client.create(request)).pipe(
          Effect.provideService(RetryPolicy.RetryPolicy, RetryPolicy.none)
        )
        assert.strictEqual(fake.seen.length, 2)

        const overridden = makeFake(() => errorResponse(503))
        const five = yield* clientOver(overridden, { retryPolicy: { maxRetries: 5, initialDelayMs: 1 } })
        const fiber = yield* Effect.exit(five.create(request)).pipe(
          Effect.provideService(RetryPolicy.RetryPolicy, RetryPolicy.none),
          Effect.forkChild
        )
        yield* TestClock.adjust("1 second")
        yield* Fiber.await(fiber)
        assert.strictEqual(overridden.seen.length, 6)
      })
  )

  it.effect("custom retry statuses: a policy may stop retrying 409", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => errorResponse(409, {}, { message: "conflict", code: "conflict" }))
      const client = yield* clientOver(fake, { retryPolicy: { retryStatuses: [503] } })
      const exit = yield* Effect.exit(client.create(request))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(fake.seen.length, 1)
    })
  )
})

describe("RetryPolicy.schedule", () => {
  /** Steps `schedule` once per input; each result is the delay in ms, or the decision it ended with. */
  const stepAll = (
    schedule: Schedule.Schedule<RetryPolicy.Decision, RetryPolicy.Input>,
    inputs: ReadonlyArray<RetryPolicy.Input>
  ) =>
    Effect.gen(function* () {
      const step = yield* Schedule.toStep(schedule)
      const out: Array<number | RetryPolicy.Decision> = []
      for (const input of inputs) {
        const exit = yield* Effect.exit(step(0, input))
        if (Exit.isSuccess(exit)) out.push(Duration.toMillis(exit.value[1]))
        else {
          out.push(
            (exit.cause.reasons[0] as unknown as { readonly error: { readonly value: RetryPolicy.Decision } }).error
              .value
          )
          break
        }
      }
      return out
    })

  it.effect("A02 backoff per step from the policy, ending once maxRetries + 1 attempts are spent", () =>
    Effect.gen(function* () {
      const out = yield* stepAll(RetryPolicy.schedule(), [
        { retryable: true },
        { retryable: true },
        { retryable: true }
      ])
      assert.deepStrictEqual(out.slice(0, 2), [500, 1000])
      assert.deepStrictEqual(out[2], { _tag: "Stop", reason: "BudgetSpent" })
    }).pipe(Effect.provideService(Random.Random, fixedRandom(0)))
  )

  it.effect(
    "A04 the input's retryAfter is a floor with up to 25 % jitter; above maxRetryAfterMs the schedule ends",
    () =>
      Effect.gen(function* () {
        const low = yield* stepAll(RetryPolicy.schedule(), [{ retryable: true, retryAfter: 1500 }])
        assert.deepStrictEqual(low, [1500])
        const jittered = yield* stepAll(RetryPolicy.schedule(), [{ retryable: true, retryAfter: 1500 }]).pipe(
          Effect.provideService(Random.Random, fixedRandom(0.5))
        )
        assert.deepStrictEqual(jittered, [1500 * 1.125])
        const tooLong = yield* stepAll(RetryPolicy.schedule(), [{ retryable: true, retryAfter: 60_001 }])
        assert.deepStrictEqual(tooLong, [{ _tag: "Stop", reason: "RetryAfterTooLong" }])
      }).pipe(Effect.provideService(Random.Random, fixedRandom(0)))
  )

  it.effect("a non-retryable input ends it; attempts from other layers count against the same budget", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* stepAll(RetryPolicy.schedule(), [{ retryable: false }]), [
        { _tag: "Stop", reason: "NotRetryable" }
      ])
      assert.deepStrictEqual(yield* stepAll(RetryPolicy.schedule(), [{ retryable: true, attempts: 3 }]), [
        { _tag: "Stop", reason: "BudgetSpent" }
      ])
    })
  )

  it.effect(
    "works with Effect.retry over any error with retryable / retryAfter (a RateLimitError waits its Retry-After)",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const failing = Effect.suspend(() => {
          calls++
          return calls < 3 ? Effect.fail({ retryable: true, retryAfter: 2000 }) : Effect.succeed("ok")
        })
        const fiber = yield* Effect.forkChild(
          Effect.retry(failing, { schedule: RetryPolicy.schedule(RetryPolicy.make({ retryAfterJitter: 0 })) })
        )
        yield* TestClock.adjust("1999 millis")
        assert.strictEqual(calls, 1)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(calls, 2)
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(yield* Fiber.join(fiber), "ok")
      })
  )

  it.effect("the client takes any Schedule (Options.retrySchedule); non-retryable failures are still final", () =>
    Effect.gen(function* () {
      const fake = makeFake(() => errorResponse(503))
      const client = yield* clientOver(fake, {
        retrySchedule: Schedule.spaced("3 seconds").pipe(Schedule.upTo({ times: 4 }))
      })
      const fiber = yield* Effect.forkChild(Effect.exit(client.create(request)))
      yield* TestClock.adjust("2999 millis")
      assert.strictEqual(fake.seen.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(fake.seen.length, 2)
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(fake.seen.length, 5)

      const invalid = makeFake(() => errorResponse(400))
      const strict = yield* clientOver(invalid, { retrySchedule: Schedule.recurs(5) })
      yield* Effect.exit(strict.create(request))
      assert.strictEqual(invalid.seen.length, 1)
    })
  )
})

describe("Retry-After header parsing", () => {
  const at = (headers: Record<string, string>, now = 0) => parseRetryAfter((name) => headers[name], now)

  it("A04 Retry-After parsing: retry-after-ms wins (even 0), then seconds, then an HTTP date", () => {
    assert.deepStrictEqual(at({ "retry-after-ms": "250" }), { delayMs: 250, source: "retry-after-ms" })
    assert.deepStrictEqual(at({ "retry-after-ms": "0", "retry-after": "30" }), { delayMs: 0, source: "retry-after-ms" })
    assert.deepStrictEqual(at({ "retry-after-ms": "12.5" }), { delayMs: 12.5, source: "retry-after-ms" })
    assert.deepStrictEqual(at({ "retry-after": "1.5" }), { delayMs: 1500, source: "retry-after" })
    const now = Date.UTC(2026, 0, 1, 12, 0, 0)
    assert.deepStrictEqual(at({ "retry-after": new Date(now + 20_000).toUTCString() }, now), {
      delayMs: 20_000,
      source: "retry-after"
    })
    // an invalid ms value falls back to retry-after
    assert.deepStrictEqual(at({ "retry-after-ms": "abc", "retry-after": "2" }), {
      delayMs: 2000,
      source: "retry-after"
    })
  })

  it("A04 Retry-After parsing: invalid values are ignored (negative, inf, nan, text, overflow, bad or past dates)", () => {
    const now = Date.UTC(2026, 0, 1)
    for (const value of [
      "-5",
      "inf",
      "Infinity",
      "nan",
      "abc",
      "",
      "0x10",
      "1e3",
      "99999999999999999999",
      "Mon, 99 Foo 2024 99:99:99 GMT",
      new Date(now - 5000).toUTCString()
    ]) {
      assert.isUndefined(at({ "retry-after": value }, now), value)
      assert.isUndefined(at({ "retry-after-ms": value }, now), value)
    }
    assert.isUndefined(at({}))
  })
})

describe("Retry-After parsing properties", () => {
  it("A04 Retry-After parsing: any header text gives undefined or a finite, non-negative delay; never throws", () => {
    fc.assert(
      fc.property(
        fc.option(fc.string()),
        fc.option(fc.string()),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (ms, s, now) => {
          const headers: Record<string, string> = {}
          if (ms !== null) headers["retry-after-ms"] = ms
          if (s !== null) headers["retry-after"] = s
          const parsed = parseRetryAfter((name) => headers[name], now)
          return parsed === undefined || (Number.isFinite(parsed.delayMs) && parsed.delayMs >= 0)
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("A04 Retry-After parsing: decimal seconds and milliseconds round-trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 999 }), (whole, fraction) => {
        const text = `${whole}.${String(fraction).padStart(3, "0")}`
        const seconds = parseRetryAfter((name) => (name === "retry-after" ? text : undefined), 0)
        const millis = parseRetryAfter((name) => (name === "retry-after-ms" ? text : undefined), 0)
        return (
          Math.abs((seconds?.delayMs ?? -1) - Number(text) * 1000) < 1e-6 &&
          Math.abs((millis?.delayMs ?? -1) - Number(text)) < 1e-9
        )
      })
    )
  })

  it("A02 backoff stays within (0.75 d, d] for every retry and draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, u) => {
          const d = Math.min(500 * 2 ** retry, 8000)
          const wait = RetryPolicy.backoffMs(RetryPolicy.defaults, retry, u)
          return wait > 0.75 * d && wait <= d
        }
      )
    )
  })
})
