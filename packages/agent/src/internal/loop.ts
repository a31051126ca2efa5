/**
 * The agent loop: a short `while` around the pure decisions of `decide.ts`. Each iteration guards
 * the next request (max turns, budgets, D07 pairing, `maxInputBytes`), makes one model call (its
 * own step, wrapped by `StepWrapper`), appends the response's items to the history unchanged, and
 * acts on the `NextStep`: run tools, finish, pause for approval, or stop with a typed error.
 * `Run` is the mutable state of one run, owned by its fiber; `snapshot` turns it into a `RunState`.
 * Gotcha: when a run is interrupted, the finalizer closes the current tool batch with a cancelled
 * output per unfinished call, so the saved history always passes the pairing validator.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { RetryPolicy } from "@volley/core"
import type { ResponsesClientShape } from "@volley/core/ResponsesClient"
import { ResponseFailed, StreamProtocolError } from "@volley/core/ResponsesError"
import type {
  CreateRequest,
  FunctionCall,
  FunctionCallOutput,
  FunctionTool,
  InputItem,
  Response,
  TextFormat
} from "@volley/core/ResponsesSchema"
import type { AgentEvent } from "../AgentEvent.ts"
import * as AgentError from "../AgentError.ts"
import { type BudgetsShape, ModelStep, type StepWrapperShape } from "../AgentKnobs.ts"
import type { ApprovalLedgerShape } from "../ApprovalLedger.ts"
import type { Approval, PendingApproval, RunState } from "../RunState.ts"
import { addUsage, emptyUsage, fromWire, type RunUsage, type StopReason, type TurnUsage } from "../StopReason.ts"
import { checkApprovals } from "./approval.ts"
import { afterTools, beforeRequest, type CallPlan, decide, planCalls, screenCalls } from "./decide.ts"
import {
  argsHash,
  asInput,
  cancelledOutput,
  checkPairing,
  errorText,
  itemBytes,
  outputItem,
  type PairingState,
  pairingState
} from "./history.ts"
import { createCall, streamCall } from "./modelCall.ts"
import type { Toolkit } from "@volley/tools"
import { outputText, runBatch } from "./tools.ts"

/** The knobs of a run, read once when it starts. */
export interface Knobs {
  readonly maxTurns: number
  readonly toolConcurrency: number
  readonly budgets: BudgetsShape
  readonly maxInputBytes: number
  readonly retryTurnOnStreamDrop: boolean
  readonly modelRetries: number
  readonly retryPolicy: RetryPolicy.RetryPolicy
  readonly malformedArgumentTurns: number
  readonly repeatedCalls: { readonly skipFrom: number; readonly stopAt: number }
  readonly maxCallsPerTurn: number
  readonly unknownTool: "feedback" | "fail"
  readonly captureContent: boolean
  readonly wrap: StepWrapperShape["wrap"]
}

/** The static part of an agent the loop needs. */
export interface AgentSpec<A> {
  readonly name: string
  readonly model: string
  readonly instructions: string | undefined
  /** Request fields from the model settings (already in wire form). */
  readonly settings: Partial<CreateRequest>
  readonly textFormat: TextFormat | undefined
  /** Decodes the final text; `undefined` means plain text (`A` is `string`). */
  readonly decodeOutput:
    | ((text: string) => { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issue: string })
    | undefined
  readonly approvalSecret: string | undefined
  /** Send `tool_choice: "auto"` once a tool ran, when the settings force a tool (default true). */
  readonly resetToolChoice: boolean
}

/** A parent run's usage sink, so sub-agent usage and budgets roll up. */
export interface UsageSink {
  readonly add: (usage: RunUsage) => void
  /** The usage of the whole run tree (root run, all sub-agents). */
  readonly total: () => RunUsage
}

/** The run that is calling tools right now (set while a batch runs). */
export const CurrentRun = Context.Reference<UsageSink | undefined>("@volley/agent/CurrentRun", {
  defaultValue: () => undefined
})

/** The current tool batch: every call of the turn and the outputs computed so far. */
interface Batch {
  readonly turn: number
  readonly calls: ReadonlyArray<FunctionCall>
  readonly outputs: Map<string, FunctionCallOutput>
  awaiting: ReadonlyArray<PendingApproval>
}

