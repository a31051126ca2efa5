/**
 * The mutable state of one run, owned by its fiber: the history, counters, usage and the current
 * tool batch. `makeRun` / `restoreRun` create it, `snapshot` turns it into a serialisable `RunState`,
 * `closeBatch` appends a batch's outputs in call order, and `failWith` ends the run with the error a
 * `Stop` maps to (carrying the run's transcript). Gotcha: everything here is plain code that mutates
 * the run; call it only while the run's fiber runs it.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { ResponsesSchema } from "@volley/core"
import type * as AgentError from "../AgentError.ts"
import type { AgentEvent } from "../AgentEvent.ts"
import type { PendingApproval, RunState } from "../RunState.ts"
import { addUsage, emptyUsage, fromWire, type RunUsage, type StopReason, type TurnUsage } from "../StopReason.ts"
import { cancelledOutput, itemBytes, type PairingState, pairingState } from "./history.ts"
import { errorOf, type Stop } from "./stop.ts"

/** A parent run's usage sink, so sub-agent usage and budgets roll up. */
export interface UsageSink {
  readonly add: (usage: RunUsage) => void
  /** The usage of the whole run tree (root run, all sub-agents). */
  readonly total: () => RunUsage
  /** Where a sub-agent's events go (the parent's stream); absent when nobody listens. */
  readonly forward?: ((event: AgentEvent) => Effect.Effect<void>) | undefined
}

/** The run that is calling tools right now (set while a batch runs). */
export const CurrentRun = Context.Reference<UsageSink | undefined>("@volley/agent/CurrentRun", {
  defaultValue: () => undefined
})

/** The current tool batch: every call of the turn and the outputs computed so far. */
export interface Batch {
  readonly turn: number
  readonly calls: ReadonlyArray<ResponsesSchema.FunctionCall>
  readonly outputs: Map<string, ResponsesSchema.FunctionCallOutput>
  awaiting: ReadonlyArray<PendingApproval>
}

/** The mutable state of one run, owned by its fiber. */
export interface Run {
  readonly runId: string
  readonly history: Array<ResponsesSchema.InputItem>
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

/** A fresh run over the given history. */
export const makeRun = (
  runId: string,
  history: Array<ResponsesSchema.InputItem>,
  parent: UsageSink | undefined
): Run => ({
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
export const sinkOf = (run: Run, forward?: (event: AgentEvent) => Effect.Effect<void>): UsageSink => ({
  ...(forward === undefined ? {} : { forward }),
  add: (usage) => {
    run.usage = addUsage(run.usage, usage)
    run.parent?.add(usage)
  },
  total: () => (run.parent === undefined ? run.usage : run.parent.total())
})

/** The usage the budgets are checked against: the whole run tree's. */
export const rootUsage = (run: Run): RunUsage => (run.parent === undefined ? run.usage : run.parent.total())

/** Records one response's usage on the run (and its parent); the turn's usage. */
export const addTurnUsage = (run: Run, response: ResponsesSchema.Response, model?: string): RunUsage => {
  const usage = fromWire(response.usage)
  run.turnUsage.push(
    model === undefined
      ? { turn: run.turns, responseId: response.id, usage }
      : { turn: run.turns, responseId: response.id, usage, model }
  )
  run.usage = addUsage(run.usage, usage)
  run.parent?.add(usage)
  return usage
}

/** Appends one item to the history (and to its tracked size). */
export const append = (run: Run, item: ResponsesSchema.InputItem): void => {
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

/** Closes `calls` (a response's, already in the history) with "not run" outputs. */
export const closeCalls = (run: Run, calls: ReadonlyArray<ResponsesSchema.FunctionCall>, message: string): void => {
  if (calls.length > 0) run.batch = { turn: run.turns, calls, outputs: new Map(), awaiting: [] }
  closeBatch(run, message)
}

/** The transcript fields every `AgentError` carries, but the message. */
export const transcriptOf = (run: Run) => ({
  runId: run.runId,
  history: run.history.slice(),
  usage: run.usage,
  turns: run.turns
})

/** Fails the run with the error `stop` maps to, carrying the run's transcript. */
export const failWith = (run: Run, stop: Stop): Effect.Effect<never, AgentError.AgentError> =>
  Effect.fail(errorOf(stop, transcriptOf(run)))
