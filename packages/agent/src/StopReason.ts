/**
 * Why a run stopped, and how many tokens it used. `StopReason` is the tagged union of
 * docs/reliability.md, Typed outcomes (`Completed`, `Truncated`, `Refused`, `MaxTurns`, `BudgetExceeded`,
 * `LoopDetected`, `ApprovalRequired`, `Interrupted`); every result, error and `RunEnd` event carries
 * one. `RunUsage` aggregates token counts over a run (sub-agents included) and `TurnUsage` keeps
 * them per model call. Gotcha: these are data, not errors: `Agent.run` turns every reason except
 * `Completed` and `ApprovalRequired` into a typed `AgentError` that carries the same reason.
 */
import * as Schema from "effect/Schema"
import type { ResponsesSchema } from "@volley/core"

/** The run finished with a final answer. */
export const Completed = Schema.TaggedStruct("Completed", {})
/** The response was incomplete (e.g. `max_output_tokens`); nothing from it ran. */
export const Truncated = Schema.TaggedStruct("Truncated", { reason: Schema.String })
/** The model refused; `text` is the refusal. */
export const Refused = Schema.TaggedStruct("Refused", { text: Schema.String })
/** `maxTurns` model calls were made and the model still wanted to go on. */
export const MaxTurns = Schema.TaggedStruct("MaxTurns", { limit: Schema.Number })
/** Which budget ran out. */
export const BudgetKind = Schema.Literals(["inputTokens", "outputTokens", "totalTokens"])
/** Which budget ran out. */
export type BudgetKind = typeof BudgetKind.Type
/** A token budget was crossed; no further request was sent. */
export const BudgetExceeded = Schema.TaggedStruct("BudgetExceeded", {
  budget: BudgetKind,
  used: Schema.Number,
  limit: Schema.Number
})
/** The model repeated an identical call too often. */
export const LoopDetected = Schema.TaggedStruct("LoopDetected", {
  name: Schema.String,
  argsHash: Schema.String,
  repeats: Schema.Number
})
/** The run paused: a tool call needs a human decision (the first pending one is named). */
export const ApprovalRequired = Schema.TaggedStruct("ApprovalRequired", {
  callId: Schema.String,
  name: Schema.String,
  argsHash: Schema.String
})
/** The run was interrupted; pending calls got a cancelled output. */
export const Interrupted = Schema.TaggedStruct("Interrupted", {})

/** Why a run stopped (docs/reliability.md, Typed outcomes). */
export const StopReason = Schema.Union([
  Completed,
  Truncated,
  Refused,
  MaxTurns,
  BudgetExceeded,
  LoopDetected,
  ApprovalRequired,
  Interrupted
])
/** Why a run stopped. */
export type StopReason = typeof StopReason.Type

/** Token usage aggregated over a run (or one turn). */
export const RunUsage = Schema.Struct({
  /** Model calls that returned a response. */
  requests: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  totalTokens: Schema.Number,
  cachedInputTokens: Schema.Number,
  reasoningTokens: Schema.Number
})
/** Token usage aggregated over a run (or one turn). */
export type RunUsage = typeof RunUsage.Type

/** The usage of one model call. */
export const TurnUsage = Schema.Struct({
  turn: Schema.Number,
  responseId: Schema.String,
  usage: RunUsage,
  /** The model that answered, recorded when the turn had a fallback chain (`models`, `FallbackPolicy`). */
  model: Schema.optionalKey(Schema.String)
})
/** The usage of one model call. */
export type TurnUsage = typeof TurnUsage.Type

/** No usage at all. */
export const emptyUsage: RunUsage = {
  requests: 0,
  inputTokens: 0,
  outputTokens: 0,
  totalTokens: 0,
  cachedInputTokens: 0,
  reasoningTokens: 0
}

/** The usage of one response (one request, even when the server sent no usage). */
export const fromWire = (usage: ResponsesSchema.Usage | null | undefined): RunUsage => {
  if (usage === null || usage === undefined) return { ...emptyUsage, requests: 1 }
  return {
    requests: 1,
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens,
    totalTokens: usage.total_tokens ?? usage.input_tokens + usage.output_tokens,
    cachedInputTokens: usage.input_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: usage.output_tokens_details?.reasoning_tokens ?? 0
  }
}

/** The sum of two usages. */
export const addUsage = (a: RunUsage, b: RunUsage): RunUsage => ({
  requests: a.requests + b.requests,
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  totalTokens: a.totalTokens + b.totalTokens,
  cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
  reasoningTokens: a.reasoningTokens + b.reasoningTokens
})
