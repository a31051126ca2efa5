/**
 * The contract between `ResponsesClient` and its two transports: what the client prepares once
 * (`Endpoint`), per call (`CallInput`, `CallState`) and what one attempt gives back (`Transport`,
 * `StreamStart`), plus the `Timers` seam the direct undici transport runs its timers through.
 * The transports themselves are http.ts (any Effect `HttpClient`) and undici.ts (undici direct);
 * what they decide about a response is pure and shared (responseBody.ts), and the retry loop
 * around them is retry.ts. Gotcha: `nodeTimers` are real Node timers; `timersFor` picks
 * `clockTimers` when the fiber's `Clock` is not the live one, so `TestClock` drives the undici path too.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Pull from "effect/Pull"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type * as ResponseAccumulator from "../ResponseAccumulator.ts"
import type { AttemptCause, ResponsesError } from "../ResponsesError.ts"
import type { Response, StreamEvent } from "../ResponsesSchema.ts"
import type * as RetryPolicy from "../RetryPolicy.ts"
import type { AttemptFailure } from "./errors.ts"

/** Timer settings in milliseconds (docs/reliability.md, Defaults). `undefined` = off. */
export interface Timeouts {
  /** TCP/TLS connect (enforced by the transport: `layerConfig` configures undici with it). */
  readonly connectMs: number
  /** Until the response headers; for JSON calls it also covers reading the body. */
  readonly headersMs: number
  /** Longest gap with no bytes at all on a stream (comments and keepalives reset it). */
  readonly streamIdleMs: number
  /** Longest gap between content events (keepalives do not reset it). */
  readonly contentIdleMs: number | undefined
  /** Deadline for the whole call, retries and stream included. */
  readonly totalMs: number | undefined
}

/** Everything an attempt needs, prepared once when the client is built. */
export interface Endpoint {
  /** `{baseUrl}/responses` without its query string. */
  readonly url: string
  /** Query parameters of the base URL, all treated as secrets. */
  readonly urlParams: ReadonlyArray<readonly [string, Redacted.Redacted<string>]>
  /** Header carrying the key, with the full value (e.g. `authorization: Bearer …`). */
  readonly auth: readonly [name: string, value: Redacted.Redacted<string>] | undefined
  /** Extra static headers, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>
  /** Header names never to show anywhere (the redacted list, docs/reliability.md, plus the auth header). */
  readonly redactedHeaderNames: ReadonlyArray<string>
  /** Prepared secret needles for `redactWith`. */
  readonly needles: ReadonlyArray<string>
  /** Attempt counter header name, or `undefined` to send none. */
  readonly attemptHeader: string | undefined
  /** Idempotency key header name, or `undefined` when off. */
  readonly idempotencyHeader: string | undefined
  readonly timeouts: Timeouts
  /** Largest SSE event, in bytes. */
  readonly maxEventSize: number
  /** Largest total of bytes one SSE stream may send. */
  readonly maxStreamBytes: number
  /** Largest JSON body (`create`, or a JSON answer to a stream request). */
  readonly maxJsonBytes: number
}

/** At most this much of an error body is read (64 KiB). */
export const maxErrorBodyBytes = 64 * 1024

/** At most this much of a body with an unexpected content type is read, for the error message (1 KiB). */
export const maxUnexpectedBodyBytes = 1024

/** What one logical call shares between its attempts. */
export interface CallState {
  /** HTTP attempts made so far, across layers (starts at `previousAttempts`). */
  attempts: number
  /** One entry per failed attempt of this call. */
  readonly causes: Array<AttemptCause>
  /** `x-request-id` of the latest response. */
  requestId: string | undefined
  /** Secret needles, redacted from the `partial` response a final error carries. */
  readonly needles: ReadonlyArray<string>
}

/** Per-call inputs of an attempt. */
export interface CallInput {
  /** The JSON body, encoded once per logical call. */
  readonly body: string
  readonly accept: string
  readonly idempotencyKey: string | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
}

