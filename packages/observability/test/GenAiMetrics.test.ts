import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import { Agent } from "@volley/agent"
import { ScriptedModel as M, TestClient } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import { GenAiMetrics } from "../src/index.ts"

class Broken extends Schema.TaggedError<Broken>()("Broken", { why: Schema.String }) {}

const Flaky = Tool.make("flaky", {
  description: "Always fails with its typed failure",
  success: Schema.String,
  failure: Broken
})
const Kit = Toolkit.make(Flaky)
const kitLayer = Kit.toLayer({ flaky: () => Effect.fail(new Broken({ why: "down" })) })

/** Each test gets its own registry, so counts do not carry over. */
const fresh = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

const points = (id: string) => Effect.map(Metric.snapshot, (all) => all.filter((m) => m.id === id))

const attributesOf = (m: { readonly attributes: unknown }) => Object.fromEntries(Object.entries(m.attributes ?? {}))

describe("GenAiMetrics.tracer", () => {
  it.live("a tool's typed failure is counted by its tag; the model call's tokens by type", () =>
    fresh(
      Effect.gen(function* () {
        const agent = Agent.make({ name: "metered", model: "m-x", toolkit: Kit })
        yield* agent
          .run("go")
          .pipe(
            Effect.provide(
              Layer.mergeAll(
                TestClient.layer([
                  M.withUsage(M.functionCall("flaky"), { input_tokens: 3, output_tokens: 1 }),
                  M.withUsage(M.message("done"), { input_tokens: 4, output_tokens: 2 })
                ]),
                kitLayer
              ).pipe(Layer.orDie)
            ),
            Effect.provide(GenAiMetrics.layer)
          )
        const calls = yield* points("volley.tool.calls")
        assert.deepStrictEqual(calls.map(attributesOf), [
          { "gen_ai.tool.name": "flaky", "volley.tool.outcome": "ToolFailed" }
        ])
        const tokens = yield* points("gen_ai.client.token.usage")
        const input = tokens.find((m) => attributesOf(m)["gen_ai.token.type"] === "input")
        assert.deepStrictEqual(
          input?.state !== undefined && "sum" in input.state ? [input.state.count, input.state.sum] : undefined,
          [2, 7]
        )
      })
    )
  )

  it.effect("spans other than chat / execute_tool / invoke_agent pass through untouched and record nothing", () =>
    fresh(
      Effect.gen(function* () {
        const inner = yield* Tracer.Tracer
        const metered = GenAiMetrics.tracer(inner, yield* Effect.context<never>())
        const seen = yield* Effect.withSpan("POST", { attributes: { "gen_ai.usage.input_tokens": 5 } })(
          Effect.currentSpan
        ).pipe(Effect.provideService(Tracer.Tracer, metered))
        assert.strictEqual(seen.constructor, Tracer.NativeSpan)
        assert.strictEqual((yield* Metric.snapshot).length, 0)
      })
    )
  )

  it.effect("an interrupted chat span is Interrupted; a defect without a tag is _OTHER", () =>
    fresh(
      Effect.gen(function* () {
        const metered = GenAiMetrics.tracer(yield* Tracer.Tracer, yield* Effect.context<never>())
        yield* Effect.interrupt.pipe(
          Effect.withSpan("chat m-i", { attributes: { "gen_ai.request.model": "m-i" } }),
          Effect.provideService(Tracer.Tracer, metered),
          Effect.exit
        )
        yield* Effect.die("boom").pipe(
          Effect.withSpan("chat m-d", { attributes: { "gen_ai.request.model": "m-d" } }),
          Effect.provideService(Tracer.Tracer, metered),
          Effect.exit
        )
        const durations = (yield* points("gen_ai.client.operation.duration")).map(attributesOf)
        assert.deepStrictEqual(
          durations.map((a) => [a["gen_ai.request.model"], a["error.type"]]),
          [
            ["m-i", "Interrupted"],
            ["m-d", "_OTHER"]
          ]
        )
      })
    )
  )

  it.effect("attribute values are bounded: made-up tool names are _OTHER, and at most 100 names per key", () =>
    fresh(
      Effect.gen(function* () {
        const metered = GenAiMetrics.tracer(yield* Tracer.Tracer, yield* Effect.context<never>())
        const toolSpan = (name: string, errorType?: string) =>
          Effect.gen(function* () {
            if (errorType !== undefined) yield* Effect.annotateCurrentSpan({ "error.type": errorType })
          }).pipe(
            Effect.withSpan(`execute_tool ${name}`, { attributes: { "gen_ai.tool.name": name } }),
            Effect.provideService(Tracer.Tracer, metered)
          )
        yield* toolSpan("invented_by_the_model", "ToolNotFound")
        for (let i = 0; i < GenAiMetrics.maxValuesPerAttribute + 20; i++) yield* toolSpan(`tool_${i}`)
        const names = (yield* points("volley.tool.calls")).map((m) => attributesOf(m)["gen_ai.tool.name"])
        assert.notInclude(names, "invented_by_the_model")
        assert.include(names, "_OTHER")
        assert.include(names, "tool_0")
        assert.notInclude(names, `tool_${GenAiMetrics.maxValuesPerAttribute + 19}`)
        assert.isAtMost(new Set(names).size, GenAiMetrics.maxValuesPerAttribute + 1)
      })
    )
  )
})
