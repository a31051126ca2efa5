import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { AgentKnobs } from "@volley/agent"
import { DurableAgent, DurableEngine } from "@volley/durable"
import { ResponsesServer, TestClient } from "@volley/testing"
import { validatePairing } from "../../agent/src/internal/history.ts"
import { adder, script, type ToolRun, toolsLayer } from "./support/agent.ts"

const setup = (steps: number) => {
  const toolRuns: Array<ToolRun> = []
  const reports: Array<DurableAgent.StepReport> = []
  const base = Layer.mergeAll(
    TestClient.layer({ fallback: script(steps) }),
    toolsLayer((run) => toolRuns.push(run)),
    DurableEngine.layerMemory
  )
  const layer = DurableAgent.layer(adder, { onStep: (report) => Effect.sync(() => reports.push(report)) }).pipe(
    Layer.provideMerge(base)
  )
  return { toolRuns, reports, layer }
}

describe("DurableAgent on the memory engine", () => {
  it.effect("one step per model call and per tool call, named model/<turn> and tool/<turn>/<call_id>", () =>
    Effect.gen(function* () {
      const { toolRuns, reports, layer } = setup(3)
      const result = yield* DurableAgent.run(adder, "add up", { runId: "run-1" }).pipe(Effect.provide(layer))
      assert.strictEqual(result.output, "done 3")
      assert.strictEqual(result.turns, 4)
      assert.isUndefined(validatePairing(result.history))
      assert.deepStrictEqual(
        reports.map((report) => report.name),
        ["model/1", "tool/1/c1", "model/2", "tool/2/c2", "model/3", "tool/3/c3", "model/4"]
      )
      assert.isTrue(reports.every((report) => !report.replayed && report.runId === "run-1"))
      assert.strictEqual(toolRuns.length, 3)
    })
  )

  it.effect("the step key is sent as Idempotency-Key and handed to tools; it differs per step", () =>
    Effect.gen(function* () {
      const { toolRuns, reports, layer } = setup(2)
      const requests = yield* Effect.gen(function* () {
        yield* DurableAgent.run(adder, "add up", { runId: "run-keys" })
        const server = yield* ResponsesServer.ResponsesServer
        return yield* server.requests
      }).pipe(Effect.provide(layer))
      const keyOf = (name: string) => reports.find((report) => report.name === name)!.key
      assert.deepStrictEqual(
        requests.map((request) => request.headers["idempotency-key"]),
        [keyOf("model/1"), keyOf("model/2"), keyOf("model/3")]
      )
      assert.deepStrictEqual(
        toolRuns.map((run) => run.key),
        [keyOf("tool/1/c1"), keyOf("tool/2/c2")]
      )
      assert.strictEqual(new Set(reports.map((report) => report.key)).size, reports.length)
      assert.match(keyOf("model/1"), /^[0-9a-f]{16,}$/)
    })
  )

  it.effect("submitting the same runId again joins the run: same result, no new request, no tool re-run", () =>
    Effect.gen(function* () {
      const { toolRuns, layer } = setup(2)
      const [first, second, count] = yield* Effect.gen(function* () {
        const first = yield* DurableAgent.run(adder, "add up", { runId: "run-join" })
        const second = yield* DurableAgent.run(adder, "a different prompt is ignored", { runId: "run-join" })
        const server = yield* ResponsesServer.ResponsesServer
        return [first, second, (yield* server.requests).length] as const
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(second, first)
      assert.strictEqual(count, 3)
      assert.strictEqual(toolRuns.length, 2)
    })
  )

  it.effect("a run that fails ends with its typed AgentError; knobs given to the layer reach the run", () =>
    Effect.gen(function* () {
      const { layer } = setup(5)
      const error = yield* DurableAgent.run(adder, "add up", { runId: "run-max" }).pipe(
        Effect.provide(layer.pipe(Layer.provide(Layer.succeed(AgentKnobs.MaxTurns, 2)))),
        Effect.flip
      )
      assert.strictEqual(error._tag, "MaxTurnsExceeded")
    })
  )
})

describe("replaying stored steps", () => {
  it.effect("the loop between steps is deterministic: stored results replay to the same steps and history", () =>
    Effect.gen(function* () {
      // record: every step's result, encoded as the engine stores it (JSON through the step's schema)
      const stored = new Map<string, unknown>()
      const order: Array<string> = []
      const recorder: AgentKnobs.StepWrapperShape = {
        wrap: (id, step, schema) => {
          const name = DurableAgent.stepName(id)
          order.push(name)
          if (schema === undefined) return step
          const codec = Schema.toCodecJson(schema.success)
          return Effect.tap(step, (value) =>
            Effect.sync(() => stored.set(name, JSON.parse(JSON.stringify(Schema.encodeSync(codec)(value)))))
          )
        }
      }
      const toolRuns: Array<ToolRun> = []
      const live = Layer.mergeAll(
        TestClient.layer({ fallback: script(4) }),
        toolsLayer((run) => toolRuns.push(run))
      )
      const first = yield* adder
        .run("add up", { runId: "replay" })
        .pipe(Effect.provideService(AgentKnobs.StepWrapper, recorder), Effect.provide(live))
      // replay: no server answers (an empty script), tools must not run; every step comes from storage
      const replayed: Array<string> = []
      const replayer: AgentKnobs.StepWrapperShape = {
        wrap: (id, _step, schema) => {
          const name = DurableAgent.stepName(id)
          replayed.push(name)
          if (schema === undefined || !stored.has(name)) return Effect.die(`step ${name} was not stored`)
          return Schema.decodeUnknownEffect(Schema.toCodecJson(schema.success))(stored.get(name)).pipe(Effect.orDie)
        }
      }
      const before = toolRuns.length
      const second = yield* adder.run("add up", { runId: "replay" }).pipe(
        Effect.provideService(AgentKnobs.StepWrapper, replayer),
        Effect.provide(
          Layer.mergeAll(
            TestClient.layer([]),
            toolsLayer((run) => toolRuns.push(run))
          )
        )
      )
      assert.deepStrictEqual(replayed, order)
      assert.strictEqual(toolRuns.length, before)
      assert.deepStrictEqual(second.history, first.history)
      assert.strictEqual(second._tag === "Completed" ? second.output : "", "done 4")
    })
  )
})
