/**
 * The loop's side of the optional features (issue 16): hooks (`hookStep`), model fallback and input
 * guardrails around a model call (`guardedCall`), output guardrails on a final value (`checkFinal`)
 * and the handoff step (`handOff`). Each returns the plain effect unchanged when its feature is not
 * configured, so a plain run pays one field check per site. Gotcha: a tripwire or a failing hook is
 * turned into its `Stop` here, so the run's error carries the transcript like every other.
 */
import * as Effect from "effect/Effect"
import type { ResponsesError, ResponsesSchema } from "@volley/core"
import type * as AgentError from "../AgentError.ts"
import * as FallbackPolicy from "../FallbackPolicy.ts"
import * as Guardrail from "../Guardrail.ts"
import * as Handoff from "../Handoff.ts"
import * as RunHooks from "../RunHooks.ts"
import type { ResponseView } from "./decide.ts"
import { asInput } from "./history.ts"
import { append, failWith, type Run } from "./run.ts"
import type { AgentSpec, LoopDeps, LoopOutcome } from "./spec.ts"

/** Runs one hook (nothing when the run has none); `failRun` failures end the run with `HookFailed`. */
export const hookStep = <K extends RunHooks.HookName>(
  run: Run,
  hooks: RunHooks.RunHooksShape | undefined,
  name: K,
  argument: RunHooks.HookArgument<K>
): Effect.Effect<void, AgentError.AgentError> =>
  hooks === undefined || hooks[name] === undefined
    ? Effect.void
    : Effect.catch(RunHooks.call(hooks, name, argument), (failure) =>
        failWith(run, { _tag: "HookFailed", hook: failure.hook, message: failure.message })
      )

/** The models a turn may use, in order: the agent's (or run's) model, its `models`, the policy's. */
export const modelChain = <A, R>(spec: AgentSpec<A>, deps: LoopDeps<R>): ReadonlyArray<string> =>
  spec.extras === undefined && deps.knobs.fallbackModels.length === 0
    ? [spec.model]
    : FallbackPolicy.chain(
        spec.model,
        FallbackPolicy.make([...(spec.extras?.models ?? []), ...deps.knobs.fallbackModels])
      )

/** A tripwire as the run's error, after its `GuardrailTripped` event. */
export const tripped = <R>(run: Run, deps: LoopDeps<R>, tripwire: Guardrail.Tripwire) =>
  Effect.andThen(
    deps.emit({
      _tag: "GuardrailTripped",
      guardrail: tripwire.guardrail,
      kind: tripwire.kind,
      ...(tripwire.info === undefined ? {} : { info: tripwire.info })
    }),
    failWith(run, { _tag: "GuardrailTripped", guardrail: tripwire.guardrail, kind: tripwire.kind, info: tripwire.info })
  )

/**
 * The model call of a turn with its features: down the fallback chain (`ModelFallback` per move; the
 * model used is annotated on the span), and, on the first call of a fresh run or of a handoff's
 * target, beside the input guardrails.
 */
export const guardedCall = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  turn: number,
  request: { readonly model: string },
  attempt: (model: string) => Effect.Effect<ResponsesSchema.Response, ResponsesError.ResponsesError>
): Effect.Effect<ResponsesSchema.Response, ResponsesError.ResponsesError | Guardrail.Tripwire> => {
  const chain = modelChain(spec, deps)
  const call =
    chain.length === 1
      ? attempt(request.model)
      : FallbackPolicy.withFallback(chain, attempt, {
          onFallback: (move) =>
            Effect.andThen(
              Effect.annotateCurrentSpan({ "volley.agent.fallback_model": move.to }),
              deps.emit({ _tag: "ModelFallback", turn, ...move })
            )
        })
  const guards = spec.extras?.inputGuardrails ?? []
  return run.turns === (deps.inputTurn ?? 0) && guards.length > 0
    ? Guardrail.alongside(guards, { agent: spec.name, input: run.history.slice() }, call)
    : call
}

/** Runs the output guardrails on a completed outcome (nothing when there are none). */
export const checkFinal = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  outcome: LoopOutcome<A>
): Effect.Effect<LoopOutcome<A>, AgentError.AgentError> => {
  const guards = spec.extras?.outputGuardrails ?? []
  if (guards.length === 0 || outcome._tag !== "Completed") return Effect.succeed(outcome)
  return Guardrail.checkOutput(guards, {
    agent: spec.name,
    value: outcome.value,
    text: outcome.text,
    history: run.history.slice()
  }).pipe(
    Effect.as(outcome),
    Effect.catch((tripwire) => tripped(run, deps, tripwire))
  )
}

/** Whether a call is one of the agent's handoffs (undefined: the agent has none). */
export const handoffTest = <A>(spec: AgentSpec<A>): ((call: ResponsesSchema.FunctionCall) => boolean) | undefined => {
  const handoffs = spec.extras?.handoffs
  if (handoffs === undefined || handoffs.length === 0) return undefined
  const names = new Set(handoffs.map((handoff) => handoff.toolName))
  return (call) => names.has(call.name)
}

/** The handoff step: the response and every call's output (the transfer, "not run") join the history. */
export const handOff = <A>(spec: AgentSpec<A>, run: Run, view: ResponseView): LoopOutcome<A> => {
  const plan = Handoff.plan(view.calls, spec.extras?.handoffs ?? [])!
  for (const item of view.output) append(run, asInput(item))
  for (const output of plan.outputs) append(run, output)
  return { _tag: "Handoff", handoff: plan.handoff, turn: run.turns }
}
