/**
 * The loop's decisions as small pure functions over data: `viewOf` parses a model response once
 * (status, output, function calls), `decide` looks at that view and returns the tagged `NextStep`; `beforeRequest` guards the next model call (max turns, budgets);
 * `afterTools` rules on a finished tool batch (malformed-argument turns); `planCalls` marks
 * repeated identical calls (E02). Nothing here performs effects, reads a clock or decides on a
 * finish-reason string: the shape of the output items is the only signal.
 * Gotcha: any `function_call` wins over text in the same response (C07), but an incomplete response
 * never runs its calls (C04), because its batch of calls may be unfinished; a handoff call wins over
 * the other calls of its response (and over approvals), but not over a spent budget.
 */
import type { ResponsesSchema } from "@volley/core"
import type { BudgetKind, RunUsage } from "../StopReason.ts"
import { refusalText } from "./history.ts"

/** Token budgets of a run; absent means unlimited. */
export interface TokenBudgets {
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
  readonly totalTokens?: number | undefined
}

/** What to do after a model response. */
export type NextStep =
  /** Run every call (in order, bounded in parallel), then call the model again. */
  | { readonly _tag: "RunTools"; readonly calls: ReadonlyArray<ResponsesSchema.FunctionCall> }
  /** Hand the run to another agent (`call` is the first handoff call; no other call of the response runs). */
  | { readonly _tag: "Handoff"; readonly call: ResponsesSchema.FunctionCall }
  /** Run `run`, then pause the run until a human decides on `awaiting`. */
  | {
      readonly _tag: "NeedsApproval"
      readonly run: ReadonlyArray<ResponsesSchema.FunctionCall>
      readonly awaiting: ReadonlyArray<ResponsesSchema.FunctionCall>
    }
  /** The model answered: a message and no calls. */
  | { readonly _tag: "Final"; readonly text: string }
  /** A budget is spent: stop before running anything or calling the model again. */
  | { readonly _tag: "LimitReached"; readonly budget: BudgetKind; readonly used: number; readonly limit: number }
  /** The response is incomplete (C03, C04). */
  | { readonly _tag: "Truncated"; readonly reason: string }
  /** The model refused (C05). */
  | { readonly _tag: "Refused"; readonly text: string }
  /** Completed with nothing usable (C08). */
  | { readonly _tag: "EmptyOutput" }
  /** The response contradicts the protocol (D08, C08). */
  | { readonly _tag: "ProtocolError"; readonly reason: "DuplicateCallId" | "UnexpectedStatus" }
  /** The response failed (`status: "failed"`); `code` is the server's error code. */
  | {
      readonly _tag: "Failed"
      readonly message: string
      readonly code: string | undefined
      readonly responseId: string
    }

/** The first budget `usage` has crossed, if any. */
export const budgetCrossed = (
  usage: RunUsage,
  budgets: TokenBudgets
): { readonly budget: BudgetKind; readonly used: number; readonly limit: number } | undefined => {
  if (budgets.totalTokens !== undefined && usage.totalTokens >= budgets.totalTokens)
    return { budget: "totalTokens", used: usage.totalTokens, limit: budgets.totalTokens }
  if (budgets.inputTokens !== undefined && usage.inputTokens >= budgets.inputTokens)
    return { budget: "inputTokens", used: usage.inputTokens, limit: budgets.inputTokens }
  if (budgets.outputTokens !== undefined && usage.outputTokens >= budgets.outputTokens)
    return { budget: "outputTokens", used: usage.outputTokens, limit: budgets.outputTokens }
  return undefined
}

/** One response, parsed once: what every later step of the turn reads. */
export interface ResponseView {
  readonly response: ResponsesSchema.Response
  readonly status: string
  readonly output: ReadonlyArray<ResponsesSchema.OutputItem>
  /** Every function call of the output, in order. */
  readonly calls: ReadonlyArray<ResponsesSchema.FunctionCall>
  /** The calls that may run: none when the response is incomplete (C04) or failed. */
  readonly runnable: ReadonlyArray<ResponsesSchema.FunctionCall>
}

/** Parses a response into its view (the function calls are extracted here, once). */
export const viewOf = (response: ResponsesSchema.Response): ResponseView => {
  const output = response.output ?? []
  const status = response.status ?? "completed"
  const calls: Array<ResponsesSchema.FunctionCall> = []
  for (const item of output) if (item.type === "function_call") calls.push(item)
  return { response, status, output, calls, runnable: status === "incomplete" || status === "failed" ? [] : calls }
}

/** The inputs of `decide`. */
export interface DecideInput {
  readonly view: ResponseView
  /** The run's usage including this response. */
  readonly usage: RunUsage
  readonly budgets: TokenBudgets
  /** Whether a call must wait for a human decision. */
  readonly needsApproval: (call: ResponsesSchema.FunctionCall) => boolean
  /** Whether a call transfers control to another agent (a handoff); absent: none does. */
  readonly isHandoff?: ((call: ResponsesSchema.FunctionCall) => boolean) | undefined
}

const hasDuplicateCallId = (calls: ReadonlyArray<ResponsesSchema.FunctionCall>): boolean => {
  if (calls.length < 2) return false
  const seen = new Set<string>()
  for (const call of calls) {
    if (seen.has(call.call_id)) return true
    seen.add(call.call_id)
  }
  return false
}

