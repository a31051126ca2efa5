/**
 * One runner of the failover test: a `NodeClusterSocket` runner on `RUNNER_PORT` sharing the
 * Postgres at `DATABASE_URL`, running the test agent against `VOLLEY_BASE_URL`. It logs to `LOG`
 * (synchronously) `ready`, `tool <key> <runId>` when the tool starts and `step <name> <key> <replayed> <runId>`
 * when a step is stored, and runs until it is killed.
 */
import { appendFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AgentKnobs } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { DurableAgent, DurableEngine, DurablePostgres } from "@volley/durable"
import { adder, toolsLayer } from "./agent.ts"

const env = (name: string): string => process.env[name] ?? ""
const log = (line: string) => appendFileSync(env("LOG"), `${Date.now()} ${line}\n`)

const Runner = DurableAgent.layer(adder, {
  onStep: (report) => Effect.sync(() => log(`step ${report.name} ${report.key} ${report.replayed} ${report.runId}`))
}).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      ResponsesClient.layerUndici({ baseUrl: env("VOLLEY_BASE_URL") }),
      toolsLayer((run) => log(`tool ${run.key ?? "none"} ${run.callId}`), Effect.sleep(Number(env("TOOL_DELAY_MS")))),
      DurableEngine.layerCluster({ runnerAddress: { host: "127.0.0.1", port: Number(env("RUNNER_PORT")) } })
    )
  ),
  Layer.provide(DurablePostgres.layerConfig()),
  Layer.provide(Layer.succeed(AgentKnobs.MaxTurns, 20))
)

Effect.runFork(
  Layer.launch(Layer.merge(Runner, Layer.effectDiscard(Effect.sync(() => log("ready"))))).pipe(
    Effect.catchCause((cause) => Effect.sync(() => log(`failure ${String(cause).replace(/\n/g, " ").slice(0, 2000)}`)))
  )
)
