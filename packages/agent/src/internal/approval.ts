/**
 * Binding human approvals to exactly one call: an approval names the `call_id` and the argument
 * hash it was given for, and when the agent has a secret it carries an HMAC-SHA256 over the run id,
 * call id, tool name, argument hash and decision (G05). `checkApprovals` is pure: it returns the
 * first problem or the decisions by call id. Gotcha: the hash is recomputed from the call that would
 * run, never taken from the saved state, so editing a paused state's arguments cannot ride on an
 * approval given for other arguments; only approvals passed to `resume` count, and nothing the model
 * or a tool writes is ever read as an approval.
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import type { FunctionCall } from "@volley/core/ResponsesSchema"
import type { Approval, PendingApproval } from "../RunState.ts"
import { argsHash } from "./history.ts"

/** The HMAC of one decision. */
export const sign = (
  secret: string,
  runId: string,
  callId: string,
  name: string,
  argsHash: string,
  decision: Approval["decision"]
): string => createHmac("sha256", secret).update(`${runId}\n${callId}\n${name}\n${argsHash}\n${decision}`).digest("hex")

const sameHex = (a: string, b: string): boolean => {
  const left = Buffer.from(a, "utf8")
  const right = Buffer.from(b, "utf8")
  return left.length === right.length && timingSafeEqual(left, right)
}

/** Why an approval was refused. */
export interface ApprovalProblem {
  readonly callId: string
  readonly reason: "UnknownCall" | "ArgumentsMismatch" | "BadSignature"
}

/** Validates approvals against the pending calls of a paused run and the calls that would run. */
export const checkApprovals = (
  runId: string,
  awaiting: ReadonlyArray<PendingApproval>,
  calls: ReadonlyArray<FunctionCall>,
  approvals: ReadonlyArray<Approval>,
  secret: string | undefined
):
  | { readonly _tag: "Invalid"; readonly problem: ApprovalProblem }
  | { readonly _tag: "Valid"; readonly decisions: ReadonlyMap<string, Approval> } => {
  const decisions = new Map<string, Approval>()
  for (const approval of approvals) {
    const pending = awaiting.find((call) => call.callId === approval.callId)
    const call = calls.find((candidate) => candidate.call_id === approval.callId)
    if (pending === undefined || call === undefined)
      return { _tag: "Invalid", problem: { callId: approval.callId, reason: "UnknownCall" } }
    // What would run must be exactly what was shown and approved: same name, same arguments, same hash.
    const actual = argsHash(call.arguments)
    if (
      actual !== approval.argsHash ||
      actual !== pending.argsHash ||
      call.arguments !== pending.arguments ||
      call.name !== pending.name
    )
      return { _tag: "Invalid", problem: { callId: approval.callId, reason: "ArgumentsMismatch" } }
    if (secret !== undefined) {
      const expected = sign(secret, runId, approval.callId, call.name, actual, approval.decision)
      if (approval.signature === undefined || !sameHex(approval.signature, expected))
        return { _tag: "Invalid", problem: { callId: approval.callId, reason: "BadSignature" } }
    }
    decisions.set(approval.callId, approval)
  }
  return { _tag: "Valid", decisions }
}