/** The next step after one model response. */
export const decide = ({ view, usage, budgets, needsApproval, isHandoff }: DecideInput): NextStep => {
  const { response, output, status, calls } = view
  if (status === "failed")
    return {
      _tag: "Failed",
      message: response.error?.message ?? "the response failed",
      code: response.error?.code ?? undefined,
      responseId: response.id
    }
  if (status === "incomplete") return { _tag: "Truncated", reason: response.incomplete_details?.reason ?? "unknown" }
  if (status !== "completed") return { _tag: "ProtocolError", reason: "UnexpectedStatus" }
  const refusal = refusalText(output)
  if (refusal !== undefined) return { _tag: "Refused", text: refusal }
  if (calls.length > 0) {
    if (hasDuplicateCallId(calls)) return { _tag: "ProtocolError", reason: "DuplicateCallId" }
    const crossed = budgetCrossed(usage, budgets)
    if (crossed !== undefined) return { _tag: "LimitReached", ...crossed }
    const handoff = isHandoff === undefined ? undefined : calls.find(isHandoff)
    if (handoff !== undefined) return { _tag: "Handoff", call: handoff }
    const awaiting = calls.filter(needsApproval)
    if (awaiting.length === 0) return { _tag: "RunTools", calls }
    return { _tag: "NeedsApproval", run: calls.filter((call) => !awaiting.includes(call)), awaiting }
  }
  let text: string | undefined
  for (const item of output) {
    if (item.type !== "message") continue
    for (const part of item.content) if (part.type === "output_text") text = (text ?? "") + part.text
  }
  return text === undefined ? { _tag: "EmptyOutput" } : { _tag: "Final", text }
}

/** What guards the next model call. */
export type RequestGuard =
  | { readonly _tag: "Proceed" }
  | { readonly _tag: "MaxTurns"; readonly limit: number }
  | { readonly _tag: "LimitReached"; readonly budget: BudgetKind; readonly used: number; readonly limit: number }

/** Whether another model call may be made: `turns` calls were made so far (E01, E03). */
export const beforeRequest = (
  turns: number,
  maxTurns: number,
  usage: RunUsage,
  budgets: TokenBudgets
): RequestGuard => {
  if (turns >= maxTurns) return { _tag: "MaxTurns", limit: maxTurns }
  const crossed = budgetCrossed(usage, budgets)
  return crossed === undefined ? { _tag: "Proceed" } : { _tag: "LimitReached", ...crossed }
}

/** Thresholds for repeated identical calls (E02). */
export interface RepeatPolicy {
  /** From this occurrence on, the tool is not re-run and the model is told (default 3). */
  readonly skipFrom: number
  /** At this occurrence the run stops with `LoopDetected` (default 5). */
  readonly stopAt: number
}

/** How one call of a batch is handled. */
export type CallPlan =
  | { readonly _tag: "Run"; readonly call: ResponsesSchema.FunctionCall; readonly key: string }
  | {
      readonly _tag: "Repeated"
      readonly call: ResponsesSchema.FunctionCall
      readonly key: string
      readonly occurrence: number
    }

/** The plan for a batch, or the call that trips loop detection. */
export type BatchPlan =
  | {
      readonly _tag: "Plan"
      readonly calls: ReadonlyArray<CallPlan>
      /** The updated counts of this batch's keys. */
      readonly counts: ReadonlyMap<string, number>
    }
  | {
      readonly _tag: "LoopDetected"
      readonly call: ResponsesSchema.FunctionCall
      readonly key: string
      readonly occurrence: number
    }

/**
 * Counts identical calls (same `key`: name + argument hash) across the run. `counts` are the
 * occurrences before this batch; the result carries the updated counts of this batch's keys only
 * (set them over the previous ones), so a batch costs O(its calls), not O(the run's distinct calls).
 */
export const planCalls = (
  calls: ReadonlyArray<ResponsesSchema.FunctionCall>,
  keyOf: (call: ResponsesSchema.FunctionCall) => string,
  counts: ReadonlyMap<string, number>,
  policy: RepeatPolicy
): BatchPlan => {
  const next = new Map<string, number>()
  const plans: Array<CallPlan> = []
  for (const call of calls) {
    const key = keyOf(call)
    const occurrence = (next.get(key) ?? counts.get(key) ?? 0) + 1
    next.set(key, occurrence)
    if (occurrence >= policy.stopAt) return { _tag: "LoopDetected", call, key, occurrence }
    plans.push(occurrence >= policy.skipFrom ? { _tag: "Repeated", call, key, occurrence } : { _tag: "Run", call, key })
  }
  return { _tag: "Plan", calls: plans, counts: next }
}

/** Why a response's calls are refused before any of them runs or is asked about approval. */
export type CallScreen =
  | { readonly _tag: "TooManyCalls"; readonly count: number; readonly limit: number }
  | { readonly _tag: "CallIdReused"; readonly callId: string }

/**
 * Screens a response's calls against the per-turn cap and the `call_id`s of earlier turns
 * (`seen`), before anything runs: a reused id would run the tool and only then break the history.
 */
export const screenCalls = (
  calls: ReadonlyArray<ResponsesSchema.FunctionCall>,
  limit: number,
  seen: (callId: string) => boolean
): CallScreen | undefined => {
  if (calls.length > limit) return { _tag: "TooManyCalls", count: calls.length, limit }
  for (const call of calls) if (seen(call.call_id)) return { _tag: "CallIdReused", callId: call.call_id }
  return undefined
}

/** Whether the run must stop after a batch with malformed arguments (D01). */
export const afterTools = (malformedTurns: number, limit: number): "Continue" | "ToolArgumentsInvalid" =>
  malformedTurns >= limit ? "ToolArgumentsInvalid" : "Continue"
