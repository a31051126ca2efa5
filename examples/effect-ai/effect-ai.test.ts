import { assert, describe, it } from "@effect/vitest"
import { VolleyLanguageModel } from "@volley/effect-ai"
import { ResponsesServer, ScriptedModel as M, TestClient } from "@volley/testing"
import { Effect, Layer } from "effect"
import { examplePath, runScript } from "../shared/process.ts"
import { chatLoop, program, WeatherKitHandlers } from "./main.ts"

describe("effect-ai example", () => {
  it.live("effect/ai's Chat and a Volley agent both answer with the effect/ai tool on volley-local", () =>
    Effect.gen(function* () {
      const { viaChat, viaAgent } = yield* program("What's the weather in Paris?")
      assert.include(viaChat, "Paris")
      assert.include(viaAgent, "Paris")
    }).pipe(Effect.provide(Layer.mergeAll(WeatherKitHandlers, TestClient.layerLocal())))
  )

  it.live("the Chat loop sends the tool's output back and stops when the model answers", () =>
    Effect.gen(function* () {
      const answer = yield* chatLoop("Weather in Oslo?")
      assert.strictEqual(answer, "Cold in Oslo.")
      const server = yield* Effect.service(ResponsesServer.ResponsesServer)
      const second = (yield* server.request(1)).body!.input as ReadonlyArray<Record<string, unknown>>
      const output = second.find((item) => item.type === "function_call_output")
      assert.include(String(output?.output), '"city":"Oslo"')
    }).pipe(
      Effect.provide(
        VolleyLanguageModel.layer({ model: "m" }).pipe(
          Layer.provideMerge(
            TestClient.layer([M.functionCall("get_weather", { city: "Oslo" }), M.message("Cold in Oslo.")])
          ),
          Layer.merge(WeatherKitHandlers)
        )
      )
    )
  )

  it.live("the program runs as a process against volley-local", () =>
    Effect.gen(function* () {
      const ran = yield* runScript(examplePath("effect-ai/main.ts"), ["Weather in Tokyo?"], {})
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.match(ran.stdout, /^effect\/ai Chat: .*Tokyo.*\nVolley agent: .*Tokyo/)
    })
  )
})
