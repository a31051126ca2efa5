/**
 * Binding human approvals to exactly one call: an approval names the run id, `call_id`, tool name,
 * argument hash and the pending call's nonce it was given for, signed or not, and when the agent has
 * a secret it carries an HMAC-SHA256 over all of them and the decision (G05). `checkApprovals` is
 * pure: it returns the first problem or the decisions by call id (single use is the ledger's job).
 * Gotcha: the hash is recomputed from the call that would run, never taken from the saved state, so
 * editing a paused state's arguments cannot ride on an approval given for other arguments; only
 * approvals passed to `resume` count, and nothing the model or a tool writes is read as an approval.
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import type { ResponsesSchema } from "@volley/core"
import type { Approval, PendingApproval } from "../RunState.ts"
import { argsHash } from "./history.ts"

/** The HMAC of one decision, over every field it is bound to. */
export const sign = (secret: string, approval: Omit<Approval, "signature" | "message">): string =>
  createHmac("sha256", secret)
    .update(
      `${approval.runId}\n${approval.callId}\n${approval.name}\n${approval.argsHash}\n${approval.nonce}\n${approval.decision}`
    )
    .digest("hex")

const sameHex = (a: string, b: string): boolean => {
  const left = Buffer.from(a, "utf8")
  const right = Buffer.from(b, "utf8")
  return left.length === right.length && timingSafeEqual(left, right)
}

/** Why an approval was refused. */
export interface ApprovalProblem {
  readonly callId: string
  readonly reason:
    | "UnknownCall"
    | "WrongRun"
    | "NonceMismatch"
    | "NameMismatch"
    | "ArgumentsMismatch"
    | "BadSignature"
    | "DuplicateDecision"
}

/** Validates approvals against the pending calls of a paused run and the calls that would run. */
export const checkApprovals = (
  runId: string,
  awaiting: ReadonlyArray<PendingApproval>,
  calls: ReadonlyArray<ResponsesSchema.FunctionCall>,
  approvals: ReadonlyArray<Approval>,
  secret: string | undefined
):
  | { readonly _tag: "Invalid"; readonly problem: ApprovalProblem }
  | { readonly _tag: "Valid"; readonly decisions: ReadonlyMap<string, Approval> } => {
  const decisions = new Map<string, Approval>()
  const invalid = (approval: Approval, reason: ApprovalProblem["reason"]) =>
    ({ _tag: "Invalid", problem: { callId: approval.callId, reason } }) as const
  for (const approval of approvals) {
    if (approval.runId !== runId) return invalid(approval, "WrongRun")
    const pending = awaiting.find((call) => call.callId === approval.callId)
    const call = calls.find((candidate) => candidate.call_id === approval.callId)
    if (pending === undefined || call === undefined) return invalid(approval, "UnknownCall")
    if (decisions.has(approval.callId)) return invalid(approval, "DuplicateDecision")
    // issued for this pause of this call (a hand-built approval or one from an earlier pause is not)
    if (approval.nonce !== pending.nonce) return invalid(approval, "NonceMismatch")
    // What would run must be exactly what was shown and approved: same name, same arguments, same hash.
    if (call.name !== approval.name || call.name !== pending.name) return invalid(approval, "NameMismatch")
    const actual = argsHash(call.arguments)
    if (actual !== approval.argsHash || actual !== pending.argsHash || call.arguments !== pending.arguments)
      return invalid(approval, "ArgumentsMismatch")
    if (secret !== undefined) {
      const expected = sign(secret, approval)
      if (approval.signature === undefined || !sameHex(approval.signature, expected))
        return invalid(approval, "BadSignature")
    }
    decisions.set(approval.callId, approval)
  }
  return { _tag: "Valid", decisions }
}
