/**
 * The one event vocabulary of a run, as emitted by `agent.stream(input)`: `RunStart`, `TurnStart`,
 * `TextDelta`, `ReasoningDelta`, `ToolCallStart`, `ToolCallArgumentsDelta`, `ToolCallEnd`,
 * `ToolResult`, `TurnRestarted`, `TurnEnd` (with usage), `NeedsApproval`, `Warning` and `RunEnd`
 * (with the stop reason). Every event is a plain tagged object described by a Schema, so a server can
 * forward it to a UI as JSON (`AgentEvent` encodes and decodes). Gotcha: after `TurnRestarted` a
 * UI must drop the partial text and tool-call deltas of that turn: the model call starts again.
 * `ToolExecutionStart`/`ToolExecutionEnd` bracket a tool's execution (`ToolCallStart` is only the
 * model streaming the call); `Handoff`, `ModelFallback` and `GuardrailTripped` mark control changes;
 * events of a sub-agent or a handed-off agent carry `agentPath` (outermost agent first).
 */
import * as Schema from "effect/Schema"
import { RunUsage, StopReason } from "./StopReason.ts"

/** The agents an event was forwarded through, outermost first; absent for the run's own agent. */
const forwarded = { agentPath: Schema.optionalKey(Schema.Array(Schema.String)) }

/** A run started (or resumed from a saved `RunState`). */
export const RunStart = Schema.TaggedStruct("RunStart", {
  ...forwarded,
  runId: Schema.String,
  agent: Schema.String,
  resumed: Schema.Boolean
})
/** A model call starts; `turn` counts model calls from 1. */
export const TurnStart = Schema.TaggedStruct("TurnStart", {
  ...forwarded,
  runId: Schema.String,
  turn: Schema.Number
})
/** A piece of assistant text. */
export const TextDelta = Schema.TaggedStruct("TextDelta", {
  ...forwarded,
  turn: Schema.Number,
  itemId: Schema.String,
  delta: Schema.String
})
/** A piece of reasoning text or reasoning summary. */
export const ReasoningDelta = Schema.TaggedStruct("ReasoningDelta", {
  ...forwarded,
  turn: Schema.Number,
  itemId: Schema.String,
  delta: Schema.String
})
/** The model started a function call. */
export const ToolCallStart = Schema.TaggedStruct("ToolCallStart", {
  ...forwarded,
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String
})
/** A piece of a function call's JSON arguments (never executed: only `ToolCallEnd` counts). */
export const ToolCallArgumentsDelta = Schema.TaggedStruct("ToolCallArgumentsDelta", {
  ...forwarded,
  turn: Schema.Number,
  callId: Schema.String,
  delta: Schema.String
})
/** The model finished a function call; `arguments` is the final JSON string. */
export const ToolCallEnd = Schema.TaggedStruct("ToolCallEnd", {
  ...forwarded,
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String,
  arguments: Schema.String
})
/** What a tool call produced, exactly as sent back to the model. */
export const ToolResult = Schema.TaggedStruct("ToolResult", {
  ...forwarded,
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
  ...forwarded,
  turn: Schema.Number,
  /** HTTP attempts spent on this model call so far. */
  attempts: Schema.Number,
  /** The `_tag` of the failure that caused the restart. */
  error: Schema.String
})
/** A model call finished; `usage` is this call's, `totalUsage` the run's so far. */
export const TurnEnd = Schema.TaggedStruct("TurnEnd", {
  ...forwarded,
  turn: Schema.Number,
  responseId: Schema.String,
  usage: RunUsage,
  totalUsage: RunUsage
})
/** A call waits for a human decision; the run pauses after this turn's other calls ran. */
export const NeedsApproval = Schema.TaggedStruct("NeedsApproval", {
  ...forwarded,
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
  ...forwarded,
  turn: Schema.Number,
  kind: Schema.Literals(["OutputMismatch"]),
  message: Schema.String,
  differences: Schema.Array(OutputDifference)
})
/** A tool's execution starts (after guardrails and approval; `ToolCallStart` is the model streaming the call). */
export const ToolExecutionStart = Schema.TaggedStruct("ToolExecutionStart", {
  ...forwarded,
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String
})
/** A tool's execution ended; `durationMs` is its wall time, `isError` whether the model is told of a failure. */
export const ToolExecutionEnd = Schema.TaggedStruct("ToolExecutionEnd", {
  ...forwarded,
  turn: Schema.Number,
  callId: Schema.String,
  name: Schema.String,
  durationMs: Schema.Number,
  isError: Schema.Boolean
})
/** Control passed from agent `from` to agent `to` (a handoff); the run continues as `to`. */
export const Handoff = Schema.TaggedStruct("Handoff", {
  ...forwarded,
  turn: Schema.Number,
  from: Schema.String,
  to: Schema.String
})
/** The model call of `turn` is retried on the next model of the fallback chain. */
export const ModelFallback = Schema.TaggedStruct("ModelFallback", {
  ...forwarded,
  turn: Schema.Number,
  from: Schema.String,
  to: Schema.String,
  /** `RetriesExhausted` (a retryable failure after its retries) or `ContextTooLarge`. */
  reason: Schema.String
})
/** A guardrail's tripwire fired; the run fails with `GuardrailTripped` next. */
export const GuardrailTripped = Schema.TaggedStruct("GuardrailTripped", {
  ...forwarded,
  guardrail: Schema.String,
  kind: Schema.Literals(["input", "output", "tool"]),
  /** What the guardrail reported (JSON). */
  info: Schema.optionalKey(Schema.Unknown)
})
/** The run ended, with why and the total usage. */
export const RunEnd = Schema.TaggedStruct("RunEnd", {
  ...forwarded,
  runId: Schema.String,
  /** The agent that ended the run (after handoffs, the last one). */
  agent: Schema.optionalKey(Schema.String),
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
  ToolExecutionStart,
  ToolExecutionEnd,
  Handoff,
  ModelFallback,
  GuardrailTripped,
  RunEnd
])
/** Any event of a run. */
export type AgentEvent = typeof AgentEvent.Type

/** The `_tag`s of `AgentEvent`. */
export type AgentEventTag = AgentEvent["_tag"]
