import { assert, describe, it } from "@effect/vitest"
import { OtlpReceiver, TestClient } from "@volley/testing"
import { Effect, Layer, Redacted } from "effect"
import { WeatherHandlers } from "../quickstart/weather.ts"
import { examplePath, runScript } from "../shared/process.ts"
import { program, Telemetry } from "./main.ts"

const { metricNames, receiver, spanNames } = OtlpReceiver

const key = `sk-volley-CANARY-${Math.random().toString(36).slice(2, 12)}`

describe("otlp example", () => {
  it.live("exports the run's spans and GenAI metrics to an in-process collector, without the key or the prompt", () =>
    Effect.gen(function* () {
      const collector = yield* receiver
      const answer = yield* program("What's the weather in Paris?").pipe(
        Effect.provide(Layer.mergeAll(WeatherHandlers, TestClient.layerLocal({ apiKey: Redacted.make(key) }))),
        Effect.provide(Telemetry(collector.url))
      )
      assert.include(answer, "Paris")
      const spans = spanNames(collector.received)
      assert.include(spans, "invoke_agent quickstart")
      assert.include(spans, "execute_tool get_weather")
      assert.strictEqual(spans.filter((name) => name.startsWith("chat ")).length, 2)
      assert.includeMembers(metricNames(collector.received), [
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "volley.tool.calls",
        "volley.agent.runs"
      ])
      const bytes = collector.received.map((r) => r.body).join("\n")
      assert.notInclude(bytes, key)
      assert.notInclude(bytes, "What's the weather")
    })
  )

  it.live("the program exports to the URL on its command line", () =>
    Effect.gen(function* () {
      const collector = yield* receiver
      const ran = yield* runScript(examplePath("otlp/main.ts"), [collector.url], {})
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "Paris")
      assert.include(spanNames(collector.received), "invoke_agent quickstart")
      assert.include(metricNames(collector.received), "gen_ai.client.token.usage")
    })
  )
})
