/**
 * `RetryPolicy`: when and how long to wait before trying again, as a plain settings record in a
 * `Context.Reference` (defaults: docs/reliability.md, Defaults) and as an Effect `Schedule` built
 * from it (`schedule(policy)`), which the client, the agent's turn restarts and tool retries share.
 * The schedule's input is the failed attempt (`Input`: any error with `retryable`, and optionally
 * `attempts` and an advertised `retryAfter`), so Retry-After is a floor read from the failure itself.
 * Swap the record per client (`ResponsesClient.Options.retryPolicy`), per run
 * (`Effect.provideService(RetryPolicy, …)`) or per app (`RetryPolicy.layer({ maxRetries: 5 })`), or
 * hand the client any `Schedule` (`Options.retrySchedule`). Jitter draws come from Effect's `Random`.
 * Gotcha: `maxRetries` bounds *all* layers: an input's `attempts` counts attempts across layers, and
 * the schedule stops once `maxRetries + 1` are spent, however many steps it took itself.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { RetryAfter } from "./internal/retryAfter.ts"

/** The retry settings. Every duration is in milliseconds. */
export interface RetryPolicy {
  /** Retries after the first attempt (2: at most 3 HTTP attempts for one logical call, across layers). */
  readonly maxRetries: number
  /** Backoff before retry 0 (500 ms); doubles per retry. */
  readonly initialDelayMs: number
  /** Backoff ceiling (8 s). */
  readonly maxDelayMs: number
  /** Backoff jitter: the delay is multiplied by j, uniform in (1 - jitter, 1] (0.25). */
  readonly jitter: number
  /** Largest advertised Retry-After honoured (60 s); above it the call fails at once. */
  readonly maxRetryAfterMs: number
  /** Extra wait on top of an advertised Retry-After, as a fraction of it (0.25: wait in [d, 1.25 d]). */
  readonly retryAfterJitter: number
  /** Statuses retried without a server override (408, 409, 429, 500, 502, 503, 504). */
  readonly retryStatuses: ReadonlyArray<number>
}

/** The defaults of docs/reliability.md, Defaults (openai-node's values). */
export const defaults: RetryPolicy = {
  maxRetries: 2,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
  jitter: 0.25,
  maxRetryAfterMs: 60_000,
  retryAfterJitter: 0.25,
  retryStatuses: [408, 409, 429, 500, 502, 503, 504]
}

/** The policy in effect for the current fiber (defaults unless provided). */
export const RetryPolicy: Context.Reference<RetryPolicy> = Context.Reference<RetryPolicy>("@volley/core/RetryPolicy", {
  defaultValue: () => defaults
})

/** The defaults with some settings replaced. */
export const make = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...defaults, ...overrides })

/** A policy that never retries (one attempt per call). */
export const none: RetryPolicy = make({ maxRetries: 0 })

/** Provides `make(overrides)` as the current policy. */
export const layer = (overrides: Partial<RetryPolicy> = {}): Layer.Layer<never> =>
  Layer.succeed(RetryPolicy, make(overrides))

/**
 * Default backoff before retry `retry` (0-based): `min(initial · 2^retry, max) · j`, with
 * `j = 1 - jitter · u` for a uniform draw `u` in [0, 1), so j lies in (1 - jitter, 1].
 */
export const backoffMs = (policy: RetryPolicy, retry: number, u: number): number => {
  const base = Math.min(policy.initialDelayMs * 2 ** Math.max(0, retry), policy.maxDelayMs)
  return base * (1 - policy.jitter * clampUnit(u))
}

/** Wait for an advertised delay `d`: a floor with up to `retryAfterJitter` on top, capped at the ceiling. */
export const retryAfterWaitMs = (policy: RetryPolicy, advertisedMs: number, u: number): number =>
  Math.max(advertisedMs, Math.min(advertisedMs * (1 + policy.retryAfterJitter * clampUnit(u)), policy.maxRetryAfterMs))

/** What the retry loop does after a failed attempt. */
export type Decision =
  | {
      readonly _tag: "Retry"
      /** How long to wait before the next attempt. */
      readonly delayMs: number
      /** Whether the delay came from the server's Retry-After or from the default backoff. */
      readonly source: "retry-after-ms" | "retry-after" | "backoff"
    }
  | {
      readonly _tag: "Stop"
      /** Why there is no further attempt. */
      readonly reason: "NotRetryable" | "BudgetSpent" | "RetryAfterTooLong"
    }

