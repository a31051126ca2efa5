import { assert, describe, it } from "@effect/vitest"
import { ResponsesClient, ResponsesSchema } from "@volley/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import { canary } from "./helpers.ts"

// @volley/core's real client over the in-memory HttpClient: no socket, TestClock time.
const env = (script: ReadonlyArray<ScriptedModel.Step>) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layer({ baseUrl: server.baseUrl, apiKey: Redacted.make(canary) })
    })
  ).pipe(Layer.provideMerge(ResponsesServer.layerHttpClient(script)))

describe("with @volley/core's client (in memory)", () => {
  it.effect("create, stream, and a retried 503 (retry-after-ms: 0)", () =>
    Effect.gen(function* () {
      const client = yield* ResponsesClient.ResponsesClient
      const server = yield* ResponsesServer.ResponsesServer
      const created = yield* client.create({ model: "m", input: "hi" })
      assert.strictEqual(ResponsesSchema.outputText(created.output ?? []), "hello there")
      const events = yield* Stream.runCollect(client.stream({ model: "m", input: "hi" }))
      assert.strictEqual(events.at(-1)?.type, "response.completed")
      const retried = yield* client.create({ model: "m", input: "again" })
      assert.strictEqual(ResponsesSchema.outputText(retried.output ?? []), "after retry")
      const requests = yield* server.requests
      assert.strictEqual(requests.length, 4)
      assert.strictEqual(requests[0]?.headers.authorization, `Bearer ${canary}`)
      assert.strictEqual(requests[1]?.body?.stream, true)
      yield* server.assertComplete
    }).pipe(
      Effect.provide(
        env([
          ScriptedModel.message("hello there"),
          ScriptedModel.message("streamed answer"),
          ScriptedModel.httpError(503, { headers: { "retry-after-ms": "0" } }),
          ScriptedModel.message("after retry")
        ])
      )
    )
  )
})
