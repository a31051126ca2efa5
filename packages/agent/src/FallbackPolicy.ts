/**
 * Client-side model fallback: `FallbackPolicy` names the models to try after the agent's own
 * (`models: [fallback, …]`) and which failures move a turn to the next one: by default a retryable
 * failure that has already spent its retries (`RetriesExhausted`) or a context too large for the model
 * (`ContextTooLarge`: the server's `context_length_exceeded` or the local `MaxInputBytes` check).
 * `withFallback(chain, attempt)` runs one turn down the chain and reports each move (`onFallback`),
 * so the loop can emit `ModelFallback { from, to, reason }`. Gotcha: only the failing turn moves;
 * the next turn starts again from the primary model.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/** Why a turn moved to the next model. */
export type FallbackReason = "RetriesExhausted" | "ContextTooLarge"

/** The fallback models and the rule that moves a turn. */
export interface FallbackPolicyShape {
  /** Models tried, in order, after the agent's (or the run's) model; empty: no fallback. */
  readonly models: ReadonlyArray<string>
  /** Whether a failure moves the turn to the next model, and why. */
  readonly reasonOf: (error: unknown) => FallbackReason | undefined
}

/** A failure's fallback reason: retryable after retries, or a context too large. */
export const defaultReasonOf = (error: unknown): FallbackReason | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const tagged = error as {
    readonly _tag?: unknown
    readonly error?: unknown
    readonly retryable?: unknown
    readonly code?: unknown
  }
  if (tagged._tag === "ContextTooLarge") return "ContextTooLarge"
  // the agent's ModelError wraps the client's error
  if (tagged._tag === "ModelError") return defaultReasonOf(tagged.error)
  if (tagged.code === "context_length_exceeded") return "ContextTooLarge"
  // the client retries retryable failures itself: one that reaches the loop has spent its retries
  return tagged.retryable === true ? "RetriesExhausted" : undefined
}

/** The run's fallback policy (default: no fallback models). */
export const FallbackPolicy = Context.Reference<FallbackPolicyShape>("@volley/agent/FallbackPolicy", {
  defaultValue: () => ({ models: [], reasonOf: defaultReasonOf })
})

/** A policy over `models` with the default rule. */
export const make = (
  models: ReadonlyArray<string>,
  reasonOf: (error: unknown) => FallbackReason | undefined = defaultReasonOf
): FallbackPolicyShape => ({ models, reasonOf })

/** The chain for a turn: `primary` then the policy's models, each once. */
export const chain = (primary: string, policy: FallbackPolicyShape): ReadonlyArray<string> => {
  const models = [primary]
  for (const model of policy.models) if (!models.includes(model)) models.push(model)
  return models
}

/** One move down the chain. */
export interface Fallback {
  readonly from: string
  readonly to: string
  readonly reason: FallbackReason
}

/**
 * Runs `attempt` on the first model of `models`; while it fails for a reason of `reasonOf` and a
 * next model exists, reports the move (`onFallback`) and tries the next. Fails with the last error
 * when the chain is exhausted (or at once for a failure with no reason). A single model is `attempt` itself.
 */
export const withFallback = <A, E, R>(
  models: ReadonlyArray<string>,
  attempt: (model: string) => Effect.Effect<A, E, R>,
  options: {
    readonly reasonOf?: ((error: unknown) => FallbackReason | undefined) | undefined
    readonly onFallback?: ((fallback: Fallback) => Effect.Effect<void>) | undefined
  } = {}
): Effect.Effect<A, E, R> => {
  const reasonOf = options.reasonOf ?? defaultReasonOf
  const from = (index: number): Effect.Effect<A, E, R> => {
    const model = models[index]!
    const next = models[index + 1]
    if (next === undefined) return attempt(model)
    return Effect.catch(attempt(model), (error) => {
      const reason = reasonOf(error)
      if (reason === undefined) return Effect.fail(error)
      const moved = options.onFallback?.({ from: model, to: next, reason }) ?? Effect.void
      return Effect.andThen(moved, from(index + 1))
    })
  }
  return models.length === 0 ? Effect.die("withFallback: no models") : from(0)
}