/** The mutable state of one run, owned by its fiber. */
export interface Run {
  readonly runId: string
  readonly history: Array<InputItem>
  /** UTF-8 size of the input, tracked only once `MaxInputBytes` is set. */
  historyBytes: number | undefined
  turns: number
  /** This run's usage plus its sub-agents'. */
  usage: RunUsage
  readonly turnUsage: Array<TurnUsage>
  malformedTurns: number
  readonly repeatCounts: Map<string, number>
  readonly lastOutput: Map<string, string>
  outputRetried: boolean
  /** Whether a tool call of this run produced an output (for `resetToolChoice`). */
  toolsRan: boolean
  batch: Batch | undefined
  readonly parent: UsageSink | undefined
  /** D07 checked so far (the history only grows, so each turn checks only the new items). */
  readonly pairing: PairingState
}

/** What the loop needs besides the spec and the run. */
export interface LoopDeps<R> {
  readonly client: ResponsesClientShape
  readonly toolkit: Toolkit.Runner<R>
  readonly knobs: Knobs
  /** Where `resume` records the decisions it acts on (single use). */
  readonly ledger: ApprovalLedgerShape
  readonly emit: (event: AgentEvent) => Effect.Effect<void>
  /** Emits a batch of a model call's events in order with one operation (default: `emit` per event). */
  readonly emitAll?: ((events: ReadonlyArray<AgentEvent>) => Effect.Effect<void>) | undefined
  readonly mode: "create" | "stream"
}

/** How a loop ends when it does not fail. */
export type LoopOutcome<A> =
  | { readonly _tag: "Completed"; readonly text: string; readonly value: A }
  | { readonly _tag: "Paused"; readonly awaiting: ReadonlyArray<PendingApproval> }

/** A fresh run over the given history. */
export const makeRun = (runId: string, history: Array<InputItem>, parent: UsageSink | undefined): Run => ({
  runId,
  history,
  historyBytes: undefined,
  turns: 0,
  usage: emptyUsage,
  turnUsage: [],
  malformedTurns: 0,
  repeatCounts: new Map(),
  lastOutput: new Map(),
  outputRetried: false,
  toolsRan: false,
  batch: undefined,
  parent,
  pairing: pairingState()
})

/** A run restored from a saved state. */
export const restoreRun = (state: RunState, parent: UsageSink | undefined): Run => {
  const run = makeRun(state.runId, [...state.history], parent)
  run.turns = state.turns
  run.usage = state.usage
  run.turnUsage.push(...state.turnUsage)
  run.malformedTurns = state.malformedTurns
  for (const entry of state.repeats) {
    run.repeatCounts.set(entry.key, entry.count)
    run.lastOutput.set(entry.key, entry.output)
  }
  run.outputRetried = state.outputRetried
  run.toolsRan = state.history.some((item) => item.type === "function_call_output")
  if (state.pending !== undefined) {
    const turn = state.turns
    run.batch = {
      turn,
      calls: state.pending.calls,
      outputs: new Map(state.pending.outputs.map((output) => [output.call_id, output])),
      awaiting: state.pending.awaiting
    }
  }
  return run
}

/** The serialisable state of a run. */
export const snapshot = (agent: string, run: Run, stopReason: StopReason): RunState => {
  const batch = run.batch
  const pending =
    batch === undefined
      ? undefined
      : { calls: batch.calls, outputs: [...batch.outputs.values()], awaiting: batch.awaiting }
  return {
    version: 1,
    runId: run.runId,
    agent,
    turns: run.turns,
    history: run.history.slice(),
    usage: run.usage,
    turnUsage: run.turnUsage.slice(),
    malformedTurns: run.malformedTurns,
    repeats: [...run.repeatCounts].map(([key, count]) => ({ key, count, output: run.lastOutput.get(key) ?? "" })),
    outputRetried: run.outputRetried,
    ...(pending === undefined ? {} : { pending }),
    stopReason
  }
}

/** The usage sink a run gives its tools (sub-agents add their usage to it). */
export const sinkOf = (run: Run): UsageSink => ({
  add: (usage) => {
    run.usage = addUsage(run.usage, usage)
    run.parent?.add(usage)
  },
  total: () => (run.parent === undefined ? run.usage : run.parent.total())
})

const append = (run: Run, item: InputItem): void => {
  run.history.push(item)
  if (run.historyBytes !== undefined) run.historyBytes += itemBytes(item) + 1
}

/** Appends the current batch's outputs in call order (cancelled for unfinished calls) and clears it. */
export const closeBatch = (run: Run, message: string): void => {
  const batch = run.batch
  run.batch = undefined
  if (batch !== undefined)
    for (const call of batch.calls)
      append(run, batch.outputs.get(call.call_id) ?? cancelledOutput(call.call_id, message))
}

