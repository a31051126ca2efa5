/**
 * `DurableEngine`: the workflow engines a durable run can use. `layerMemory` keeps everything in
 * memory (unit tests: nothing survives the process); `layerPostgres(options)` is one machine: a
 * `SingleRunner` of Effect's cluster with its messages, replies and runner state in Postgres
 * (needs a `SqlClient`, e.g. from `DurablePostgres`), so a restarted process resumes its runs;
 * `layerCluster(options)` is one of several machines: a `NodeClusterSocket` runner (or a
 * client-only node) sharing that Postgres, with intervals tuned for failover in seconds.
 * Gotcha: with one runner, a run only resumes when a process with this layer (and the agent's
 * `DurableAgent.layer`) starts again on the same database.
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as ClusterWorkflowEngine from "effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import type { ShardingConfig } from "effect/cluster/ShardingConfig"
import * as SingleRunner from "effect/cluster/SingleRunner"
import type { ConfigError } from "effect/Config"
import * as Digest from "effect/crypto/Digest"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { SocketServerError } from "effect/socket/SocketServer"
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

/**
 * Failover tuning for several runners (Effect's defaults in brackets): a dead runner is noticed and
 * its shards move within a few seconds instead of about half a minute.
 */
export const failoverTuning: Partial<ShardingConfig["Service"]> = {
  refreshAssignmentsInterval: "1 second", // [3 s]
  runnerHealthCheckInterval: "2 seconds", // [1 min]
  entityMessagePollInterval: "1 second", // [10 s]
  // a dead runner's shards are taken over once its lock rows expire: this bounds the takeover.
  // A runner that cannot refresh its locks for 4 s (a long GC pause, a stalled event loop) loses them.
  shardLockRefreshInterval: "1 second", // [10 s]
  shardLockExpiration: "4 seconds" // [35 s]
}

/** Options of `layerCluster`. */
export interface ClusterOptions {
  /** Where this runner listens and other nodes reach it (not used by client-only nodes). */
  readonly runnerAddress?: { readonly host: string; readonly port: number } | undefined
  /** An API node: submits runs and reads results, runs none (default false). */
  readonly clientOnly?: boolean | undefined
  /** Overrides on top of `failoverTuning`. */
  readonly shardingConfig?: Partial<ShardingConfig["Service"]> | undefined
}

/**
 * Several machines: a socket runner (or client-only node) of a cluster sharing the `SqlClient`'s
 * Postgres. Messages between nodes are NDJSON: the binary layout cannot tell the history's item
 * union apart.
 */
export const layerCluster = (
  options?: ClusterOptions
): Layer.Layer<WorkflowEngine.WorkflowEngine, ConfigError | SocketServerError, SqlClient> => {
  const address = options?.runnerAddress
  const shardingConfig: Partial<ShardingConfig["Service"]> = {
    ...failoverTuning,
    ...(address === undefined ? {} : { runnerAddress: Option.some(RunnerAddress.make(address.host, address.port)) }),
    ...options?.shardingConfig
  }
  return ClusterWorkflowEngine.layer.pipe(
    Layer.provide(
      options?.clientOnly === true
        ? NodeClusterSocket.layer({ clientOnly: true, storage: "sql", serialization: "ndjson", shardingConfig })
        : NodeClusterSocket.layer({ storage: "sql", serialization: "ndjson", shardingConfig })
    )
  )
}
