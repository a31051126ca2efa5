/**
 * One process of the streaming kill test: runs `RUN_ID` of the test agent durably and streaming on
 * the Postgres at `DATABASE_URL` against the scripted server at `VOLLEY_BASE_URL`, publishing its
 * live events with `RunEvents.layerPostgres` (NOTIFY). It appends `step <name> <replayed>` and
 * `result <output>` lines to `LOG` (synchronously). The test kills it with SIGKILL mid-stream and
 * starts it again.
 */
import { appendFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ResponsesClient } from "@volley/core"
import { DurableAgent, DurableEngine, DurablePostgres, RunEvents } from "@volley/durable"
import { adder, toolsLayer } from "./agent.ts"

const env = (name: string): string => process.env[name] ?? ""
const log = (line: string) => appendFileSync(env("LOG"), `${Date.now()} ${line}\n`)
log("start")

const layer = DurableAgent.layer(adder, {
  onStep: (report) => Effect.sync(() => log(`step ${report.name} ${report.replayed}`))
}).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      ResponsesClient.layerUndici({ baseUrl: env("VOLLEY_BASE_URL") }),
      toolsLayer(() => undefined),
      DurableEngine.layerPostgres(),
      RunEvents.layerPostgres
    )
  ),
  Layer.provide(DurablePostgres.layerConfig())
)

const program = DurableAgent.run(adder, "add up", { runId: env("RUN_ID") }).pipe(
  Effect.tap((result) => Effect.sync(() => log(`result ${result.output}`)))
)

Effect.runPromiseExit(program.pipe(Effect.provide(layer), Effect.scoped)).then((exit) => {
  if (exit._tag === "Failure") {
    log(`failure ${String(exit.cause).slice(0, 2000).replace(/\n/g, " ")}`)
    process.exit(1)
  }
  process.exit(0)
})
