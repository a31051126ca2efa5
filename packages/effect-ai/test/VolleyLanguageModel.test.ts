import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as AiError from "effect/ai/AiError"
import * as Chat from "effect/ai/Chat"
import * as LanguageModel from "effect/ai/LanguageModel"
import * as AiTool from "effect/ai/Tool"
import * as AiToolkit from "effect/ai/Toolkit"
import { ResponsesServer, ScriptedModel as M, TestClient } from "@volley/testing"
import { VolleyLanguageModel } from "../src/index.ts"

const fast = { retryPolicy: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2, jitter: 0 } }

const provide = (script: TestClient.Script, options: VolleyLanguageModel.Options = { model: "m-1" }) =>
  Effect.provide(
    VolleyLanguageModel.layer(options).pipe(Layer.provideMerge(TestClient.layer(script, fast)), Layer.orDie)
  )

const request = (index: number) =>
  Effect.flatMap(Effect.service(ResponsesServer.ResponsesServer), (server) => server.request(index)).pipe(
    Effect.map((r) => r.body!),
    Effect.orDie
  )

const GetWeather = AiTool.make("get_weather", {
  description: "The weather of a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ forecast: Schema.String })
})
const WeatherKit = AiToolkit.make(GetWeather)
const weatherHandlers = WeatherKit.toLayer({
  get_weather: ({ city }) => Effect.succeed({ forecast: `sunny in ${city}` })
})

