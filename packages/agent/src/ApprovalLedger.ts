/**
 * `ApprovalLedger`: where the agent records the nonce of every approval (or rejection) it acts on, so a
 * decision is single-use: `resume` consumes each decision's nonce before anything runs, and a nonce
 * already consumed fails the resume with `ApprovalAlreadyUsed`. It is a `Context.Reference` whose
 * default is one in-memory ledger per process (`makeMemory`), which only sees the resumes of this
 * process; a store shared by every process that may resume a run (a SQL table with a unique key on
 * the nonce, for instance) implements `ApprovalLedgerShape` and is provided with `layer(store)`.
 * Gotcha: the in-memory ledger remembers the last `defaultMaxEntries` nonces (bounded memory), and
 * a process restart forgets them all: see docs/agent.md "Approvals" for what that does and does not guarantee.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** One decision being acted on: its nonce and the call it was issued for. */
export interface ConsumedApproval {
  readonly nonce: string
  readonly runId: string
  readonly callId: string
}

/** A ledger of consumed approval nonces. */
export interface ApprovalLedgerShape {
  /**
   * Records `entry.nonce` as consumed, atomically: succeeds with `true` the first time a nonce is
   * seen and `false` every later time (also when two resumes race). A store that cannot answer
   * should die: nothing runs on a decision whose use was not recorded.
   */
  readonly consume: (entry: ConsumedApproval) => Effect.Effect<boolean>
}

/** How many nonces the in-memory ledger remembers by default (the oldest are forgotten first). */
export const defaultMaxEntries = 100_000

/** An in-memory ledger for one process, remembering at most `maxEntries` nonces (oldest first out). */
export const makeMemory = (options?: { readonly maxEntries?: number | undefined }): ApprovalLedgerShape => {
  const maxEntries = Math.max(1, options?.maxEntries ?? defaultMaxEntries)
  // insertion-ordered: the first key is the oldest nonce
  const consumed = new Set<string>()
  return {
    // one synchronous step: no other fiber can interleave between the check and the insert
    consume: (entry) =>
      Effect.sync(() => {
        if (consumed.has(entry.nonce)) return false
        consumed.add(entry.nonce)
        if (consumed.size > maxEntries) consumed.delete(consumed.values().next().value as string)
        return true
      })
  }
}

/** The ledger `resume` consults (default: one in-memory ledger per process). */
export const ApprovalLedger = Context.Reference<ApprovalLedgerShape>("@volley/agent/ApprovalLedger", {
  defaultValue: () => makeMemory()
})

/** Provides a ledger (e.g. one backed by a shared store). */
export const layer = (ledger: ApprovalLedgerShape): Layer.Layer<never> => Layer.succeed(ApprovalLedger, ledger)

/** Provides a fresh in-memory ledger (e.g. one per test). */
export const layerMemory = (options?: { readonly maxEntries?: number | undefined }): Layer.Layer<never> =>
  Layer.sync(ApprovalLedger, () => makeMemory(options))
