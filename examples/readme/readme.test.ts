import { assert, describe, it } from "@effect/vitest"
import { ResponsesClient } from "@volley/core"
import { LocalModel, ResponsesServer } from "@volley/testing"
import { ConfigProvider, Effect, Layer } from "effect"
import { examplePath, runScript } from "../shared/process.ts"
import { agent, WeatherHandlers } from "./main.ts"

const main = examplePath("readme/main.ts")

describe("README sample", () => {
  it.live("runs against the local model through layerConfig, with both tool calls in one turn", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ HAOAI_BASE_URL: server.baseUrl }))
      const result = yield* agent
        .run("What's the weather in Paris and Tokyo?")
        .pipe(
          Effect.provide(Layer.mergeAll(WeatherHandlers, ResponsesClient.layerConfig().pipe(Layer.provide(config))))
        )
      assert.strictEqual(result._tag, "Completed")
      if (result._tag !== "Completed") return
      assert.include(result.output, "Paris")
      assert.include(result.output, "Tokyo")
      const calls = result.history.filter((item) => item.type === "function_call")
      assert.strictEqual(calls.length, 2)
      const requests = yield* server.requests
      assert.strictEqual(requests.length, 2, "one turn with two parallel calls, then the answer")
    }).pipe(Effect.provide(LocalModel.layer()))
  )

  it.live("node examples/readme/main.ts without a key answers from volley-local and says so on stderr", () =>
    Effect.gen(function* () {
      const ran = yield* runScript(main, [])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "Paris")
      assert.include(ran.stdout, "Tokyo")
      assert.strictEqual(ran.stderr, `${LocalModel.notice}\n`)
    })
  )

  it.live("a remote HAOAI_BASE_URL without a key is one error line, no stack trace, exit code 1", () =>
    Effect.gen(function* () {
      const ran = yield* runScript(main, [], { HAOAI_BASE_URL: "https://api.example.invalid/v1" })
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stdout, "")
      assert.strictEqual(
        ran.stderr,
        "error: InvalidConfiguration: HAOAI_API_KEY is not set (a missing key is allowed only for loopback base URLs)\n"
      )
    })
  )
})
