import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AgentKnobs } from "@volley/agent"
import { DurableAgent, DurableEngine, DurablePostgres } from "@volley/durable"
import { ResponsesServer, TestClient } from "@volley/testing"
import { validatePairing } from "../../agent/src/internal/history.ts"
import { adder, script, type ToolRun, toolsLayer } from "./support/agent.ts"

describe("DurableEngine.layerPostgres (one machine)", () => {
  it.live(
    "runs on Postgres, and a restarted engine on the same database joins the finished run without any step",
    () =>
      Effect.gen(function* () {
        const parent = mkdtempSync(join(tmpdir(), "volley-pg-"))
        chmodSync(parent, 0o755)
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(parent, { recursive: true, force: true })))
        const server = yield* DurablePostgres.startEmbedded({ dataDir: join(parent, "postgres"), ephemeral: true })
        const toolRuns: Array<ToolRun> = []
        const reports: Array<DurableAgent.StepReport> = []
        // one process lifetime: the engine, the agent's workflow and a fresh scripted server
        const lifetime = <A, E, R>(effect: Effect.Effect<A, E, R>, maxTurns = 10) =>
          effect.pipe(
            Effect.provide(
              DurableAgent.layer(adder, { onStep: (report) => Effect.sync(() => reports.push(report)) }).pipe(
                Layer.provide(Layer.succeed(AgentKnobs.MaxTurns, maxTurns)),
                Layer.provideMerge(
                  Layer.mergeAll(
                    TestClient.layer({ fallback: script(3) }),
                    toolsLayer((run) => toolRuns.push(run)),
                    DurableEngine.layerPostgres().pipe(Layer.provide(DurablePostgres.layer(server.url)))
                  )
                )
              )
            ),
            Effect.scoped
          )
        const first = yield* lifetime(DurableAgent.run(adder, "add up", { runId: "pg-1" }))
        assert.strictEqual(first.output, "done 3")
        assert.isUndefined(validatePairing(first.history))
        assert.strictEqual(reports.length, 7)
        assert.strictEqual(toolRuns.length, 3)
        const [again, requests] = yield* lifetime(
          Effect.gen(function* () {
            const again = yield* DurableAgent.run(adder, "add up", { runId: "pg-1" })
            return [again, (yield* (yield* ResponsesServer.ResponsesServer).requests).length] as const
          })
        )
        assert.deepStrictEqual(again, first)
        assert.strictEqual(requests, 0, "the second lifetime sent no model request")
        assert.strictEqual(toolRuns.length, 3, "and ran no tool")
        // knobs are read where the workflow runs: given to the layer, they reach the run
        const error = yield* lifetime(Effect.flip(DurableAgent.run(adder, "add up", { runId: "pg-2" })), 2)
        assert.strictEqual(error._tag, "MaxTurnsExceeded")
      }).pipe(Effect.scoped),
    120_000
  )
})
