/**
 * `SqlApprovalLedger`: the agent's single-use `ApprovalLedger` on Postgres, shared by every process
 * that may resume a run or decide an approval. `layer` creates the table
 * `volley_approval_ledger` if it is missing and provides the ledger; `make` gives the ledger alone.
 * A nonce is consumed by one `INSERT … ON CONFLICT DO NOTHING`, so two racing consumers get exactly
 * one `true`. Gotcha: rows are never deleted by Volley; see docs/durable.md for retention.
 */
import { ApprovalLedger } from "@volley/agent"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/** The table's name. */
export const table = "volley_approval_ledger"

/** Creates the table if it is missing. */
export const migrate: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
    nonce text PRIMARY KEY,
    run_id text NOT NULL,
    call_id text NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now()
  )`
})

/** The ledger on the given client (the table must exist: see `migrate`). A store that cannot answer dies. */
export const make: Effect.Effect<ApprovalLedger.ApprovalLedgerShape, never, SqlClient.SqlClient> = Effect.map(
  Effect.service(SqlClient.SqlClient),
  (sql) => ({
    consume: (entry) =>
      sql<{ readonly nonce: string }>`INSERT INTO ${sql(table)} (nonce, run_id, call_id)
        VALUES (${entry.nonce}, ${entry.runId}, ${entry.callId})
        ON CONFLICT (nonce) DO NOTHING RETURNING nonce`.pipe(
        Effect.map((rows) => rows.length === 1),
        Effect.orDie
      )
  })
)

/** Creates the table if needed and provides the ledger to `agent.resume` and `DurableAgent.approve`/`reject`. */
export const layer: Layer.Layer<never, SqlError, SqlClient.SqlClient> = Layer.unwrap(
  Effect.gen(function* () {
    yield* migrate
    return ApprovalLedger.layer(yield* make)
  })
)
