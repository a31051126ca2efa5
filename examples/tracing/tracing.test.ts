import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { TestClient } from "@volley/testing"
import { Effect, Layer, Redacted } from "effect"
import { WeatherHandlers } from "../quickstart/weather.ts"
import { examplePath, runScript } from "../shared/process.ts"
import { program, Tracing } from "./main.ts"

const key = `sk-volley-CANARY-${Math.random().toString(36).slice(2, 12)}`

describe("tracing example", () => {
  it.live("exports invoke_agent > chat > execute_tool spans with GenAI attributes and no secrets or content", () =>
    Effect.gen(function* () {
      const exporter = new InMemorySpanExporter()
      const client = TestClient.layerLocal({ apiKey: Redacted.make(key) })
      // Read the spans while the SDK is still up: its shutdown clears the in-memory exporter.
      const { answer, spans } = yield* program("What's the weather in Paris?").pipe(
        Effect.provide(Layer.mergeAll(WeatherHandlers, client)),
        Effect.map((answer) => ({ answer, spans: exporter.getFinishedSpans() })),
        Effect.provide(Tracing(exporter))
      )
      assert.include(answer, "Paris")
      const run = spans.find((span) => span.name === "invoke_agent quickstart")
      const chats = spans.filter((span) => span.name.startsWith("chat "))
      const tools = spans.filter((span) => span.name === "execute_tool get_weather")
      assert.isDefined(run)
      assert.strictEqual(chats.length, 2)
      assert.strictEqual(tools.length, 1)
      const chat = chats[0]!
      assert.strictEqual(chat.attributes["gen_ai.operation.name"], "chat")
      assert.strictEqual(chat.attributes["gen_ai.request.model"], "volley-local")
      assert.isString(chat.attributes["gen_ai.response.id"])
      assert.isNumber(chat.attributes["gen_ai.usage.input_tokens"])
      assert.isNumber(chat.attributes["gen_ai.usage.output_tokens"])
      assert.strictEqual(chat.attributes["server.address"], "127.0.0.1")
      assert.strictEqual(tools[0]!.attributes["gen_ai.tool.name"], "get_weather")
      const dump = JSON.stringify(
        spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events }))
      )
      assert.notInclude(dump, key)
      assert.notInclude(dump, key.slice(-8))
      assert.notInclude(dump, "What's the weather", "prompts are not recorded by default")
    })
  )

  it.live("a remote HAOAI_BASE_URL without a key is one error line, no stack trace, exit code 1", () =>
    Effect.gen(function* () {
      const ran = yield* runScript(examplePath("tracing/main.ts"), [], {
        HAOAI_BASE_URL: "https://api.example.invalid/v1"
      })
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stdout, "")
      assert.strictEqual(
        ran.stderr,
        "error: InvalidConfiguration: HAOAI_API_KEY is not set (a missing key is allowed only for loopback base URLs)\n"
      )
    })
  )
})
