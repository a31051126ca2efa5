/**
 * One process of the kill tests: runs `RUN_ID` of the test agent durably on the Postgres at
 * `DATABASE_URL` against the scripted server at `VOLLEY_BASE_URL`, appending one line per event to
 * `LOG` (synchronously, so a line is on disk before anything after it happens): `tool <key>` when the
 * tool handler starts, `step <name> <key> <replayed>` when a step's stored result is back in the
 * loop, `result <json>` at the end. `VOLLEY_DURABLE_ENGINE=memory` stores nothing (the control run). The parent kills it with SIGKILL at random points and restarts it.
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
log("start")
const toolDelay = Number(env("TOOL_DELAY_MS") || "0")

const program = DurableAgent.run(adder, `steps=${env("STEPS")}`, { runId: env("RUN_ID") }).pipe(
  Effect.tap((result) => Effect.sync(() => log(`result ${JSON.stringify(result)}`)))
)

const layer = DurableAgent.layer(adder, {
  onStep: (report) => Effect.sync(() => log(`step ${report.name} ${report.key} ${report.replayed}`))
}).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      ResponsesClient.layerUndici({ baseUrl: env("VOLLEY_BASE_URL") }),
      toolsLayer((run) => log(`tool ${run.key ?? "none"} ${run.callId}`), Effect.sleep(toolDelay)),
      env("VOLLEY_DURABLE_ENGINE") === "memory"
        ? DurableEngine.layerMemory
        : DurableEngine.layerPostgres().pipe(Layer.provide(DurablePostgres.layerConfig()))
    )
  ),
  // knobs are read where the workflow runs: a run of 10 tool steps makes 11 model calls (default MaxTurns 10)
  Layer.provide(Layer.succeed(AgentKnobs.MaxTurns, 20))
)

Effect.runPromiseExit(program.pipe(Effect.provide(layer), Effect.scoped)).then((exit) => {
  if (exit._tag === "Failure") {
    log(`failure ${String(exit.cause).slice(0, 2000).replace(/\n/g, " ")}`)
    process.exit(1)
  }
  process.exit(0)
})
