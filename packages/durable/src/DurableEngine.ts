/**
 * `DurableEngine`: the workflow engines a durable run can use. `layerMemory` keeps everything in
 * memory (unit tests: nothing survives the process); `layerPostgres(options)` is one machine: a
 * `SingleRunner` of Effect's cluster with its messages, replies and runner state in Postgres
 * (needs a `SqlClient`, e.g. from `DurablePostgres`), so a restarted process resumes its runs.
 * Gotcha: with one runner, a run only resumes when a process with this layer (and the agent's
 * `DurableAgent.layer`) starts again on the same database.
 */
import * as ClusterWorkflowEngine from "effect/cluster/ClusterWorkflowEngine"
import type { ShardingConfig } from "effect/cluster/ShardingConfig"
import * as SingleRunner from "effect/cluster/SingleRunner"
import type { ConfigError } from "effect/Config"
import * as Digest from "effect/crypto/Digest"
import * as Layer from "effect/Layer"
import type { SqlClient } from "effect/sql/SqlClient"
import * as WorkflowEngine from "effect/workflow/WorkflowEngine"

/** An in-memory engine (tests; runs do not survive the process). */
export const layerMemory: Layer.Layer<WorkflowEngine.WorkflowEngine> = WorkflowEngine.layerMemory

/** Options of `layerPostgres`. */
export interface PostgresOptions {
  /** Cluster tuning (poll intervals, shard counts); the defaults suit one machine. */
  readonly shardingConfig?: Partial<ShardingConfig["Service"]> | undefined
}

/** One machine: a single cluster runner storing runs in the `SqlClient`'s Postgres. */
export const layerPostgres = (
  options?: PostgresOptions
): Layer.Layer<WorkflowEngine.WorkflowEngine, ConfigError, SqlClient> =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provide(
      SingleRunner.layer({
        runnerStorage: "sql",
        shardingConfig: { entityMessagePollInterval: "500 millis", ...options?.shardingConfig }
      })
    ),
    Layer.provide(Digest.layerWebCrypto)
  )
