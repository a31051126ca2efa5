/**
 * `RetryPolicy`: when and how long the Responses client waits before trying a request again, as a
 * plain value in a `Context.Reference` (defaults: docs/reliability.md, Defaults). Swap it per client
 * (`ResponsesClient.Options.retryPolicy`), per run (`Effect.provideService(RetryPolicy, …)`) or per
 * app (`RetryPolicy.layer({ maxRetries: 5 })`); `decide` is the pure function the client's retry
 * loop calls after each failed attempt. Jitter draws come from Effect's `Random`, so a seeded or
 * stubbed `Random` makes tests deterministic, and waits are `Effect.sleep`s that `TestClock` drives.
 * Gotcha: `maxRetries` bounds *all* layers: a caller that already spent attempts passes
 * `previousAttempts`, and the client only uses what is left of `maxRetries + 1`.
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
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

// Draws are kept a hair below 1 so that rounding can never reach the excluded bound j = 1 - jitter.
const maxDraw = 1 - 2 ** -20
const clampUnit = (u: number): number => (Number.isFinite(u) ? Math.min(Math.max(u, 0), maxDraw) : 0)
