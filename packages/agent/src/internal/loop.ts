/**
 * The agent loop: a short `while` around the pure decisions of `decide.ts`. Each iteration guards
 * the next request (max turns, budgets, D07 pairing, `maxInputBytes`), makes one model call (its
 * own step, wrapped by `StepWrapper`), parses the response once into a `ResponseView`, and acts on
 * `decide`'s `NextStep`: run tools, finish, pause for approval, or stop through `failWith` with the
 * error `stop.ts` maps the step to. The run's mutable state lives in `run.ts`, its static inputs
 * (`AgentSpec`, `Knobs`, `LoopDeps`) and the request it sends in `spec.ts`, the resume of a paused
 * batch in `resume.ts`.
 * Gotcha: when a run is interrupted, the finalizer closes the current tool batch with a cancelled
 * output per unfinished call, so the saved history always passes the pairing validator.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { ResponsesSchema } from "@volley/core"
import type * as AgentError from "../AgentError.ts"
import { ModelStep } from "../AgentKnobs.ts"
import type { PendingApproval } from "../RunState.ts"
import {
  afterTools,
  beforeRequest,
  type CallPlan,
  decide,
  planCalls,
  type ResponseView,
  screenCalls,
  viewOf
} from "./decide.ts"
import { allNow, andThenNow, asNow } from "./fast.ts"
import { argsHash, asInput, checkPairing, itemBytes } from "./history.ts"
import { createCall, streamCall } from "./modelCall.ts"
import {
  addTurnUsage,
  append,
  type Batch,
  CurrentRun,
  closeBatch,
  closeCalls,
  failWith,
  type Run,
  rootUsage,
  sinkOf
} from "./run.ts"
import { type AgentSpec, type LoopDeps, type LoopOutcome, requestFor } from "./spec.ts"
import { notRunMessage } from "./stop.ts"
import { type BatchError, runBatch, type ToolObservers } from "./tools.ts"
import { guardedCall, handOff, handoffTest, hookStep, modelChain, tripped } from "./extras.ts"
import { finish } from "./final.ts"
import * as Handoff from "../Handoff.ts"

/** What one step of the loop ends with: an outcome, or `undefined` to call the model again. */
export type Next<A, R = never> = Effect.Effect<LoopOutcome<A> | undefined, AgentError.AgentError, R>

/** One guarded model call. */
const modelTurn = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  tools: ReadonlyArray<ResponsesSchema.FunctionTool>
): Effect.Effect<ResponsesSchema.Response, AgentError.AgentError> =>
  Effect.suspend(() => {
    const { knobs } = deps
    const guard = beforeRequest(run.turns, knobs.maxTurns, rootUsage(run), knobs.budgets)
    if (guard._tag !== "Proceed") return failWith(run, guard)
    const issue = checkPairing(run.pairing, run.history)
    if (issue !== undefined) return failWith(run, { _tag: "InvalidHistory", ...issue })
    if (Number.isFinite(knobs.maxInputBytes)) {
      // Sized once in full, then per appended item: the history is never re-encoded per turn.
      run.historyBytes ??= run.history.reduce((sum, item) => sum + itemBytes(item) + 1, 2)
      if (run.historyBytes > knobs.maxInputBytes)
        return failWith(run, { _tag: "ContextTooLarge", bytes: run.historyBytes, limit: knobs.maxInputBytes })
    }
    const turn = run.turns + 1
    const request = requestFor(spec, run, tools)
    const attempt = (model: string) => {
      const sent = model === request.model ? request : { ...request, model }
      const call =
        deps.mode === "stream"
          ? streamCall(deps.client, sent, {
              turn,
              emit: deps.emit,
              emitAll: deps.emitAll,
              retryTurnOnStreamDrop: knobs.retryTurnOnStreamDrop,
              modelRetries: knobs.modelRetries,
              retryPolicy: knobs.retryPolicy
            })
          : createCall(deps.client, sent)
      return knobs.wrap({ runId: run.runId, turn, kind: "model" }, call, ModelStep)
    }
    const hooks = knobs.hooks
    const plain = spec.extras === undefined && knobs.fallbackModels.length === 0
    // with a fallback chain, the model that answered is recorded in the turn's usage
    let chosen: string | undefined
    const recordModel = !plain && modelChain(spec, deps).length > 1
    const tracked = (model: string) => {
      if (recordModel) chosen = model
      return attempt(model)
    }
    const called = Effect.matchEffect(
      plain ? attempt(request.model) : guardedCall(spec, run, deps, turn, request, tracked),
      {
        onFailure: (error) =>
          error._tag === "Tripwire" ? tripped(run, deps, error) : failWith(run, { _tag: "ModelError", error }),
        onSuccess: (response) => {
          run.turns = turn
          const usage = addTurnUsage(run, response, chosen)
          const ended = deps.emit({ _tag: "TurnEnd", turn, responseId: response.id, usage, totalUsage: run.usage })
          return hooks === undefined
            ? asNow(ended, response)
            : Effect.as(
                Effect.andThen(
                  ended,
                  hookStep(run, hooks, "onModelResponse", { agent: spec.name, runId: run.runId, turn, response })
                ),
                response
              )
        }
      }
    )
    const started = deps.emit({ _tag: "TurnStart", runId: run.runId, turn })
    if (hooks === undefined) return andThenNow(started, called)
    const onTurnStart = hookStep(run, hooks, "onTurnStart", {
      agent: spec.name,
      runId: run.runId,
      turn,
      model: request.model
    })
    return Effect.andThen(Effect.andThen(started, onTurnStart), called)
  })

