import { assert, describe, it } from "@effect/vitest"
import { ResponsesClient, ResponsesSchema } from "@volley/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalModel from "../src/LocalModel.ts"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import * as TestClient from "../src/TestClient.ts"

const ask = Effect.gen(function* () {
  const client = yield* ResponsesClient.ResponsesClient
  const created = yield* client.create({ model: "m", input: "What's the weather in Paris?" })
  return { text: ResponsesSchema.outputText(created.output ?? []), model: created.model }
})

const withConfig = (values: Record<string, string>) =>
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(values)))

describe("TestClient", () => {
  it.effect("layer: the client answers from the script in memory, with no socket", () =>
    Effect.gen(function* () {
      const answer = yield* ask
      assert.strictEqual(answer.text, "hello")
      const server = yield* ResponsesServer.ResponsesServer
      assert.strictEqual(server.baseUrl, "http://localhost/v1")
      assert.strictEqual((yield* server.requests).length, 1)
      assert.deepStrictEqual(yield* server.connectionLog, [])
      yield* server.assertComplete
    }).pipe(Effect.provide(TestClient.layer([ScriptedModel.message("hello")])))
  )

  it.live("layerServer: the client reaches a real loopback server over a TCP connection", () =>
    Effect.gen(function* () {
      const answer = yield* ask
      assert.strictEqual(answer.text, "over the socket")
      const server = yield* ResponsesServer.ResponsesServer
      assert.match(server.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      const connections = yield* server.connectionLog
      assert.strictEqual(connections.length, 1)
    }).pipe(Effect.provide(TestClient.layerServer([ScriptedModel.message("over the socket")])))
  )

  it.live("layerServer passes the client options on: with retries off a 503 fails after one request", () =>
    Effect.gen(function* () {
      const failed = yield* Effect.flip(ask)
      assert.isTrue(failed.retryable)
      const server = yield* ResponsesServer.ResponsesServer
      assert.strictEqual((yield* server.requests).length, 1)
    }).pipe(
      Effect.provide(
        TestClient.layerServer([ScriptedModel.httpError(503), ScriptedModel.message("unused")], {
          retryPolicy: { maxRetries: 0 }
        })
      )
    )
  )

  it.live("layerLocal: volley-local answers", () =>
    Effect.gen(function* () {
      const answer = yield* ask
      assert.strictEqual(answer.model, LocalModel.modelName)
    }).pipe(Effect.provide(TestClient.layerLocal()))
  )

  it.live("layerConfigOrLocal: volley-local when neither HAOAI_API_KEY nor HAOAI_BASE_URL is set", () =>
    Effect.gen(function* () {
      const answer = yield* ask
      assert.strictEqual(answer.model, LocalModel.modelName)
    }).pipe(Effect.provide(TestClient.layerConfigOrLocal().pipe(withConfig({}))))
  )

  it.live("layerConfigOrLocal: HAOAI_BASE_URL without a key is used as given (a loopback server)", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const answer = yield* ask.pipe(
        Effect.provide(TestClient.layerConfigOrLocal().pipe(withConfig({ HAOAI_BASE_URL: server.baseUrl })))
      )
      assert.strictEqual(answer.text, "from the configured server")
      assert.strictEqual((yield* server.requests).length, 1)
    }).pipe(Effect.provide(ResponsesServer.layer([ScriptedModel.message("from the configured server")])))
  )

  it.effect("layerConfigOrLocal: a remote HAOAI_BASE_URL without a key fails with InvalidConfiguration", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        ask.pipe(
          Effect.provide(
            TestClient.layerConfigOrLocal().pipe(withConfig({ HAOAI_BASE_URL: "https://api.example.invalid/v1" }))
          )
        )
      )
      assert.strictEqual(error._tag, "InvalidConfiguration")
      assert.include(error.message, "HAOAI_API_KEY is not set")
    })
  )
})
