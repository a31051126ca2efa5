import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { killSession } from "./support/killHarness.ts"

// CI runs a scaled-down count; `node packages/durable/scripts/durable-kill.ts` runs 100 kills.
const kills = Number(process.env.VOLLEY_DURABLE_KILLS ?? "10")

describe("kill -9 (one machine, embedded Postgres)", () => {
  it.live(
    `${kills} random kills across runs of 3-10 steps: every run completes, no completed step runs twice`,
    () =>
      Effect.gen(function* () {
        const figures = yield* killSession({ kills, seed: 20261203, toolDelayMs: 40, latencyMs: 60 })
        assert.deepStrictEqual(figures.problems, [])
        assert.strictEqual(figures.kills, kills)
        assert.strictEqual(figures.completed, figures.runs)
        assert.strictEqual(figures.duplicateModelSteps, 0)
        assert.strictEqual(figures.duplicateToolRuns, 0)
        assert.strictEqual(figures.invalidHistories, 0)
        // the kills landed mid-run: some steps came back from storage instead of running again
        assert.isAbove(figures.replayedSteps, 0)
        assert.isAbove(figures.killsMidRun, 0)
      }),
    240_000
  )

  it.live(
    "control: on the memory engine (nothing stored) the same checks see completed steps run again",
    () =>
      Effect.gen(function* () {
        const figures = yield* killSession({
          kills: 1,
          seed: 7,
          toolDelayMs: 400,
          latencyMs: 60,
          killAfterSteps: 1,
          engine: "memory"
        })
        assert.strictEqual(figures.killsMidRun, 1)
        assert.isAbove(figures.duplicateModelSteps + figures.duplicateToolRuns, 0)
        assert.isAbove(figures.problems.length, 0)
      }),
    120_000
  )
})
