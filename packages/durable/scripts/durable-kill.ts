/**
 * The big kill -9 run of issue 15: `node packages/durable/scripts/durable-kill.ts [kills] [seed]`
 * (default 100 kills) starts an embedded Postgres and a scripted server, kills child processes at
 * random points across runs of 3-10 steps, restarts them until every run completes, and prints the
 * figures as JSON. Exits non-zero when a run did not complete or a completed step ran twice.
 */
import * as Effect from "effect/Effect"
import { killSession } from "../test/support/killHarness.ts"

const kills = Number(process.argv[2] ?? "100")
const seed = Number(process.argv[3] ?? "15")

const figures = await Effect.runPromise(
  killSession({
    kills,
    seed,
    toolDelayMs: 40,
    latencyMs: 60,
    progress: (line) => process.stderr.write(`${line}\n`)
  })
)
process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`)
const ok =
  figures.problems.length === 0 &&
  figures.completed === figures.runs &&
  figures.duplicateModelSteps === 0 &&
  figures.duplicateToolRuns === 0 &&
  figures.invalidHistories === 0
process.exit(ok ? 0 : 1)