/** What `decide` knows about the failed attempt. */
export interface DecideInput {
  /** Whether the failure may be retried (status class, transport failure, `x-should-retry`). */
  readonly retryable: boolean
  /** HTTP attempts made so far for this logical call, across all layers (>= 1). */
  readonly attempts: number
  /** The delay the server advertised, when it did. */
  readonly retryAfter?: RetryAfter | undefined
}

/** Decides whether and when to try again; `u` is a uniform draw in [0, 1) for the jitter. */
export const decide = (policy: RetryPolicy, input: DecideInput, u: number): Decision => {
  if (!input.retryable) return { _tag: "Stop", reason: "NotRetryable" }
  if (input.retryAfter !== undefined && input.retryAfter.delayMs > policy.maxRetryAfterMs) {
    return { _tag: "Stop", reason: "RetryAfterTooLong" }
  }
  if (input.attempts >= policy.maxRetries + 1) return { _tag: "Stop", reason: "BudgetSpent" }
  if (input.retryAfter !== undefined) {
    return {
      _tag: "Retry",
      delayMs: retryAfterWaitMs(policy, input.retryAfter.delayMs, u),
      source: input.retryAfter.source
    }
  }
  return { _tag: "Retry", delayMs: backoffMs(policy, input.attempts - 1, u), source: "backoff" }
}

/**
 * What the retry schedule sees of one failed attempt. Every `ResponsesError` is one (a
 * `RateLimitError` carries its `retryAfter`); the client passes a richer `Attempt`.
 */
export interface Input {
  /** Whether the failure may be retried; a non-retryable input stops the schedule. */
  readonly retryable: boolean
  /** Attempts made so far for this logical call, across layers; absent: the schedule's own step count. */
  readonly attempts?: number | undefined
  /** The delay the server advertised for this failure, in milliseconds (a floor for the next wait). */
  readonly retryAfter?: number | undefined
  /** Which header the advertised delay came from (`retry-after` when absent). */
  readonly retryAfterSource?: RetryAfter["source"] | undefined
}

/** The client's schedule input: the failed attempt's error, stamped with the attempts so far. */
export interface Attempt<E = unknown> extends Input {
  /** The attempt's typed error. */
  readonly error: E
  /** HTTP attempts made so far for this logical call, across layers (>= 1). */
  readonly attempts: number
}

/**
 * The policy as a `Schedule` over failed attempts: each step calls `decide` (Retry-After from the
 * input as a floor with jitter, stop above `maxRetryAfterMs`, backoff otherwise) and emits the
 * `Retry` decision; it ends with the `Stop` decision. Use it with `Effect.retry({ schedule })`, `Stream.retry` or by stepping it.
 */
export const schedule = (policy: RetryPolicy = defaults): Schedule.Schedule<Decision, Input> =>
  Schedule.fromStepWithMetadata(
    Effect.succeed((meta: Schedule.InputMetadata<Input>) => {
      const input = meta.input
      const retryAfter =
        input.retryAfter === undefined
          ? undefined
          : { delayMs: input.retryAfter, source: input.retryAfterSource ?? ("retry-after" as const) }
      return Effect.flatMap(Random.next, (u) => {
        const decision = decide(
          policy,
          { retryable: input.retryable, attempts: input.attempts ?? meta.attempt, retryAfter },
          u
        )
        return decision._tag === "Stop"
          ? Cause.done(decision)
          : Effect.succeed([decision, Duration.millis(decision.delayMs)] as [Decision, Duration.Duration])
      })
    })
  )

/** The schedule of the policy in effect for the current fiber. */
export const current: Effect.Effect<Schedule.Schedule<Decision, Input>> = Effect.map(
  Effect.service(RetryPolicy),
  (policy) => schedule(policy)
)

// Draws are kept a hair below 1 so that rounding can never reach the excluded bound j = 1 - jitter.
const maxDraw = 1 - 2 ** -20
const clampUnit = (u: number): number => (Number.isFinite(u) ? Math.min(Math.max(u, 0), maxDraw) : 0)
