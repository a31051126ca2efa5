/**
 * Every way `Agent.run` can fail, as serialisable Schema tagged errors. Each one keeps the run's
 * transcript: `runId`, `history` (valid input for a later request: every call has its output),
 * `usage` and `turns`, so a caller can inspect, persist or continue what happened. Loop limits
 * carry their `StopReason` (`stopReasonOf`); model-call failures wrap the client's `ResponsesError`
 * in `ModelError`. A failure another package owns (`RequestTimeout` of core, `ToolNotFound` and
 * `ToolArgumentsInvalid` of tools) is that package's class extended with the transcript: one set of
 * fields, and `instanceof` the owner's class. Gotcha: a paused run (approval) is a success, not an error.
 */
import * as Schema from "effect/Schema"
import { ResponsesError } from "@volley/core"
import { ToolError } from "@volley/tools"
import type { GuardrailTripped } from "./Guardrail.ts"
import type { HookFailed } from "./RunHooks.ts"
import { RunHistory } from "./RunHistory.ts"
import { BudgetKind, RunUsage, type StopReason } from "./StopReason.ts"

const transcript = {
  /** Redacted, human-readable. */
  message: Schema.String,
  runId: Schema.String,
  /** The history so far; passes the pairing validator. */
  history: RunHistory,
  usage: RunUsage,
  /** Model calls made. */
  turns: Schema.Number
}

/** The run made `limit` model calls and the model still wanted to go on. */
export class MaxTurnsExceeded extends Schema.TaggedError<MaxTurnsExceeded>()("MaxTurnsExceeded", {
  ...transcript,
  limit: Schema.Number
}) {}

/** A token budget was crossed; no further request was sent. */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  ...transcript,
  budget: BudgetKind,
  used: Schema.Number,
  limit: Schema.Number
}) {}

/** The model repeated an identical call (same name, same canonical arguments) too often. */
export class LoopDetected extends Schema.TaggedError<LoopDetected>()("LoopDetected", {
  ...transcript,
  name: Schema.String,
  argsHash: Schema.String,
  repeats: Schema.Number
}) {}

/** The response was incomplete (`reason`, e.g. `max_output_tokens`); none of its calls ran. */
export class Truncated extends Schema.TaggedError<Truncated>()("Truncated", {
  ...transcript,
  reason: Schema.String
}) {}

/** The model refused. */
export class Refused extends Schema.TaggedError<Refused>()("Refused", {
  ...transcript,
  text: Schema.String
}) {}

/**
 * The run's wall-time deadline (`Budgets.wallTimeMs`) fired; in-flight work was interrupted. Core's
 * `RequestTimeout` (`phase: "total"`, not retryable, `attempts` = model calls made) with the transcript.
 */
export class RequestTimeout extends ResponsesError.RequestTimeout.extend<RequestTimeout>("RequestTimeout")({
  ...transcript,
  phase: Schema.Literal("total")
}) {}

/**
 * The model answered in a way the loop cannot use, and the model (not the caller's history) is the
 * cause: `EmptyOutput` (completed with nothing), `CallIdReused` (a `call_id` of an earlier turn;
 * `callId`), `TooManyCalls` (more function calls than `MaxCallsPerTurn`; `count`, `limit`). For the
 * last two nothing of that response ran and it is not in `history`.
 */
export class ModelBehavior extends Schema.TaggedError<ModelBehavior>()("ModelBehavior", {
  ...transcript,
  kind: Schema.Literals(["EmptyOutput", "CallIdReused", "TooManyCalls"]),
  callId: Schema.optionalKey(Schema.String),
  count: Schema.optionalKey(Schema.Number),
  limit: Schema.optionalKey(Schema.Number)
}) {}

/** The pairing validator rejected the history before sending it; no request was made. */
export class InvalidHistory extends Schema.TaggedError<InvalidHistory>()("InvalidHistory", {
  ...transcript,
  issue: Schema.Literals(["MissingOutput", "OrphanOutput", "DuplicateOutput", "DuplicateCall"]),
  callId: Schema.String
}) {}

/** The request input exceeds `maxInputBytes`; nothing was sent. */
export class ContextTooLarge extends Schema.TaggedError<ContextTooLarge>()("ContextTooLarge", {
  ...transcript,
  bytes: Schema.Number,
  limit: Schema.Number
}) {}

/**
 * An approval was refused; nothing ran. `reason`: `UnknownCall` (no such pending call),
 * `WrongRun` (issued for another run), `NonceMismatch` (not issued for this pause: built by hand or
 * from an earlier pause), `NameMismatch` / `ArgumentsMismatch` (the call that would run is not the
 * one approved), `BadSignature` (unsigned or forged, with an `approvalSecret`), `DuplicateDecision`
 * (two decisions for one call), `NotPaused` (the run waits for nothing).
 */
