/**
 * `@volley/durable`: agent runs that survive a crash, on Effect's workflow + cluster engine with
 * Postgres. `DurableAgent.run(agent, input, { runId })` runs an agent as one workflow execution
 * whose model and tool calls are activities; `DurableEngine` gives the engines (memory, one machine
 * on Postgres); `DurablePostgres` starts an embedded Postgres or connects to `DATABASE_URL`.
 * Gotcha: the engine layers are unstable Effect modules, pinned to effect 4.1.0.
 */

/** Embedded or configured Postgres for the durable engine. */
export * as DurablePostgres from "./DurablePostgres.ts"

/** Agent runs as workflow executions whose model and tool calls are stored steps. */
export * as DurableAgent from "./DurableAgent.ts"

/** The workflow engines: in memory, or one machine on Postgres. */
export * as DurableEngine from "./DurableEngine.ts"

/** The agent's single-use approval ledger on Postgres. */
export * as SqlApprovalLedger from "./SqlApprovalLedger.ts"

/** The live event channel of durable runs (memory, or Postgres LISTEN/NOTIFY). */
export * as RunEvents from "./RunEvents.ts"