/** The transcript fields every `AgentError` carries. */
export const transcript = (run: Run, message: string) => ({
  message,
  runId: run.runId,
  history: run.history.slice(),
  usage: run.usage,
  turns: run.turns
})

const rootUsage = (run: Run): RunUsage => (run.parent === undefined ? run.usage : run.parent.total())

const addTurnUsage = (run: Run, response: Response): RunUsage => {
  const usage = fromWire(response.usage)
  run.turnUsage.push({ turn: run.turns, responseId: response.id, usage })
  run.usage = addUsage(run.usage, usage)
  run.parent?.add(usage)
  return usage
}

const requestFor = <A>(spec: AgentSpec<A>, run: Run, tools: ReadonlyArray<FunctionTool>): CreateRequest => {
  const request: Record<string, unknown> = { ...spec.settings, model: spec.model, input: run.history.slice() }
  if (spec.instructions !== undefined) request.instructions = spec.instructions
  if (tools.length > 0) request.tools = tools
  const choice = spec.settings.tool_choice
  // A forced tool choice would force a tool on every turn: after a tool ran, let the model answer.
  if (spec.resetToolChoice && run.toolsRan && choice !== undefined && choice !== "auto" && choice !== "none")
    request.tool_choice = "auto"
  if (spec.textFormat !== undefined) {
    const text = (spec.settings.text ?? {}) as Record<string, unknown>
    request.text = { ...text, format: spec.textFormat }
  }
  return request as CreateRequest
}

/** One guarded model call; the response's items are appended to the history. */
const modelTurn = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  tools: ReadonlyArray<FunctionTool>
): Effect.Effect<Response, AgentError.AgentError> =>
  Effect.suspend((): Effect.Effect<Response, AgentError.AgentError> => {
    const { knobs } = deps
    const guard = beforeRequest(run.turns, knobs.maxTurns, rootUsage(run), knobs.budgets)
    if (guard._tag === "MaxTurns")
      return Effect.fail(
        new AgentError.MaxTurnsExceeded({
          ...transcript(run, `the run made ${guard.limit} model calls (maxTurns)`),
          limit: guard.limit
        })
      )
    if (guard._tag === "LimitReached")
      return Effect.fail(
        new AgentError.BudgetExceeded({
          ...transcript(run, `the ${guard.budget} budget is spent (${guard.used} of ${guard.limit})`),
          budget: guard.budget,
          used: guard.used,
          limit: guard.limit
        })
      )
    const issue = checkPairing(run.pairing, run.history)
    if (issue !== undefined)
      return Effect.fail(
        new AgentError.InvalidHistory({
          ...transcript(run, `the history is invalid (${issue.issue} for ${issue.callId}); nothing was sent`),
          issue: issue.issue,
          callId: issue.callId
        })
      )
    if (Number.isFinite(knobs.maxInputBytes)) {
      // Sized once in full, then per appended item: the history is never re-encoded per turn.
      run.historyBytes ??= run.history.reduce((sum, item) => sum + itemBytes(item) + 1, 2)
      if (run.historyBytes > knobs.maxInputBytes)
        return Effect.fail(
          new AgentError.ContextTooLarge({
            ...transcript(run, `the input is ${run.historyBytes} bytes, over maxInputBytes ${knobs.maxInputBytes}`),
            bytes: run.historyBytes,
            limit: knobs.maxInputBytes
          })
        )
    }
    const turn = run.turns + 1
    const request = requestFor(spec, run, tools)
    const call =
      deps.mode === "stream"
        ? streamCall(deps.client, request, {
            turn,
            emit: deps.emit,
            emitAll: deps.emitAll,
            retryTurnOnStreamDrop: knobs.retryTurnOnStreamDrop,
            modelRetries: knobs.modelRetries,
            retryPolicy: knobs.retryPolicy
          })
        : createCall(deps.client, request)
    // one frame for the call's outcome, and no step for an event nobody listens to (`run` mode)
    const called = Effect.matchEffect(knobs.wrap({ runId: run.runId, turn, kind: "model" }, call, ModelStep), {
      onFailure: (error) => Effect.fail(new AgentError.ModelError({ ...transcript(run, error.message), error })),
      onSuccess: (response) => {
        run.turns = turn
        const usage = addTurnUsage(run, response)
        return emitThen(
          deps.emit({ _tag: "TurnEnd", turn, responseId: response.id, usage, totalUsage: run.usage }),
          response
        )
      }
    })
    const started = deps.emit({ _tag: "TurnStart", runId: run.runId, turn })
    return isDone(started) ? called : Effect.andThen(started, called)
  })