/** Plans and runs a batch; pauses when calls await approval. */
export const toolTurn = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  batch: Batch,
  toRun: ReadonlyArray<ResponsesSchema.FunctionCall>
): Next<A, R> =>
  Effect.gen(function* () {
    const { knobs } = deps
    const keyOf = (call: ResponsesSchema.FunctionCall) => `${call.name}\u0000${argsHash(call.arguments)}`
    const plan = planCalls(toRun, keyOf, run.repeatCounts, knobs.repeatedCalls)
    if (plan._tag === "LoopDetected") {
      run.repeatCounts.set(plan.key, plan.occurrence)
      const stop = {
        _tag: "LoopDetected",
        name: plan.call.name,
        argsHash: argsHash(plan.call.arguments),
        repeats: plan.occurrence
      } as const
      closeBatch(run, notRunMessage(stop)!)
      return yield* failWith(run, stop)
    }
    for (const [key, count] of plan.counts) run.repeatCounts.set(key, count)
    const malformed = yield* runBatch(plan.calls as ReadonlyArray<CallPlan>, {
      runId: run.runId,
      turn: batch.turn,
      toolkit: deps.toolkit,
      concurrency: knobs.toolConcurrency,
      options: { unknownTool: knobs.unknownTool, captureContent: knobs.captureContent },
      wrap: knobs.wrap,
      emit: deps.emit,
      outputs: batch.outputs,
      lastOutput: run.lastOutput,
      observe: observersOf(spec, deps)
    }).pipe(
      Effect.provideService(CurrentRun, sinkOf(run, deps.observeTools === true ? deps.emit : undefined)),
      Effect.catch((error: BatchError) => {
        if (error._tag === "Tripwire") {
          closeBatch(run, "not run: a guardrail stopped the run")
          return tripped(run, deps, error)
        }
        if (error._tag === "HookFailure") {
          closeBatch(run, "not run: the run stopped")
          return failWith(run, { _tag: "HookFailed", hook: error.hook, message: error.message })
        }
        const stop = { _tag: "ToolRunError", error } as const
        closeBatch(run, notRunMessage(stop)!)
        return failWith(run, stop)
      })
    )
    if (malformed !== undefined) run.malformedTurns++
    if (batch.awaiting.length > 0) {
      const awaiting = batch.awaiting
      for (const pending of awaiting)
        yield* deps.emit({
          _tag: "NeedsApproval",
          turn: batch.turn,
          callId: pending.callId,
          name: pending.name,
          arguments: pending.arguments,
          argsHash: pending.argsHash
        })
      return { _tag: "Paused", awaiting } as const
    }
    closeBatch(run, "cancelled")
    run.toolsRan = true
    if (
      malformed !== undefined &&
      afterTools(run.malformedTurns, knobs.malformedArgumentTurns) === "ToolArgumentsInvalid"
    )
      return yield* failWith(run, { _tag: "ToolArgumentsInvalid", call: malformed, malformedTurns: run.malformedTurns })
    return undefined
  })

