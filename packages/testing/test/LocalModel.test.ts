import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as LocalModel from "../src/LocalModel.ts"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import { decodeEvents, decodeResponse, post } from "./helpers.ts"
import { ResponsesSchema } from "@volley/core"

const getWeather = {
  type: "function" as const,
  name: "get_weather",
  description: "Get the current weather for a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
    required: ["city", "unit"],
    additionalProperties: false
  }
}
const quickstart = "What's the weather in Paris and Tokyo?"

describe("LocalModel (volley-local)", () => {
  it.effect(
    "quickstart: two parallel get_weather calls, then a message using the outputs (over HTTP, JSON and SSE)",
    () =>
      Effect.gen(function* () {
        const server = yield* ResponsesServer.ResponsesServer
        const first = decodeResponse(
          (yield* post(server.baseUrl, { model: "any", input: quickstart, tools: [getWeather] })).text
        )
        assert.strictEqual(first.model, "volley-local")
        const calls = (first.output ?? []).filter((item) => item.type === "function_call") as Array<{
          call_id: string
          name: string
          arguments: string
        }>
        assert.deepStrictEqual(
          calls.map((c) => c.name),
          ["get_weather", "get_weather"]
        )
        assert.deepStrictEqual(
          calls.map((c) => JSON.parse(c.arguments)),
          [
            { city: "Paris", unit: "celsius" },
            { city: "Tokyo", unit: "celsius" }
          ]
        )
        const outputs = [
          {
            type: "function_call_output",
            call_id: calls[0]!.call_id,
            output: '{"city":"Paris","temperature":"18°C","conditions":"light rain"}'
          },
          {
            type: "function_call_output",
            call_id: calls[1]!.call_id,
            output: '{"city":"Tokyo","temperature":"24°C","conditions":"clear"}'
          }
        ]
        const second = yield* post(server.baseUrl, {
          model: "any",
          stream: true,
          tools: [getWeather],
          input: [
            { role: "user", content: quickstart },
            ...calls.map((c) => ({ type: "function_call", ...c })),
            ...outputs
          ]
        })
        const events = decodeEvents(second.text)
        const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []))
        assert.isAtLeast(deltas.length, 3)
        const final = events.at(-1) as {
          type: string
          response: { output: []; usage: { input_tokens: number; output_tokens: number } }
        }
        assert.strictEqual(final.type, "response.completed")
        assert.strictEqual(
          ResponsesSchema.outputText(final.response.output),
          "Paris: 18°C, light rain. Tokyo: 24°C, clear."
        )
        assert.isAbove(final.response.usage.input_tokens, 10)
        assert.isAbove(final.response.usage.output_tokens, 3)
      }).pipe(Effect.provide(LocalModel.layer()))
  )

  it("the README's weather tool: numeric fields get units", () => {
    const readmeTool = {
      type: "function" as const,
      name: "get_weather",
      description: "Current weather for a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
        additionalProperties: false
      },
      strict: true
    }
    const first = LocalModel.respond({ model: "m", input: quickstart, tools: [readmeTool] })
    const calls = first.items.flatMap((item) => (item._tag === "FunctionCall" ? [item] : []))
    assert.deepStrictEqual(
      calls.map((c) => JSON.parse(c.arguments)),
      [{ city: "Paris" }, { city: "Tokyo" }]
    )
    const input: ResponsesSchema.CreateRequest["input"] = [
      { role: "user", content: quickstart },
      { type: "function_call", call_id: "c1", name: "get_weather", arguments: calls[0]!.arguments },
      { type: "function_call", call_id: "c2", name: "get_weather", arguments: calls[1]!.arguments },
      { type: "function_call_output", call_id: "c1", output: '{"city":"Paris","celsius":18,"sky":"light rain"}' },
      {
        type: "function_call_output",
        call_id: "c2",
        output: '{"city":"Tokyo","celsius":24,"sky":"clear","humidity":40}'
      }
    ]
    const second = LocalModel.respond({ model: "m", input, tools: [readmeTool] })
    const item = second.items[0]
    assert.strictEqual(item?._tag === "Message" ? item.text : "", "Paris: 18°C, light rain. Tokyo: 24°C, clear, 40%.")
  })

  it("reads units from camelCase and snake_case keys when it summarises tool outputs", () => {
    const answer = (output: string) => {
      const input: ResponsesSchema.CreateRequest["input"] = [
        { role: "user", content: "Weather in Oslo?" },
        { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' },
        { type: "function_call_output", call_id: "c1", output }
      ]
      const item = LocalModel.respond({ model: "m", input }).items[0]
      return item?._tag === "Message" ? item.text : ""
    }
    assert.strictEqual(
      answer('{"city":"Oslo","temperatureC":-3,"conditions":"snow","windKmh":20}'),
      "Oslo: -3°C, snow, wind 20 km/h."
    )
    assert.strictEqual(
      answer('{"city":"Oslo","temp_f":27,"gust_mph":9,"uvIndex":1}'),
      "Oslo: 27°F, gust 9 mph, uv index 1."
    )
  })

  it("after its tool calls, answers a json_schema request with JSON built from the outputs", () => {
    const schema = {
      type: "object",
      properties: {
        city: { type: "string" },
        celsius: { type: "number" },
        summary: { type: "string" },
        umbrella: { type: "boolean" }
      },
      required: ["city", "celsius", "summary", "umbrella"],
      additionalProperties: false
    }
    const input: ResponsesSchema.CreateRequest["input"] = [
      { role: "user", content: "Weather in Oslo?" },
      { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' },
      { type: "function_call_output", call_id: "c1", output: '{"city":"Oslo","celsius":-3,"sky":"snow"}' }
    ]
    const item = LocalModel.respond({
      model: "m",
      input,
      text: { format: { type: "json_schema", name: "out", schema, strict: true } }
    }).items[0]
    const text = item?._tag === "Message" ? item.text : ""
    assert.deepStrictEqual(JSON.parse(text), {
      city: "Oslo",
      celsius: -3,
      summary: "Oslo: -3°C, snow.",
      umbrella: true
    })
  })

  it("a no-tool prompt gets a short, honest message", () => {
    const turn = LocalModel.respond({ model: "m", input: "Tell me a joke" })
    assert.strictEqual(turn.model, "volley-local")
    assert.strictEqual(turn.items.length, 1)
    const item = turn.items[0]!
    assert.strictEqual(item._tag, "Message")
    if (item._tag === "Message") {
      assert.include(item.text, "Tell me a joke")
      assert.include(item.text, "volley-local")
    }
    assert.isAbove(turn.usage!.output_tokens, 1)
  })

  it("tools offered but not relevant: no call", () => {
    const turn = LocalModel.respond({ model: "m", input: "Tell me a joke", tools: [getWeather] })
    assert.deepStrictEqual(
      turn.items.map((i) => i._tag),
      ["Message"]
    )
  })

  it("tool_choice none: no call even when relevant", () => {
    const turn = LocalModel.respond({ model: "m", input: quickstart, tools: [getWeather], tool_choice: "none" })
    assert.deepStrictEqual(
      turn.items.map((i) => i._tag),
      ["Message"]
    )
  })

  it("a required place the prompt does not name: no call (asks nothing it cannot fill)", () => {
    const turn = LocalModel.respond({ model: "m", input: "what's the weather like?", tools: [getWeather] })
    assert.deepStrictEqual(
      turn.items.map((i) => i._tag),
      ["Message"]
    )
  })

  it("unknown capitalised places and comma lists", () => {
    assert.deepStrictEqual(LocalModel.extractPlaces("Weather in Paris, London and Tokyo?"), [
      "Paris",
      "London",
      "Tokyo"
    ])
    assert.deepStrictEqual(LocalModel.extractPlaces("What's it like in Plovdiv and Varna?"), ["Plovdiv", "Varna"])
    assert.deepStrictEqual(LocalModel.extractPlaces("weather in new york please"), ["New York"])
  })

  it("never calls tools twice for one question (no loops), even without outputs", () => {
    const input: ResponsesSchema.CreateRequest["input"] = [
      { role: "user", content: quickstart },
      { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Paris"}' }
    ]
    const turn = LocalModel.respond({ model: "m", input, tools: [getWeather] })
    assert.deepStrictEqual(
      turn.items.map((i) => i._tag),
      ["Message"]
    )
    if (turn.items[0]?._tag === "Message") assert.strictEqual(turn.items[0].text, "Paris: no result.")
  })

  it("a new user question after an answer calls tools again", () => {
    const input: ResponsesSchema.CreateRequest["input"] = [
      { role: "user", content: quickstart },
      { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Paris"}' },
      { type: "function_call_output", call_id: "c1", output: "sunny" },
      {
        type: "message",
        role: "assistant",
        id: "msg_1",
        status: "completed",
        content: [{ type: "output_text", text: "Paris: sunny." }]
      },
      { role: "user", content: [{ type: "input_text", text: "And in Berlin?" }] }
    ]
    const turn = LocalModel.respond({ model: "m", input, tools: [getWeather] })
    assert.deepStrictEqual(
      turn.items.map((i) => (i._tag === "FunctionCall" ? JSON.parse(i.arguments).city : i._tag)),
      ["Berlin"]
    )
  })

  it("a follow-up without a place does not re-call the previous tool", () => {
    const input: ResponsesSchema.CreateRequest["input"] = [
      { role: "user", content: quickstart },
      { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Paris"}' },
      { type: "function_call_output", call_id: "c1", output: "sunny" },
      { role: "user", content: "thanks!" }
    ]
    const turn = LocalModel.respond({ model: "m", input, tools: [getWeather] })
    assert.deepStrictEqual(
      turn.items.map((i) => i._tag),
      ["Message"]
    )
  })

  it("tool errors are reported, not hidden", () => {
    const input: ResponsesSchema.CreateRequest["input"] = [
      { role: "user", content: "Weather in Oslo?" },
      { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' },
      { type: "function_call_output", call_id: "c1", output: '{"error":{"type":"ToolFailed","message":"down"}}' }
    ]
    const turn = LocalModel.respond({ model: "m", input, tools: [getWeather] })
    if (turn.items[0]?._tag === "Message") assert.strictEqual(turn.items[0].text, "Oslo: the tool failed (down).")
    else assert.fail("expected a message")
  })

  it("non-place tools: numbers and expressions fit the schema", () => {
    const calc = {
      type: "function" as const,
      name: "calculate",
      description: "Evaluate a math expression",
      parameters: { type: "object", properties: { expression: { type: "string" } }, required: ["expression"] }
    }
    const turn = LocalModel.respond({ model: "m", input: "Please calculate 12 * (3 + 4)", tools: [calc, getWeather] })
    assert.strictEqual(turn.items.length, 1)
    const call = turn.items[0]!
    assert.strictEqual(call._tag, "FunctionCall")
    if (call._tag === "FunctionCall") {
      assert.strictEqual(call.name, "calculate")
      assert.deepStrictEqual(JSON.parse(call.arguments), { expression: "12 * (3 + 4)" })
    }
  })

  it("text.format json_schema: a JSON object fitting a simple schema", () => {
    const schema = {
      type: "object",
      properties: {
        city: { type: "string" },
        temperature: { type: "number", minimum: -50, maximum: 60 },
        days: { type: "integer" },
        sunny: { type: "boolean" },
        tags: { type: "array", items: { type: "string" } },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
        nested: { $ref: "#/$defs/Nested" },
        maybe: { anyOf: [{ type: "null" }, { type: "string" }] }
      },
      required: ["city", "temperature", "days", "sunny", "tags", "unit", "nested", "maybe"],
      additionalProperties: false,
      $defs: { Nested: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } }
    }
    const turn = LocalModel.respond({
      model: "m",
      input: "Forecast for Lisbon for 3 days",
      text: { format: { type: "json_schema", name: "forecast", schema, strict: true } }
    })
    const item = turn.items[0]!
    assert.strictEqual(item._tag, "Message")
    if (item._tag === "Message") {
      const value = JSON.parse(item.text)
      assert.strictEqual(value.city, "Lisbon")
      assert.strictEqual(value.temperature, 3)
      assert.strictEqual(value.days, 3)
      assert.strictEqual(value.sunny, true)
      assert.isArray(value.tags)
      assert.isString(value.tags[0])
      assert.strictEqual(value.unit, "celsius")
      assert.deepStrictEqual(value.nested, { ok: true })
      assert.isString(value.maybe)
    }
  })
})