/** Whether an effect already succeeded (an `Exit`, e.g. `Effect.void`): nothing to run, its value can be read. */
const isDone = <A, E, R>(effect: Effect.Effect<A, E, R>): boolean => Exit.isExit(effect) && Exit.isSuccess(effect)

/** `value` once the emit is done; no step when the emit is a no-op. */
const emitThen = <A>(emitted: Effect.Effect<void>, value: A): Effect.Effect<A> =>
  isDone(emitted) ? Exit.succeed(value) : Effect.as(emitted, value)

const modelError = (run: Run, error: ResponseFailed | StreamProtocolError) =>
  new AgentError.ModelError({ ...transcript(run, error.message), error })

const toolRunError = (run: Run, error: Toolkit.RunnerError): AgentError.AgentError =>
  error._tag === "ToolNotFound"
    ? new AgentError.ToolNotFound({ ...transcript(run, error.message), callId: error.callId, name: error.name })
    : new AgentError.ToolRunFailed({
        ...transcript(run, error.message),
        callId: error.callId,
        name: error.name,
        reason: error._tag
      })

/**
 * Plans and runs a batch; pauses when calls await approval. `undefined` means: call the model again.
 * Plain code that updates the run when called: call it only while the run runs (as the loop does).
 */
const toolTurn = <A, R>(
  run: Run,
  deps: LoopDeps<R>,
  batch: Batch,
  toRun: ReadonlyArray<FunctionCall>
): Effect.Effect<LoopOutcome<A> | undefined, AgentError.AgentError, R> => {
  const { knobs } = deps
  const keyOf = (call: FunctionCall) => `${call.name}\u0000${argsHash(call.arguments)}`
  const plan = planCalls(toRun, keyOf, run.repeatCounts, knobs.repeatedCalls)
  if (plan._tag === "LoopDetected") {
    run.repeatCounts.set(plan.key, plan.occurrence)
    closeBatch(run, "not run: the run stopped (LoopDetected)")
    return Effect.fail(
      new AgentError.LoopDetected({
        ...transcript(run, `'${plan.call.name}' was called ${plan.occurrence} times with identical arguments`),
        name: plan.call.name,
        argsHash: argsHash(plan.call.arguments),
        repeats: plan.occurrence
      })
    )
  }
  for (const [key, count] of plan.counts) run.repeatCounts.set(key, count)
  return runBatch(plan.calls as ReadonlyArray<CallPlan>, {
    runId: run.runId,
    turn: batch.turn,
    toolkit: deps.toolkit,
    concurrency: knobs.toolConcurrency,
    options: { unknownTool: knobs.unknownTool, captureContent: knobs.captureContent },
    wrap: knobs.wrap,
    emit: deps.emit,
    outputs: batch.outputs,
    lastOutput: run.lastOutput
  }).pipe(
    Effect.provideService(CurrentRun, sinkOf(run)),
    Effect.matchEffect({
      onFailure: (error: Toolkit.RunnerError) => {
        closeBatch(run, "not run: the run stopped")
        return Effect.fail(toolRunError(run, error))
      },
      onSuccess: (malformed) => afterBatch<A, R>(run, deps, batch, malformed)
    })
  )
}

/** After a settled batch: pause on pending approvals, else close it and rule on malformed arguments. */
const afterBatch = <A, R>(
  run: Run,
  deps: LoopDeps<R>,
  batch: Batch,
  malformed: boolean
): Effect.Effect<LoopOutcome<A> | undefined, AgentError.AgentError> => {
  if (malformed) run.malformedTurns++
  if (batch.awaiting.length > 0) {
    const awaiting = batch.awaiting
    return Effect.as(
      Effect.forEach(
        awaiting,
        (pending) =>
          deps.emit({
            _tag: "NeedsApproval",
            turn: batch.turn,
            callId: pending.callId,
            name: pending.name,
            arguments: pending.arguments,
            argsHash: pending.argsHash
          }),
        { discard: true }
      ),
      { _tag: "Paused", awaiting } as const
    )
  }
  closeBatch(run, "cancelled")
  run.toolsRan = true
  if (afterTools(run.malformedTurns, deps.knobs.malformedArgumentTurns) === "ToolArgumentsInvalid") {
    const bad = batch.calls[0]!
    return Effect.fail(
      new AgentError.ToolArgumentsInvalid({
        ...transcript(run, `the model sent malformed tool arguments in ${run.malformedTurns} turns`),
        callId: bad.call_id,
        name: bad.name,
        malformedTurns: run.malformedTurns
      })
    )
  }
  return Exit.succeed(undefined)
}