/** The observers of a batch: none on a plain agent in `run` mode. */
const observersOf = <A, R>(spec: AgentSpec<A>, deps: LoopDeps<R>): ToolObservers | undefined => {
  const guardrails = spec.extras?.toolGuardrails ?? []
  const events = deps.observeTools === true
  if (!events && deps.knobs.hooks === undefined && guardrails.length === 0) return undefined
  return { agent: spec.name, events, hooks: deps.knobs.hooks, guardrails }
}

/** Acts on one response: screens its calls, asks which need approval, and follows `decide`. */
const afterResponse = <A, R>(spec: AgentSpec<A>, run: Run, deps: LoopDeps<R>, view: ResponseView): Next<A, R> => {
  const calls = view.runnable
  if (calls.length === 0) return act(spec, run, deps, view, noApprovals)
  const screen = screenCalls(calls, deps.knobs.maxCallsPerTurn, (callId) => run.pairing.calls.has(callId))
  if (screen !== undefined) return failWith(run, screen)
  // which calls wait for a human (in call order); tools without `needsApproval` answer at once
  return Effect.flatMap(allNow(calls.map((call) => deps.toolkit.needsApproval(call))), (values) =>
    act(spec, run, deps, view, new Set(calls.filter((_, index) => values[index]).map((call) => call.call_id)))
  )
}

const noApprovals: ReadonlySet<string> = new Set()

/** Acts on a response once it is known which of its calls need approval. */
const act = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  view: ResponseView,
  approvals: ReadonlySet<string>
): Next<A, R> => {
  const step = decide({
    view,
    usage: rootUsage(run),
    budgets: deps.knobs.budgets,
    needsApproval: (call) => approvals.has(call.call_id),
    isHandoff: handoffTest(spec)
  })
  if (step._tag === "ProtocolError" || step._tag === "Failed") return failWith(run, step)
  if (step._tag === "Handoff") return Exit.succeed(handOff(spec, run, view))
  for (const item of view.output) append(run, asInput(item))
  switch (step._tag) {
    case "Final":
      return finish(spec, run, deps, step.text)
    case "RunTools":
    case "NeedsApproval": {
      const toRun = step._tag === "RunTools" ? step.calls : step.run
      const awaiting = step._tag === "RunTools" ? [] : step.awaiting.map(pendingOf)
      const batch: Batch = { turn: run.turns, calls: view.calls, outputs: new Map(), awaiting }
      run.batch = batch
      return toolTurn<A, R>(spec, run, deps, batch, toRun)
    }
    default: {
      const notRun = notRunMessage(step)
      if (notRun !== undefined) closeCalls(run, view.calls, notRun)
      return failWith(run, step)
    }
  }
}

const pendingOf = (call: ResponsesSchema.FunctionCall): PendingApproval => ({
  callId: call.call_id,
  name: call.name,
  arguments: call.arguments,
  argsHash: argsHash(call.arguments),
  nonce: crypto.randomUUID()
})

/** The loop: model call, decision, tools, until an outcome. */
export const loop = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>
): Effect.Effect<LoopOutcome<A>, AgentError.AgentError, R> =>
  Effect.gen(function* () {
    const handoffs = spec.extras?.handoffs ?? []
    const tools =
      handoffs.length === 0
        ? deps.toolkit.definitions()
        : [...deps.toolkit.definitions(), ...handoffs.map(Handoff.toolDefinition)]
    while (true) {
      const response = yield* modelTurn(spec, run, deps, tools)
      const outcome = yield* afterResponse(spec, run, deps, viewOf(response))
      if (outcome !== undefined) return outcome
    }
  })
