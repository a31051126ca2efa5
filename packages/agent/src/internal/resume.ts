/**
 * Resuming a run paused on approvals: `resumeBatch` checks the human decisions against the pending
 * calls (run id, call id, name, argument hash, nonce, signature), consumes each decision's nonce in
 * the `ApprovalLedger` before anything runs, gives rejected calls their rejection as output, and runs
 * the approved ones through the loop's tool turn. Gotcha: undecided calls keep the run paused.
 */
import * as Effect from "effect/Effect"
import type { ResponsesSchema } from "@volley/core"
import type { Approval } from "../RunState.ts"
import { checkApprovals } from "./approval.ts"
import { errorText, outputItem } from "./history.ts"
import { type Next, toolTurn } from "./loop.ts"
import { failWith, type Run } from "./run.ts"
import type { AgentSpec, LoopDeps } from "./spec.ts"
import { outputText } from "./tools.ts"

/**
 * Continues a paused batch with human decisions: approved calls run, rejected ones get the
 * rejection as their output, undecided ones keep the run paused.
 */
export const resumeBatch = <A, R>(
  spec: AgentSpec<A>,
  run: Run,
  deps: LoopDeps<R>,
  approvals: ReadonlyArray<Approval>
): Next<A, R> =>
  Effect.gen(function* () {
    const batch = run.batch
    if (batch === undefined) {
      if (approvals.length === 0) return undefined
      return yield* failWith(run, { _tag: "InvalidApproval", callId: approvals[0]!.callId, reason: "NotPaused" })
    }
    const checked = checkApprovals(run.runId, batch.awaiting, batch.calls, approvals, spec.approvalSecret)
    if (checked._tag === "Invalid") return yield* failWith(run, { _tag: "InvalidApproval", ...checked.problem })
    // single use: every decision's nonce is consumed before anything of this resume runs
    for (const approval of checked.decisions.values()) {
      const first = yield* deps.ledger.consume({ nonce: approval.nonce, runId: run.runId, callId: approval.callId })
      if (!first) return yield* failWith(run, { _tag: "ApprovalAlreadyUsed", callId: approval.callId })
    }
    const approved: Array<ResponsesSchema.FunctionCall> = []
    for (const call of batch.calls) {
      const decision = checked.decisions.get(call.call_id)
      if (decision === undefined) continue
      if (decision.decision === "approve") approved.push(call)
      else {
        const output = outputItem(
          call.call_id,
          errorText("rejected", decision.message ?? "A human rejected this call.")
        )
        batch.outputs.set(call.call_id, output)
        yield* deps.emit({
          _tag: "ToolResult",
          turn: batch.turn,
          callId: call.call_id,
          name: call.name,
          output: outputText(output),
          isError: true,
          skipped: "rejected"
        })
      }
    }
    batch.awaiting = batch.awaiting.filter((pending) => !checked.decisions.has(pending.callId))
    return yield* toolTurn<A, R>(spec, run, deps, batch, approved)
  })
