/**
 * Every way a tool call can go wrong, as serialisable Schema tagged errors named as in docs/reliability.md.
 * By default each one becomes a `function_call_output` the model can act on (`Toolkit.handle` records it in
 * the call's `outcome`); only `ToolNotFound`, `ToolFailed` and `ToolTimeout` can fail a run, and only when
 * a policy says so (`unknownTool: "fail"`, `failurePolicy: "fail"`). `ToolDefinitionError` is different:
 * a programmer error thrown by `Tool.make` / `Toolkit.make` at definition time, never at call time.
 * Gotcha: every `message` is already redacted and short; build model-facing text from it, not from causes.
 */
import * as Schema from "effect/Schema"

/** One argument problem: a JSON path like `days` or `items[2].name` (empty for the root) and what was wrong. */
export const ArgumentIssue = Schema.Struct({
  path: Schema.String,
  message: Schema.String
})
/** One argument problem. */
export type ArgumentIssue = typeof ArgumentIssue.Type

const call = {
  /** The tool the model called. */
  name: Schema.String,
  /** The `call_id` of the model's `function_call`. */
  callId: Schema.String,
  /** Human-readable, redacted, short. */
  message: Schema.String
}

/** The model called a tool that does not exist, is disabled for this run, or names an `Object.prototype` key. */
export class ToolNotFound extends Schema.TaggedError<ToolNotFound>()("ToolNotFound", {
  ...call,
  /** The tools the model may call (at most 50 names). */
  available: Schema.Array(Schema.String)
}) {}

/** The arguments were not JSON (`kind: "json"`) or did not match the parameters schema (`kind: "schema"`). */
export class ToolArgumentsInvalid extends Schema.TaggedError<ToolArgumentsInvalid>()("ToolArgumentsInvalid", {
  ...call,
  kind: Schema.Literals(["json", "schema"]),
  issues: Schema.Array(ArgumentIssue)
}) {}

/** The handler failed with its typed failure; `error` is that failure encoded with the tool's failure schema. */
export class ToolFailed extends Schema.TaggedError<ToolFailed>()("ToolFailed", {
  ...call,
  error: Schema.Unknown
}) {}

/** The handler did not finish within the tool's timeout. */
export class ToolTimeout extends Schema.TaggedError<ToolTimeout>()("ToolTimeout", {
  ...call,
  ms: Schema.Number
}) {}

/** The handler's value could not be encoded (schema violation, circular value, BigInt): a bug in the tool. */
export class ToolResultEncodingError extends Schema.TaggedError<ToolResultEncodingError>()("ToolResultEncodingError", {
  ...call
}) {}

/** The handler died (threw, or failed with a defect). The model sees a generic message; details go to span and log. */
export class ToolDefect extends Schema.TaggedError<ToolDefect>()("ToolDefect", {
  ...call
}) {}

/** The call was interrupted before it finished; the model is told it was cancelled. */
export class ToolCancelled extends Schema.TaggedError<ToolCancelled>()("ToolCancelled", {
  ...call
}) {}

/** A tool or toolkit definition is invalid (bad name, duplicate, schema strict mode cannot express). */
export class ToolDefinitionError extends Schema.TaggedError<ToolDefinitionError>()("ToolDefinitionError", {
  /** The tool concerned. */
  name: Schema.String,
  message: Schema.String
}) {}

/** Any failure recorded in a call's outcome. */
export type ToolCallError =
  | ToolNotFound
  | ToolArgumentsInvalid
  | ToolFailed
  | ToolTimeout
  | ToolResultEncodingError
  | ToolDefect
  | ToolCancelled

/** The failures that can end a run: only produced when `unknownTool: "fail"` or `failurePolicy: "fail"`. */
export type ToolRunError = ToolNotFound | ToolFailed | ToolTimeout

/** The tag of every `ToolCallError` (checked against the union below). */
export const ToolCallErrorTag = Schema.Literals([
  "ToolNotFound",
  "ToolArgumentsInvalid",
  "ToolFailed",
  "ToolTimeout",
  "ToolResultEncodingError",
  "ToolDefect",
  "ToolCancelled"
])

/** The tag of every `ToolRunError`. */
export const ToolRunErrorTag = Schema.Literals(["ToolNotFound", "ToolFailed", "ToolTimeout"])

// both lists name every member of their union, no more and no less
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _tagsComplete: [
  Same<typeof ToolCallErrorTag.Type, ToolCallError["_tag"]>,
  Same<typeof ToolRunErrorTag.Type, ToolRunError["_tag"]>
] = [true, true]
void _tagsComplete

/** The `type` field of the `{"error":{"type":…,"message":…}}` output sent back to the model for each failure. */
export const errorType = (error: ToolCallError): string => {
  switch (error._tag) {
    case "ToolNotFound":
      return "unknown_tool"
    case "ToolArgumentsInvalid":
      return error.kind === "json" ? "invalid_json" : "invalid_arguments"
    case "ToolFailed":
      return "tool_error"
    case "ToolTimeout":
      return "timeout"
    case "ToolResultEncodingError":
      return "invalid_result"
    case "ToolDefect":
      return "internal_error"
    case "ToolCancelled":
      return "cancelled"
  }
}