/** Stops on a response-level outcome; the calls of the response (if any) get "not run" outputs. */
const stopAfterResponse = (run: Run, response: Response, message: string): void => {
  const calls = (response.output ?? []).filter((item): item is FunctionCall => item.type === "function_call")
  if (calls.length > 0) run.batch = { turn: run.turns, calls, outputs: new Map(), awaiting: [] }
  closeBatch(run, message)
}

/** Finishes on a final message: decodes structured output, with one correction turn. */
const finish = <A>(
  spec: AgentSpec<A>,
  run: Run,
  text: string
): Effect.Effect<LoopOutcome<A> | undefined, AgentError.AgentError> => {
  if (spec.decodeOutput === undefined) return Effect.succeed({ _tag: "Completed", text, value: text as unknown as A })
  const decoded = spec.decodeOutput(text)
  if (decoded.ok) return Effect.succeed({ _tag: "Completed", text, value: decoded.value })
  if (!run.outputRetried) {
    run.outputRetried = true
    append(run, {
      type: "message",
      role: "user",
      content: `Your answer did not match the required JSON schema: ${decoded.issue.slice(0, 1000)}. Reply again with only a JSON value that matches the schema.`
    })
    return Effect.succeed(undefined)
  }
  return Effect.fail(
    new AgentError.StructuredOutputInvalid({
      ...transcript(run, "the final answer did not match the output schema"),
      text: text.slice(0, 8192),
      issue: decoded.issue.slice(0, 2048)
    })
  )
}

/** Acts on one response. `undefined` means: call the model again. Plain code: a generator only where a step is needed. */
const afterResponse = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  response: Response
): Effect.Effect<LoopOutcome<A> | undefined, AgentError.AgentError, R> => {
  if (response.status === "failed")
    return Effect.fail(
      modelError(
        run,
        new ResponseFailed({
          message: response.error?.message ?? "the response failed",
          retryable: false,
          attempts: 1,
          causes: [],
          responseId: response.id,
          ...(response.error?.code == null ? {} : { code: response.error.code })
        })
      )
    )
  const calls =
    response.status === "incomplete"
      ? []
      : (response.output ?? []).filter((item): item is FunctionCall => item.type === "function_call")
  if (calls.length === 0) return act(spec, run, deps, response, noApprovals)
  const screen = screenCalls(calls, deps.knobs.maxCallsPerTurn, (callId) => run.pairing.calls.has(callId))
  if (screen !== undefined)
    return Effect.fail(
      screen._tag === "TooManyCalls"
        ? new AgentError.ModelBehavior({
            ...transcript(
              run,
              `the model sent ${screen.count} function calls in one response, over maxCallsPerTurn ${screen.limit}; none ran`
            ),
            kind: "TooManyCalls",
            count: screen.count,
            limit: screen.limit
          })
        : new AgentError.ModelBehavior({
            ...transcript(
              run,
              `the model reused call_id ${screen.callId.slice(0, 64)} of an earlier turn; no call of its response ran`
            ),
            kind: "CallIdReused",
            callId: screen.callId
          })
    )
  // which calls wait for a human (in call order); tools without `needsApproval` answer at once (an `Exit`)
  const answers = calls.map((call) => deps.toolkit.needsApproval(call))
  const approvalsOf = (values: ReadonlyArray<boolean>) => {
    const approvals = new Set<string>()
    values.forEach((value, index) => {
      if (value) approvals.add(calls[index]!.call_id)
    })
    return approvals
  }
  if (answers.every(isDone))
    return act(spec, run, deps, response, approvalsOf(answers.map((answer) => (answer as Exit.Success<boolean>).value)))
  return Effect.flatMap(Effect.all(answers), (values) => act(spec, run, deps, response, approvalsOf(values)))
}

const noApprovals: ReadonlySet<string> = new Set()

