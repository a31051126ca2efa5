/**
 * The tool call's fast paths, named: Schema decoding and encoding are usually synchronous, and their
 * result is then already an `Exit`; these combinators read such a value at once instead of running one
 * more fiber step, and fall back to the plain Effect operator otherwise. Measured when introduced
 * (89f73b7): `Toolkit.handle` of one call with a synchronous handler 25 -> 12 us, agent micro bench
 * run c1 110-127 -> 92-94 us/run. Everything else in a call is plain Effect code.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"

/** The effect as a successful `Exit` when it already is one (a synchronous result), else `undefined`. */
export const succeeded = <A, E, R>(effect: Effect.Effect<A, E, R>): Exit.Success<A, E> | undefined =>
  Exit.isExit(effect) && Exit.isSuccess(effect) ? (effect as Exit.Success<A, E>) : undefined

/** `Effect.flatMap`, with no step when `effect` already succeeded. */
export const flatMapNow = <A, E, R, B, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  f: (a: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2> => {
  const ok = succeeded(effect)
  return ok !== undefined ? f(ok.value) : Effect.flatMap(effect, f)
}

/** `Effect.result`, with no step when `effect` already succeeded. */
export const resultNow = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Result.Result<A, E>, never, R> => {
  const ok = succeeded(effect)
  return ok !== undefined ? Exit.succeed(Result.succeed(ok.value)) : Effect.result(effect)
}
