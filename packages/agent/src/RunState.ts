/**
 * The serialisable state of a run: history, usage, counters, and, for a run paused on an approval,
 * the turn's calls with the outputs already computed and the calls awaiting a decision. A paused
 * `AgentResult` carries one; `toJson` / `fromJson` move it across a restart, and `agent.resume`
 * continues from it. `Approval` is the decision a human gives for one call, bound to the run id,
 * `call_id`, tool name, argument hash and the pending call's nonce (and HMAC-signed when the agent
 * has an approval secret).
 * Gotcha: outputs of calls that already ran are stored here keyed by `call_id`, so resuming never
 * re-runs a completed call (E07), and the history is stored verbatim (byte-stable after a restart).
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ResponsesSchema } from "@volley/core"
import { RunHistory } from "./RunHistory.ts"
import { RunUsage, StopReason, TurnUsage } from "./StopReason.ts"

/** A call that waits for a human decision. */
export const PendingApproval = Schema.Struct({
  callId: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  argsHash: Schema.String,
  /** Random, issued when the run paused: a decision names it and the `ApprovalLedger` consumes it once. */
  nonce: Schema.String
})
/** A call that waits for a human decision. */
export type PendingApproval = typeof PendingApproval.Type

/**
 * A human decision on one pending call, bound to the run, the call, the tool name, the argument hash
 * and the pending call's nonce (signed or not); single-use through the `ApprovalLedger`.
 */
export const Approval = Schema.Struct({
  runId: Schema.String,
  callId: Schema.String,
  name: Schema.String,
  argsHash: Schema.String,
  nonce: Schema.String,
  decision: Schema.Literals(["approve", "reject"]),
  /** For a rejection: what the model is told. */
  message: Schema.optionalKey(Schema.String),
  /** HMAC-SHA256 (hex) over run id, call id, name, argument hash, nonce and decision, when a secret is set. */
  signature: Schema.optionalKey(Schema.String)
})
/** A human decision on one pending call. */
export type Approval = typeof Approval.Type

/** The tool batch of the turn a run paused in. */
export const PendingBatch = Schema.Struct({
  /** Every call of the turn, in order. */
  calls: Schema.Array(ResponsesSchema.FunctionCall),
  /** Outputs already computed (calls that ran, repeats), by `call_id`. */
  outputs: Schema.Array(ResponsesSchema.FunctionCallOutput),
  /** Calls waiting for a decision. */
  awaiting: Schema.Array(PendingApproval)
})
/** The tool batch of the turn a run paused in. */
export type PendingBatch = typeof PendingBatch.Type

/** One remembered call for repeat detection: occurrences and the last output. */
export const RepeatEntry = Schema.Struct({ key: Schema.String, count: Schema.Number, output: Schema.String })
/** One remembered call for repeat detection. */
export type RepeatEntry = typeof RepeatEntry.Type

/** The serialisable state of a run. */
export const RunState = Schema.Struct({
  version: Schema.Literal(1),
  runId: Schema.String,
  agent: Schema.String,
  /** Model calls made. */
  turns: Schema.Number,
  history: RunHistory,
  usage: RunUsage,
  turnUsage: Schema.Array(TurnUsage),
  malformedTurns: Schema.Number,
  repeats: Schema.Array(RepeatEntry),
  /** Whether the structured-output correction turn was used. */
  outputRetried: Schema.Boolean,
  pending: Schema.optionalKey(PendingBatch),
  stopReason: StopReason
})
/** The serialisable state of a run. */
export type RunState = typeof RunState.Type

const Json = Schema.fromJsonString(RunState)
const encodeJson = Schema.encodeSync(Json)
const decodeJson = Schema.decodeUnknownEffect(Json)

/** The state as a JSON string. */
export const toJson = (state: RunState): string => encodeJson(state)

/** A state from its JSON string; fails with a `SchemaError` naming the bad path. */
export const fromJson = (json: string): Effect.Effect<RunState, Schema.SchemaError> => decodeJson(json)