/** Acts on a response once it is known which of its calls need approval. */
const act = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  response: Response,
  approvals: ReadonlySet<string>
): Effect.Effect<LoopOutcome<A> | undefined, AgentError.AgentError, R> => {
  const output = response.output ?? []
  const step = decide({
    response,
    usage: rootUsage(run),
    budgets: deps.knobs.budgets,
    needsApproval: (call) => approvals.has(call.call_id)
  })
  if (step._tag === "ProtocolError")
    return Effect.fail(
      modelError(
        run,
        new StreamProtocolError({
          message:
            step.reason === "DuplicateCallId" ? "two function calls share a call_id" : "unexpected response status",
          retryable: false,
          attempts: 1,
          causes: [],
          reason: step.reason,
          eventIndex: -1
        })
      )
    )
  for (const item of output) append(run, asInput(item))
  switch (step._tag) {
    case "Final":
      return finish(spec, run, step.text)
    case "RunTools":
    case "NeedsApproval": {
      const toRun = step._tag === "RunTools" ? step.calls : step.run
      const awaiting = step._tag === "RunTools" ? [] : step.awaiting.map(pendingOf)
      const calls = output.filter((item): item is FunctionCall => item.type === "function_call")
      const batch: Batch = { turn: run.turns, calls, outputs: new Map(), awaiting }
      run.batch = batch
      return toolTurn<A, R>(run, deps, batch, toRun)
    }
    case "LimitReached":
      stopAfterResponse(run, response, `not run: the ${step.budget} budget is spent`)
      return Effect.fail(
        new AgentError.BudgetExceeded({
          ...transcript(run, `the ${step.budget} budget is spent (${step.used} of ${step.limit})`),
          budget: step.budget,
          used: step.used,
          limit: step.limit
        })
      )
    case "Truncated":
      stopAfterResponse(run, response, "not run: the response was truncated")
      return Effect.fail(
        new AgentError.Truncated({
          ...transcript(run, `the response is incomplete (${step.reason})`),
          reason: step.reason
        })
      )
    case "Refused":
      stopAfterResponse(run, response, "not run: the model refused")
      return Effect.fail(new AgentError.Refused({ ...transcript(run, "the model refused"), text: step.text }))
    case "EmptyOutput":
      return Effect.fail(
        new AgentError.ModelBehavior({
          ...transcript(run, "the response completed with no usable output"),
          kind: "EmptyOutput"
        })
      )
  }
}

const pendingOf = (call: FunctionCall): PendingApproval => ({
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
    const tools = deps.toolkit.definitions()
    while (true) {
      const response = yield* modelTurn(spec, run, deps, tools)
      const outcome = yield* afterResponse(spec, run, deps, response)
      if (outcome !== undefined) return outcome
    }
  })

/**
 * Continues a paused batch with human decisions: approved calls run, rejected ones get the
 * rejection as their output, undecided ones keep the run paused.
 */
export const resumeBatch = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  approvals: ReadonlyArray<Approval>
): Effect.Effect<LoopOutcome<A> | undefined, AgentError.AgentError, R> =>
  Effect.gen(function* () {
    const batch = run.batch
    if (batch === undefined) {
      if (approvals.length === 0) return undefined
      return yield* new AgentError.InvalidApproval({
        ...transcript(run, "the run is not waiting for an approval"),
        callId: approvals[0]!.callId,
        reason: "NotPaused"
      })
    }
    const checked = checkApprovals(run.runId, batch.awaiting, batch.calls, approvals, spec.approvalSecret)
    if (checked._tag === "Invalid")
      return yield* new AgentError.InvalidApproval({
        ...transcript(run, `approval refused for ${checked.problem.callId} (${checked.problem.reason})`),
        callId: checked.problem.callId,
        reason: checked.problem.reason
      })
    // single use: every decision's nonce is consumed before anything of this resume runs
    for (const approval of checked.decisions.values()) {
      const first = yield* deps.ledger.consume({ nonce: approval.nonce, runId: run.runId, callId: approval.callId })
      if (!first)
        return yield* new AgentError.ApprovalAlreadyUsed({
          ...transcript(run, `the decision for ${approval.callId} was already acted on; nothing ran`),
          callId: approval.callId
        })
    }
    const approved: Array<FunctionCall> = []
    for (const call of batch.calls) {
      const decision = checked.decisions.get(call.call_id)
      if (decision === undefined) continue
      if (decision.decision === "approve") approved.push(call)
      else {
        const output = outputItem(
          call.call_id,
          errorText("rejected", decision.message ?? "A human rejected this call.")
        )
        batch.outputs.set(call.call_id, output)
        yield* deps.emit({
          _tag: "ToolResult",
          turn: batch.turn,
          callId: call.call_id,
          name: call.name,
          output: outputText(output),
          isError: true,
          skipped: "rejected"
        })
      }
    }
    batch.awaiting = batch.awaiting.filter((pending) => !checked.decisions.has(pending.callId))
    return yield* toolTurn<A, R>(run, deps, batch, approved)
  })