export class InvalidApproval extends Schema.TaggedError<InvalidApproval>()("InvalidApproval", {
  ...transcript,
  callId: Schema.String,
  reason: Schema.Literals([
    "UnknownCall",
    "WrongRun",
    "NonceMismatch",
    "NameMismatch",
    "ArgumentsMismatch",
    "BadSignature",
    "DuplicateDecision",
    "NotPaused"
  ])
}) {}

/**
 * A decision was already acted on: its nonce is in the `ApprovalLedger` (a second `resume` of the
 * same paused state, or a race between two). Nothing of this resume ran.
 */
export class ApprovalAlreadyUsed extends Schema.TaggedError<ApprovalAlreadyUsed>()("ApprovalAlreadyUsed", {
  ...transcript,
  callId: Schema.String
}) {}

/**
 * An agent definition is invalid (e.g. an empty `approvalSecret`): thrown by `Agent.make` at
 * definition time, a programmer error, never a run failure.
 */
export class AgentDefinitionError extends Schema.TaggedError<AgentDefinitionError>()("AgentDefinitionError", {
  message: Schema.String
}) {}

/**
 * The model sent malformed tool arguments in too many turns of the run: tools' `ToolArgumentsInvalid`
 * of the last turn's first malformed call (`kind`, `issues`) with the transcript and `malformedTurns`.
 */
export class ToolArgumentsInvalid extends ToolError.ToolArgumentsInvalid.extend<ToolArgumentsInvalid>(
  "ToolArgumentsInvalid"
)({
  ...transcript,
  malformedTurns: Schema.Number
}) {}

/** The model called a tool that does not exist under `unknownTool: "fail"`: tools' `ToolNotFound` with the transcript. */
export class ToolNotFound extends ToolError.ToolNotFound.extend<ToolNotFound>("ToolNotFound")({
  ...transcript
}) {}

/** A tool failed under a `failurePolicy: "fail"` (its failure or its timeout ends the run). */
export class ToolRunFailed extends Schema.TaggedError<ToolRunFailed>()("ToolRunFailed", {
  ...transcript,
  callId: Schema.String,
  name: Schema.String,
  reason: Schema.Literals(["ToolFailed", "ToolTimeout"])
}) {}

/** The final answer did not decode with the `output` schema, even after one correction turn. */
export class StructuredOutputInvalid extends Schema.TaggedError<StructuredOutputInvalid>()("StructuredOutputInvalid", {
  ...transcript,
  text: Schema.String,
  issue: Schema.String
}) {}

/** A `ResponsesError` from the model call (after the client's and the turn's retries): core's own union. */
export const ModelCallError = ResponsesError.ResponsesErrorSchema

/** The model call failed; `error` is the client's typed error. */
export class ModelError extends Schema.TaggedError<ModelError>()("ModelError", {
  ...transcript,
  error: ModelCallError
}) {}

/** A guardrail's tripwire stopped the run (the class lives in `Guardrail`). */
export { GuardrailTripped } from "./Guardrail.ts"
/** A hook under `failRun: true` failed (the class lives in `RunHooks`). */
export { HookFailed } from "./RunHooks.ts"

/** Every error `Agent.run` / `agent.stream` / `agent.resume` fail with. */
export type AgentError =
  | MaxTurnsExceeded
  | BudgetExceeded
  | LoopDetected
  | Truncated
  | Refused
  | RequestTimeout
  | ModelBehavior
  | InvalidHistory
  | ContextTooLarge
  | InvalidApproval
  | ApprovalAlreadyUsed
  | ToolArgumentsInvalid
  | ToolNotFound
  | ToolRunFailed
  | StructuredOutputInvalid
  | ModelError
  | GuardrailTripped
  | HookFailed

/** The stop reason an error stands for, when it is a loop outcome of docs/reliability.md, Typed outcomes. */
export const stopReasonOf = (error: AgentError): StopReason | undefined => {
  switch (error._tag) {
    case "MaxTurnsExceeded":
      return { _tag: "MaxTurns", limit: error.limit }
    case "BudgetExceeded":
      return { _tag: "BudgetExceeded", budget: error.budget, used: error.used, limit: error.limit }
    case "LoopDetected":
      return { _tag: "LoopDetected", name: error.name, argsHash: error.argsHash, repeats: error.repeats }
    case "Truncated":
      return { _tag: "Truncated", reason: error.reason }
    case "Refused":
      return { _tag: "Refused", text: error.text }
    default:
      return undefined
  }
}