/** How one attempt is carried out: over any `HttpClient` (http.ts) or straight on undici (undici.ts). */
export interface Transport {
  /** One attempt of `create`: the decoded response, or the attempt's typed failure. */
  readonly create: (
    policy: RetryPolicy.RetryPolicy,
    input: CallInput,
    resend: number,
    parent: Tracer.Span
  ) => Effect.Effect<Response, AttemptFailure>
  /** One attempt of `stream`; resources live in the `Scope`, which the caller closes when it fails. */
  readonly stream: (attempt: StreamAttempt) => Effect.Effect<StreamStart, AttemptFailure, Scope.Scope>
}

/** The inputs of one stream attempt. */
export interface StreamAttempt {
  readonly policy: RetryPolicy.RetryPolicy
  readonly input: CallInput
  /** 0 for the first HTTP attempt of the logical call. */
  readonly resend: number
  readonly state: CallState
  readonly hooks: StreamHooks
  /** The call's span, parent of the attempt's. */
  readonly parent: Tracer.Span
}

/** A stream attempt that got its first events: the rest is pulled by the consumer, never retried. */
export interface StreamStart {
  readonly first: ReadonlyArray<StreamEvent>
  /** Pulls the next non-empty batch; fails with `Cause.Done` after the last one. */
  readonly rest: Pull.Pull<ReadonlyArray<StreamEvent>, ResponsesError>
}

/** The `rest` of a stream that has nothing more to give. */
export const noMoreEvents: Pull.Pull<ReadonlyArray<StreamEvent>, ResponsesError> = Cause.done()

/** Hooks of a stream attempt (span events; each bounded by the client). */
export interface StreamHooks {
  readonly onRetryField: (ms: number) => void
  readonly onMismatch: (info: ResponseAccumulator.ArgumentsMismatch) => void
  readonly onWarning: (warning: ResponseAccumulator.StreamWarning) => void
}

/** A running timer of the `Timers` seam. */
export interface Timer {
  /** Cancels it (idempotent). */
  readonly stop: () => void
  /** Starts its full delay afresh (a stopped or fired timer runs again). */
  readonly restart: () => void
}

/** The clock of a callback-based transport: real Node timers, or the fiber's `Clock` (TestClock). */
export interface Timers {
  /** The current time in milliseconds. */
  readonly now: () => number
  /** Calls `onFire` once after `ms` unless stopped first. */
  readonly start: (ms: number, onFire: () => void) => Timer
}

/** Real Node timers (`setTimeout`, `refresh`) and `Date.now`: the production path, no fiber per timer. */
export const nodeTimers: Timers = {
  now: Date.now,
  start: (ms, onFire) => {
    const handle = setTimeout(onFire, ms)
    return { stop: () => clearTimeout(handle), restart: () => void handle.refresh() }
  }
}

/** Timers on an Effect `Clock`: each one a fiber sleeping on `clock`, run with `context` (TestClock-driven). */
export const clockTimers = (clock: Clock.Clock, context: Context.Context<never>): Timers => {
  const run = Effect.runForkWith(context)
  return {
    now: () => clock.currentTimeMillisUnsafe(),
    start: (ms, onFire) => {
      let fiber: Fiber.Fiber<void> | undefined
      const stop = () => {
        if (fiber !== undefined) fiber.interruptUnsafe()
        fiber = undefined
      }
      const restart = () => {
        stop()
        const self: Fiber.Fiber<void> = run(
          Effect.map(clock.sleep(Duration.millis(Math.max(0, ms))), () => {
            if (fiber === self) {
              fiber = undefined
              onFire()
            }
          })
        )
        fiber = self
      }
      restart()
      return { stop, restart }
    }
  }
}

/** The timers for the current fiber: Node's with the live `Clock`, otherwise the fiber's `Clock`. */
export const timersFor: Effect.Effect<Timers> = Effect.map(Effect.context<never>(), (context) => {
  const clock = Context.get(context, Clock.Clock)
  return clock === Context.get(Context.empty(), Clock.Clock) ? nodeTimers : clockTimers(clock, context)
})
