import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ResponsesClient, type ResponsesSchema } from "@volley/core"
import { LocalModel, ResponsesServer, ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import type { AgentEvent } from "../src/AgentEvent.ts"
import { validatePairing } from "../src/internal/history.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const key = `sk-volley-CANARY-${Math.random().toString(36).slice(2)}`

const assistant = Agent.make({ name: "assistant", model: "m", instructions: "Be brief", toolkit: TestTools })

// The local Responses server on 127.0.0.1 and the real client over undici.
const env = (script: ReadonlyArray<M.Step>) => {
  const runs = makeRuns()
  const client = Layer.unwrap(
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layerUndici({ baseUrl: server.baseUrl, apiKey: Redacted.make(key) })
    })
  )
  const layer = Layer.mergeAll(client, testToolsLayer(runs)).pipe(Layer.provideMerge(ResponsesServer.layer(script)))
  return { runs, layer }
}

const bodies = Effect.gen(function* () {
  const server = yield* ResponsesServer.ResponsesServer
  return yield* server.requests
})

describe("end to end: local server + real client", () => {
  it.live("a tool-using conversation over HTTP, streaming and not, with valid histories on the wire", () =>
    Effect.gen(function* () {
      for (const streaming of [false, true]) {
        const { runs, layer } = env([
          M.turn(M.message("Let me check"), M.functionCall("get_weather", { city: "Paris" })),
          M.message("Sunny in Paris")
        ])
        const program = Effect.gen(function* () {
          const output = streaming
            ? (yield* Stream.runCollect(assistant.stream("Weather in Paris?")))
                .flatMap((event) => (event._tag === "TextDelta" ? [event.delta] : []))
                .join("")
            : yield* assistant
                .run("Weather in Paris?")
                .pipe(Effect.map((r) => (r._tag === "Completed" ? r.output : "")))
          const requests = yield* bodies
          return { output, requests }
        })
        const { output, requests } = yield* program.pipe(Effect.provide(layer))
        assert.include(output, "Sunny in Paris")
        assert.strictEqual(requests.length, 2)
        assert.strictEqual(runs.calls.length, 1)
        for (const request of requests) {
          assert.strictEqual(request.body?.stream, streaming)
          assert.strictEqual(request.body?.instructions, "Be brief")
          assert.isUndefined(validatePairing((request.body?.input ?? []) as ReadonlyArray<ResponsesSchema.InputItem>))
        }
      }
    })
  )

  it.live("C06 through the agent: a stream reset mid-turn gives TurnRestarted, then a fresh stream", () =>
    Effect.gen(function* () {
      const answer = M.message("A fairly long answer that streams in several deltas")
      const { layer } = env([M.withFault(answer, { dropAfterEvents: 5, drop: "reset" }), answer])
      const { events, requests } = yield* Effect.gen(function* () {
        const events = yield* Stream.runCollect(assistant.stream("Q"))
        return { events, requests: yield* bodies }
      }).pipe(Effect.provide(layer))
      const tags = events.map((event: AgentEvent) => event._tag)
      assert.include(tags, "TurnRestarted")
      const after = events.slice(tags.indexOf("TurnRestarted"))
      const text = after.flatMap((event) => (event._tag === "TextDelta" ? [event.delta] : [])).join("")
      assert.strictEqual(text, "A fairly long answer that streams in several deltas")
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[1]!.rawBody, requests[0]!.rawBody)
      assert.strictEqual(requests[1]!.headers["x-volley-retry-count"], "1")
    })
  )

  it.live("A10 stream drops on every attempt: maxRetries + 1 HTTP attempts in total, then the typed error", () =>
    Effect.gen(function* () {
      const drop = M.withFault(M.message("partial partial partial"), { dropAfterEvents: 3, drop: "end" })
      const { layer } = env([drop, drop, drop, drop, drop])
      const { error, requests } = yield* Effect.gen(function* () {
        const error = yield* Effect.flip(Stream.runDrain(assistant.stream("Q")))
        return { error, requests: yield* bodies }
      }).pipe(Effect.provide(layer))
      assert.strictEqual(error._tag, "ModelError")
      assert.strictEqual(error._tag === "ModelError" ? error.error._tag : "", "StreamTruncated")
      assert.strictEqual(requests.length, 3)
      assert.notInclude(JSON.stringify(error), key)
      assert.notInclude(JSON.stringify(error), key.slice(-8))
    })
  )

  it.live("E04 the consumer stops after 3 deltas: the server sees the connection close, no further request", () =>
    Effect.gen(function* () {
      const slow = M.withFault(M.message("one two three four five six seven eight nine ten"), {
        chunkDelay: "100 millis"
      })
      const { layer } = env([slow, M.message("never")])
      const { deltas, requests, log } = yield* Effect.gen(function* () {
        const deltas = yield* assistant.stream("Q").pipe(
          Stream.filter((event) => event._tag === "TextDelta"),
          Stream.take(3),
          Stream.runCollect
        )
        yield* Effect.sleep("300 millis")
        const server = yield* ResponsesServer.ResponsesServer
        return { deltas, requests: yield* bodies, log: yield* server.connectionLog }
      }).pipe(Effect.provide(layer))
      assert.strictEqual(deltas.length, 3)
      assert.strictEqual(requests.length, 1)
      assert.isTrue(log.every((connection) => connection.closedAt !== undefined))
    })
  )

  it.live("volley-local: the rule-based local model drives a full tool loop and structured output", () =>
    Effect.gen(function* () {
      const runs = makeRuns()
      const client = Layer.unwrap(
        Effect.gen(function* () {
          const server = yield* ResponsesServer.ResponsesServer
          return ResponsesClient.layerUndici({ baseUrl: server.baseUrl })
        })
      )
      const layer = Layer.mergeAll(client, testToolsLayer(runs)).pipe(Layer.provideMerge(LocalModel.layer()))
      const local = Agent.make({ name: "local", model: LocalModel.modelName, toolkit: TestTools })
      const result = yield* local.run("What is the weather in Paris and Berlin?").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      assert.deepStrictEqual(runs.calls.map((call) => call.name).sort(), ["get_weather", "get_weather"])
      assert.isUndefined(validatePairing(result.history))
      const Forecast = Schema.Struct({ city: Schema.String, tempC: Schema.Number })
      const structured = Agent.make({ name: "json", model: LocalModel.modelName, output: Forecast })
      const typed = yield* structured.run("Forecast for Rome").pipe(Effect.provide(layer))
      assert.strictEqual(typed._tag, "Completed")
      if (typed._tag === "Completed") assert.isString(typed.value.city)
    })
  )

  it.live("C03 and C05 over HTTP: Truncated and Refused, one request each", () =>
    Effect.gen(function* () {
      const a = env([M.incomplete("max_output_tokens", M.message("Partial"))])
      const truncated = yield* Effect.flip(assistant.run("Q")).pipe(Effect.provide(a.layer))
      assert.strictEqual(truncated._tag === "Truncated" ? truncated.reason : "", "max_output_tokens")
      const b = env([M.refusal("I can't help with that")])
      const refused = yield* Effect.flip(Stream.runDrain(assistant.stream("Q"))).pipe(Effect.provide(b.layer))
      assert.strictEqual(refused._tag === "Refused" ? refused.text : "", "I can't help with that")
    })
  )
})
