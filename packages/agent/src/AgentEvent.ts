/**
 * The one event vocabulary of a run, as emitted by `agent.stream(input)`: `RunStart`, `TurnStart`,
 * `TextDelta`, `ReasoningDelta`, `ToolCallStart`, `ToolCallArgumentsDelta`, `ToolCallEnd`,
 * `ToolResult`, `TurnRestarted`, `TurnEnd` (with usage), `NeedsApproval`, `Warning` and `RunEnd`
 * (with the stop reason). Every event is a plain tagged object described by a Schema, so a server can
 * forward it to a UI as JSON (`AgentEvent` encodes and decodes). Gotcha: after `TurnRestarted` a
 * UI must drop the partial text and tool-call deltas of that turn: the model call starts again.
 */
import * as Schema from "effect/Schema"
import { RunUsage, StopReason } from "./StopReason.ts"

/** A run started (or resumed from a saved `RunState`). */
export const RunStart = Schema.TaggedStruct("RunStart", {
  runId: Schema.String,
  agent: Schema.String,
  resumed: Schema.Boolean
})
/** A model call starts; `turn` counts model calls from 1. */
export const TurnStart = Schema.TaggedStruct("TurnStart", { runId: Schema.String, turn: Schema.Number })
/** A piece of assistant text. */
export const TextDelta = Schema.TaggedStruct("TextDelta", {
  turn: Schema.Number,
  itemId: Schema.String,
  delta: Schema.String
})
/** A piece of reasoning text or reasoning summary. */
export const ReasoningDelta = Schema.TaggedStruct("ReasoningDelta", {
  turn: Schema.Number,
  itemId: Schema.String,
  delta: Schema.String
})
/** The model started a function call. */
export const ToolCallStart = Schema.TaggedStruct("ToolCallStart", {
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String
})
/** A piece of a function call's JSON arguments (never executed: only `ToolCallEnd` counts). */
export const ToolCallArgumentsDelta = Schema.TaggedStruct("ToolCallArgumentsDelta", {
  turn: Schema.Number,
  callId: Schema.String,
  delta: Schema.String
})
/** The model finished a function call; `arguments` is the final JSON string. */
export const ToolCallEnd = Schema.TaggedStruct("ToolCallEnd", {
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String,
  arguments: Schema.String
})
/** What a tool call produced, exactly as sent back to the model. */
export const ToolResult = Schema.TaggedStruct("ToolResult", {
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String,
  output: Schema.String,
  /** True when the output is an error fed back to the model. */
  isError: Schema.Boolean,
  /** Why the tool did not run: `repeated`, `rejected`, `cancelled`; absent when it ran. */
  skipped: Schema.optionalKey(Schema.String)
})
/** The model call of `turn` is re-run after its stream failed once events had arrived (a drop, or retryable): drop partial output. */
export const TurnRestarted = Schema.TaggedStruct("TurnRestarted", {
  turn: Schema.Number,
  /** HTTP attempts spent on this model call so far. */
  attempts: Schema.Number,
  /** The `_tag` of the failure that caused the restart. */
  error: Schema.String
})
/** A model call finished; `usage` is this call's, `totalUsage` the run's so far. */
export const TurnEnd = Schema.TaggedStruct("TurnEnd", {
  turn: Schema.Number,
  responseId: Schema.String,
  usage: RunUsage,
  totalUsage: RunUsage
})
/** A call waits for a human decision; the run pauses after this turn's other calls ran. */
export const NeedsApproval = Schema.TaggedStruct("NeedsApproval", {
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  argsHash: Schema.String
})
/** One position where a terminal `output` differs from the streamed items (see `Warning`). */
export const OutputDifference = Schema.Struct({
  outputIndex: Schema.Number,
  /** `unannounced`: only in the terminal output; `dropped`: streamed only; `changed`: both, different. */
  kind: Schema.Literals(["unannounced", "dropped", "changed"]),
  itemType: Schema.String,
  callId: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String)
})

/**
 * Something the model's stream did that the run tolerated. `OutputMismatch`: the terminal response's
 * `output` disagrees with the streamed `output_item.done` items; the terminal output wins (it is what
 * goes into the history and whose calls run), and `differences` lists where (at most 64).
 */
export const Warning = Schema.TaggedStruct("Warning", {
  turn: Schema.Number,
  kind: Schema.Literals(["OutputMismatch"]),
  message: Schema.String,
  differences: Schema.Array(OutputDifference)
})
/** The run ended, with why and the total usage. */
export const RunEnd = Schema.TaggedStruct("RunEnd", {
  runId: Schema.String,
  stopReason: StopReason,
  usage: RunUsage
})

/** Any event of a run. */
export const AgentEvent = Schema.Union([
  RunStart,
  TurnStart,
  TextDelta,
  ReasoningDelta,
  ToolCallStart,
  ToolCallArgumentsDelta,
  ToolCallEnd,
  ToolResult,
  TurnRestarted,
  TurnEnd,
  NeedsApproval,
  Warning,
  RunEnd
])
/** Any event of a run. */
export type AgentEvent = typeof AgentEvent.Type

/** The `_tag`s of `AgentEvent`. */
export type AgentEventTag = AgentEvent["_tag"]
