/**
 * The client's one retry loop: `retrying` runs an attempt until it succeeds or the retry `Schedule`
 * ends (by default `RetryPolicy.schedule(policy)`; `Options.retrySchedule` swaps it for any
 * `Schedule` over `RetryPolicy.Attempt`), sleeping the schedule's delay with `Effect.sleep`
 * (TestClock-driven) and recording each retry as a span event and a debug log. Both transports run
 * under it. Gotcha: a failure that is not retryable is final whatever the schedule says, and the
 * schedule is built only at the first failure, so a call that succeeds at once pays nothing for it.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import type * as Tracer from "effect/Tracer"
import type { ResponsesError } from "../ResponsesError.ts"
import * as RetryPolicy from "../RetryPolicy.ts"
import { type AttemptFailure, causeOf, withAttempts } from "./errors.ts"
import type { CallState } from "./transport.ts"

/** A retry schedule the client accepts: any `Schedule` over its failed attempts. */
export type RetrySchedule = Schedule.Schedule<unknown, RetryPolicy.Attempt<ResponsesError>>

/**
 * Runs `attempt` until it succeeds or the schedule stops (`schedule`, or the policy's own). Fails
 * with the last attempt's error, stamped with the total `attempts` and one `causes` entry per
 * failed attempt.
 */
export const retrying = <A, R>(
  state: CallState,
  policy: RetryPolicy.RetryPolicy,
  schedule: RetrySchedule | undefined,
  span: Tracer.Span | undefined,
  attempt: (resend: number) => Effect.Effect<A, AttemptFailure, R>
): Effect.Effect<A, ResponsesError, R> => {
  let step: Step | undefined
  // A recursive match rather than a generator loop: the first attempt's success is one step.
  const next: Effect.Effect<A, ResponsesError, R> = Effect.suspend(() =>
    Effect.matchCauseEffect(attempt(state.attempts), {
      onSuccess: (value) => {
        state.attempts += 1
        return Effect.succeed(value)
      },
      onFailure: (cause) => {
        state.attempts += 1
        const failure = Cause.findErrorOption(cause)
        if (failure._tag === "None") return Effect.failCause(cause as Cause.Cause<never>)
        return Effect.flatMap(
          step === undefined ? Schedule.toStep(schedule ?? RetryPolicy.schedule(policy)) : Effect.succeed(step),
          (built) => {
            step = built
            return afterFailure(state, built, span, failure.value, next)
          }
        )
      }
    })
  )
  return next
}

/** The error of the last attempt with the call's attempts, causes and request id. */
export const finalError = <E extends ResponsesError>(state: CallState, error: E): E =>
  withAttempts(error, state.attempts, state.causes, state.requestId, state.needles)

/** A failure of a stream after its attempt succeeded: that attempt's cause is added to the causes. */
export const finalStreamError = <E extends ResponsesError>(state: CallState, error: E): E =>
  withAttempts(error, state.attempts, [...state.causes, causeOf(error, state.attempts)], state.requestId, state.needles)

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

type Step = (
  now: number,
  input: RetryPolicy.Attempt<ResponsesError>
) => Effect.Effect<[unknown, Duration.Duration], unknown>

/** Records a failed attempt and either stops with the final error or waits the schedule's delay and runs `next`. */
const afterFailure = <A, R>(
  state: CallState,
  step: Step,
  span: Tracer.Span | undefined,
  failure: AttemptFailure,
  next: Effect.Effect<A, ResponsesError, R>
): Effect.Effect<A, ResponsesError, R> =>
  Effect.gen(function* () {
    const { error, retryable, retryAfter } = failure
    if (error.requestId !== undefined) state.requestId = error.requestId
    state.causes.push(causeOf(error, state.attempts))
    if (!retryable) return yield* Effect.fail(finalError(state, error))
    const now = yield* Clock.currentTimeMillis
    const stepped = yield* Effect.exit(
      step(now, {
        error,
        retryable,
        attempts: state.attempts,
        retryAfter: retryAfter?.delayMs,
        retryAfterSource: retryAfter?.source
      })
    )
    // the schedule ended (`Cause.Done`) or failed: the attempt's error is final
    if (Exit.isFailure(stepped)) return yield* Effect.fail(finalError(state, error))
    const [output, delay] = stepped.value
    const delayMs = Duration.toMillis(delay)
    const source = sourceOf(output)
    if (span !== undefined) {
      span.event("volley.retry", yield* Clock.currentTimeNanos, {
        "volley.retry.attempt": state.attempts,
        "volley.retry.delay_ms": Math.round(delayMs),
        "volley.retry.source": source,
        "volley.retry.error": error._tag,
        ...(retryAfter === undefined ? {} : { "volley.retry_after.ms": retryAfter.delayMs })
      })
    }
    yield* Effect.logDebug("volley: retrying the Responses request").pipe(
      Effect.annotateLogs({
        attempt: state.attempts,
        delayMs: Math.round(delayMs),
        source,
        error: error._tag,
        // messages are built redacted (errors.ts), so they are safe to log
        message: error.message
      })
    )
    yield* Effect.sleep(delayMs)
    return yield* next
  })

/** The `volley.retry.source` of a step's output: the policy's decision says; any other schedule is "schedule". */
const sourceOf = (output: unknown): string =>
  typeof output === "object" && output !== null && (output as { _tag?: unknown })._tag === "Retry"
    ? String((output as RetryPolicy.Decision & { readonly _tag: "Retry" }).source)
    : "schedule"