describe("VolleyLanguageModel", () => {
  it.live("generateText: system and user messages in, text, metadata, usage and finish reason out", () =>
    Effect.gen(function* () {
      const response = yield* LanguageModel.generateText({
        prompt: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hello?" }
        ]
      })
      assert.strictEqual(response.text, "Hi there")
      assert.strictEqual(response.finishReason, "stop")
      assert.strictEqual(response.usage.inputTokens.total, 12)
      assert.strictEqual(response.usage.outputTokens.total, 3)
      const body = yield* request(0)
      assert.strictEqual(body.model, "m-1")
      assert.strictEqual(body.temperature, 0.2)
      assert.deepStrictEqual(body.provider, { order: ["fast"] })
      assert.deepStrictEqual(body.input, [
        { type: "message", role: "system", content: "Be brief." },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Hello?" }] }
      ])
      assert.isUndefined(body.tools)
    }).pipe(
      provide([M.withUsage(M.message("Hi there"), { input_tokens: 12, output_tokens: 3 })], {
        model: "m-1",
        config: { temperature: 0.2, provider: { order: ["fast"] } }
      })
    )
  )

  it.live("history: an image as input_image, an earlier assistant answer as output_text; a forced tool choice", () =>
    Effect.gen(function* () {
      const toolkit = yield* WeatherKit
      yield* LanguageModel.generateText({
        prompt: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "file", mediaType: "image/png", data: new Uint8Array([1, 2, 3]) }
            ]
          },
          { role: "assistant", content: [{ type: "text", text: "A tiny image." }] },
          { role: "user", content: "And the weather in Lima?" }
        ],
        toolkit,
        toolChoice: { tool: "get_weather" }
      })
      const body = yield* request(0)
      assert.deepStrictEqual(body.input, [
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "What is this?" },
            { type: "input_image", image_url: "data:image/png;base64,AQID", detail: "auto" }
          ]
        },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "A tiny image." }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "And the weather in Lima?" }] }
      ])
      assert.deepStrictEqual(body.tool_choice, { type: "function", name: "get_weather" })
    }).pipe(provide([M.message("Sunny.")]), Effect.provide(weatherHandlers))
  )

  it.live("withConfigOverride changes the request fields of the calls inside it", () =>
    Effect.gen(function* () {
      yield* LanguageModel.generateText({ prompt: "x" }).pipe(
        VolleyLanguageModel.withConfigOverride({ temperature: 0.9, max_output_tokens: 50 })
      )
      const body = yield* request(0)
      assert.strictEqual(body.temperature, 0.9)
      assert.strictEqual(body.max_output_tokens, 50)
    }).pipe(provide([M.message("ok")], { model: "m-1", config: { temperature: 0.2 } }))
  )

  it.live("streamText: text-start, deltas, text-end and a finish part with usage", () =>
    Effect.gen(function* () {
      const parts = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "Tell me" }))
      const types = parts.map((p) => p.type)
      assert.include(types, "text-start")
      assert.include(types, "text-end")
      assert.strictEqual(
        parts.flatMap((p) => (p.type === "text-delta" ? [p.delta] : [])).join(""),
        "streamed words here"
      )
      const finish = parts.find((p) => p.type === "finish")
      assert.strictEqual(finish?.type === "finish" ? finish.reason : undefined, "stop")
      assert.strictEqual(finish?.type === "finish" ? finish.usage.outputTokens.total : undefined, 4)
      assert.strictEqual((yield* request(0)).stream, true)
    }).pipe(provide([M.withUsage(M.message("streamed words here"), { input_tokens: 2, output_tokens: 4 })]))
  )

  it.live("streamGenerate: generateText over the SSE stream folds the deltas into text and a tool call", () =>
    Effect.gen(function* () {
      const toolkit = yield* WeatherKit
      const response = yield* LanguageModel.generateText({ prompt: "Hi", toolkit })
      assert.strictEqual(response.text, "Let me check")
      assert.deepStrictEqual(
        response.toolCalls.map((c) => [c.name, c.params]),
        [["get_weather", { city: "Lima" }]]
      )
      assert.strictEqual(response.usage.inputTokens.total, 5)
      assert.strictEqual((yield* request(0)).stream, true)
    }).pipe(
      provide(
        [
          M.withUsage(M.turn(M.message("Let me check"), M.functionCall("get_weather", { city: "Lima" })), {
            input_tokens: 5,
            output_tokens: 6
          })
        ],
        { model: "m-1", streamGenerate: true }
      ),
      Effect.provide(weatherHandlers)
    )
  )

  it.live("generateObject: a json_schema text.format, and the answer decoded with the schema", () =>
    Effect.gen(function* () {
      const Person = Schema.Struct({ name: Schema.String, age: Schema.Number })
      const response = yield* LanguageModel.generateObject({ prompt: "Who?", schema: Person, objectName: "person" })
      assert.deepStrictEqual(response.value, { name: "Ada", age: 36 })
      const format = (yield* request(0)).text?.format
      assert.strictEqual(format?.type, "json_schema")
      if (format?.type === "json_schema") {
        assert.strictEqual(format.name, "person")
        assert.strictEqual(format.strict, true)
        assert.deepStrictEqual(Object.keys(format.schema.properties as object), ["name", "age"])
      }
    }).pipe(provide([M.message(JSON.stringify({ name: "Ada", age: 36 }))]))
  )

  it.live("generateObject with another codec transformer: its JSON Schema, sent with strict: false", () =>
    Effect.gen(function* () {
      const Tags = Schema.Record(Schema.String, Schema.Number)
      const response = yield* LanguageModel.generateObject({ prompt: "Count", schema: Tags, objectName: "tags" })
      assert.deepStrictEqual(response.value, { a: 1, b: 2 })
      const format = (yield* request(0)).text?.format
      assert.strictEqual(format?.type === "json_schema" ? format.strict : undefined, false)
      assert.strictEqual(format?.type === "json_schema" ? format.schema.type : undefined, "object")
    }).pipe(
      provide([M.message(JSON.stringify({ a: 1, b: 2 }))], {
        model: "m-1",
        codecTransformer: LanguageModel.defaultCodecTransformer
      })
    )
  )

  it.live("generateObject: an answer that does not match the schema is an AiError", () =>
    Effect.gen(function* () {
      const error = yield* LanguageModel.generateObject({
        prompt: "Who?",
        schema: Schema.Struct({ name: Schema.String })
      }).pipe(Effect.flip)
      assert.isTrue(AiError.isAiError(error))
    }).pipe(provide([M.message("not json")]))
  )

  it.live("tool calls: effect/ai's toolkit runs the call; the definition carries the tool's JSON Schema", () =>
    Effect.gen(function* () {
      const toolkit = yield* WeatherKit
      const response = yield* LanguageModel.generateText({ prompt: "Weather in Paris?", toolkit })
      assert.strictEqual(response.finishReason, "tool-calls")
      assert.deepStrictEqual(
        response.toolCalls.map((c) => [c.id, c.name, c.params]),
        [["call_1", "get_weather", { city: "Paris" }]]
      )
      assert.deepStrictEqual(
        response.toolResults.map((r) => r.result),
        [{ forecast: "sunny in Paris" }]
      )
      const body = yield* request(0)
      const tool = body.tools?.[0]
      assert.strictEqual(tool?.type, "function")
      if (tool?.type === "function") {
        assert.strictEqual(tool.name, "get_weather")
        assert.strictEqual(tool.description, "The weather of a city")
        assert.deepStrictEqual((tool.parameters as { required: unknown }).required, ["city"])
      }
      assert.strictEqual(body.tool_choice, "auto")
    }).pipe(
      provide([M.functionCall("get_weather", { city: "Paris" }, { callId: "call_1" })]),
      Effect.provide(weatherHandlers)
    )
  )

  it.live("Chat: a tool loop sends the call and its result back as function_call / function_call_output", () =>
    Effect.gen(function* () {
      const toolkit = yield* WeatherKit
      const chat = yield* Chat.fromPrompt([{ role: "user", content: "Weather in Oslo?" }])
      const first = yield* chat.generateText({ prompt: [], toolkit })
      assert.strictEqual(first.toolCalls.length, 1)
      const second = yield* chat.generateText({ prompt: [], toolkit })
      assert.strictEqual(second.text, "It is sunny in Oslo.")
      const body = yield* request(1)
      const input = body.input as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(
        input.map((item) => item.type),
        ["message", "function_call", "function_call_output"]
      )
      assert.deepStrictEqual(input[1], {
        type: "function_call",
        call_id: "call_9",
        name: "get_weather",
        arguments: JSON.stringify({ city: "Oslo" })
      })
      assert.deepStrictEqual(input[2], {
        type: "function_call_output",
        call_id: "call_9",
        output: JSON.stringify({ forecast: "sunny in Oslo" })
      })
    }).pipe(
      provide([
        M.functionCall("get_weather", { city: "Oslo" }, { callId: "call_9" }),
        M.message("It is sunny in Oslo.")
      ]),
      Effect.provide(weatherHandlers)
    )
  )

  it.live("streamText with a toolkit: tool-params parts and a tool-call part from the stream", () =>
    Effect.gen(function* () {
      const toolkit = yield* WeatherKit
      const parts = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "Weather?", toolkit }))
      const types = parts.map((p) => p.type)
      assert.includeMembers(types, [
        "tool-params-start",
        "tool-params-delta",
        "tool-params-end",
        "tool-call",
        "tool-result"
      ])
      const finish = parts.find((p) => p.type === "finish")
      assert.strictEqual(finish?.type === "finish" ? finish.reason : undefined, "tool-calls")
    }).pipe(
      provide([M.functionCall("get_weather", { city: "Rome" }, { deltas: ['{"city":', '"Rome"}'] })]),
      Effect.provide(weatherHandlers)
    )
  )

  it.live("a 429 after the client's retries is an AiError RateLimitError with Volley's details", () =>
    Effect.gen(function* () {
      const error = yield* LanguageModel.generateText({ prompt: "x" }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "AiError")
      assert.strictEqual(error.reason._tag, "RateLimitError")
      assert.isTrue(error.isRetryable)
      const metadata = (error.reason as { readonly metadata?: unknown }).metadata as {
        readonly volley?: { readonly attempts?: number; readonly tag?: string }
      }
      assert.strictEqual(metadata.volley?.tag, "RateLimitError")
      assert.strictEqual(metadata.volley?.attempts, 3)
      assert.strictEqual(
        (yield* Effect.service(ResponsesServer.ResponsesServer).pipe(Effect.flatMap((s) => s.requests))).length,
        3
      )
    }).pipe(
      provide([
        M.httpError(429, { headers: { "retry-after-ms": "0" } }),
        M.httpError(429, { headers: { "retry-after-ms": "0" } }),
        M.httpError(429, { headers: { "retry-after-ms": "0" } })
      ])
    )
  )

  it.live("a 401 is an AiError AuthenticationError (kind InvalidKey), not retried", () =>
    Effect.gen(function* () {
      const error = yield* LanguageModel.generateText({ prompt: "x" }).pipe(Effect.flip)
      assert.strictEqual(error.reason._tag, "AuthenticationError")
      if (error.reason._tag === "AuthenticationError") assert.strictEqual(error.reason.kind, "InvalidKey")
      assert.isFalse(error.isRetryable)
    }).pipe(provide([M.httpError(401)]))
  )

  it.live("a malformed stream is an AiError InvalidResponseError", () =>
    Effect.gen(function* () {
      const error = yield* Stream.runDrain(LanguageModel.streamText({ prompt: "x" })).pipe(Effect.flip)
      assert.strictEqual(error._tag, "AiError")
      assert.strictEqual(error.reason._tag, "InvalidResponseError")
      if (error.reason._tag === "InvalidResponseError") assert.include(error.reason.description, "StreamProtocolError")
    }).pipe(provide([M.sse(["event: response.created\ndata: {not json\n\n"])]))
  )
})
