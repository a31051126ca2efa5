import { assert, describe, it } from "@effect/vitest"
import { outputText } from "@volley/core/ResponsesSchema"
import * as Effect from "effect/Effect"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import { decodeEvents, decodeResponse, parseFrames, post, request } from "./helpers.ts"

const serve = <A, E>(
  script: ReadonlyArray<ScriptedModel.Step>,
  body: (server: ResponsesServer.ResponsesServer["Service"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    const server = yield* ResponsesServer.ResponsesServer
    return yield* body(server)
  }).pipe(Effect.provide(ResponsesServer.layer(script)))

describe("ScriptedModel builders over HTTP", () => {
  it.effect("message: JSON body", () =>
    serve([ScriptedModel.message("Hello there friend")], (server) =>
      Effect.gen(function* () {
        const answer = yield* post(server.baseUrl, request())
        assert.strictEqual(answer.status, 200)
        const response = decodeResponse(answer.text)
        assert.strictEqual(response.status, "completed")
        assert.strictEqual(outputText(response.output ?? []), "Hello there friend")
        assert.match(response.id, /^resp_/)
        yield* server.assertComplete
      })
    )
  )

  it.effect("message: SSE events in the seed's order, several deltas, [DONE]", () =>
    serve([ScriptedModel.message("Hello there friend")], (server) =>
      Effect.gen(function* () {
        const answer = yield* post(server.baseUrl, request("hi", { stream: true }))
        assert.strictEqual(answer.headers.get("content-type"), "text/event-stream")
        const frames = parseFrames(answer.text)
        assert.strictEqual(frames.at(-1)?.data, "[DONE]")
        const events = decodeEvents(answer.text)
        assert.deepStrictEqual(
          events.map((e) => e.type),
          [
            "response.created",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
          ]
        )
        assert.deepStrictEqual(
          events.map((e) => e.sequence_number),
          events.map((_, i) => i)
        )
        for (const frame of frames.slice(0, -1)) assert.strictEqual(frame.event, JSON.parse(frame.data).type)
      })
    )
  )
})
