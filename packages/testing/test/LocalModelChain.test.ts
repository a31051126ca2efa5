/**
 * volley-local across rounds: steps asked in order ("…, then …") are called one round after another,
 * later ones fed by earlier outputs (an id, a city); an error output ends the chain and is reported;
 * `maxToolRounds` bounds every conversation; and each answer depends only on the request (the whole
 * history is in it), so the same request always gives the same turn.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as LocalModel from "../src/LocalModel.ts"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import { decodeResponse, post } from "./helpers.ts"
import type { ResponsesSchema } from "@volley/core"

type FunctionTool = Extract<NonNullable<ResponsesSchema.CreateRequest["tools"]>[number], { type: "function" }>

const tool = (name: string, description: string, properties: object, required: ReadonlyArray<string>): FunctionTool =>
  ({ type: "function", name, description, parameters: { type: "object", properties, required } }) as FunctionTool

const tools = [
  tool("get_weather", "Get the current weather for a city", { city: { type: "string" } }, ["city"]),
  tool("find_customer", "Find a customer by name", { name: { type: "string" } }, ["name"]),
  tool(
    "list_orders",
    "List the orders of a customer",
    { customer_id: { type: "string" }, status: { type: "string", enum: ["all", "open", "shipped"] } },
    ["customer_id", "status"]
  ),
  tool("find_warmest_city", "Find the warmest city in a region", { region: { type: "string" } }, ["region"]),
  tool("search_notes", "Find research notes about a topic", { topic: { type: "string" } }, ["topic"])
]

type Handlers = Record<string, (args: Record<string, string>) => unknown>

const handlers: Handlers = {
  get_weather: ({ city }) => ({ city, celsius: city === "Lisbon" ? 24 : 18, sky: "clear" }),
  find_customer: ({ name }) =>
    name === "Bob"
      ? { error: { type: "tool_error", message: "no customer named Bob" } }
      : { id: "c_42", name, plan: "pro" },
  list_orders: ({ customer_id }) => ({ customer: customer_id, orders: ["o_1", "o_2"] }),
  find_warmest_city: () => ({ city: "Lisbon", celsius: 24 }),
  search_notes: () => "Our guide rates Kyoto as the best city to visit this year."
}

/** Runs `prompt` the way an agent loop would (at most 10 requests): each round's calls, then the answer. */
const converse = (prompt: string, run: Handlers = handlers, extra: Partial<ResponsesSchema.CreateRequest> = {}) => {
  const input: Array<ResponsesSchema.InputItem> = [{ role: "user", content: prompt }]
  const rounds: Array<Array<string>> = []
  for (let request = 0; request < 10; request++) {
    const body: ResponsesSchema.CreateRequest = { model: "m", input: [...input], tools, ...extra }
    const turn = LocalModel.respond(body)
    assert.deepStrictEqual(LocalModel.respond(body), turn, "the same request gives the same turn")
    const calls = turn.items.flatMap((item) => (item._tag === "FunctionCall" ? [item] : []))
    if (calls.length === 0) {
      const item = turn.items[0]
      return { rounds, answer: item?._tag === "Message" ? item.text : "", input }
    }
    rounds.push(calls.map((call) => `${call.name}(${call.arguments})`))
    calls.forEach((call, i) => {
      const call_id = `call_${request}_${i}`
      input.push({ type: "function_call", call_id, name: call.name, arguments: call.arguments })
    })
    calls.forEach((call, i) => {
      const output = run[call.name]!(JSON.parse(call.arguments))
      const text = typeof output === "string" ? output : JSON.stringify(output)
      input.push({ type: "function_call_output", call_id: `call_${request}_${i}`, output: text })
    })
  }
  return assert.fail("the conversation did not end within 10 requests")
}

describe("LocalModel: chained tool calls", () => {
  it("'find X and then Y': the second call takes the id the first one returned", () => {
    const { rounds, answer } = converse("Find the customer named 'Ada Lovelace' and then list her open orders")
    assert.deepStrictEqual(rounds, [
      ['find_customer({"name":"Ada Lovelace"})'],
      ['list_orders({"customer_id":"c_42","status":"open"})']
    ])
    assert.strictEqual(answer, "Ada Lovelace: c_42, pro. c_42: orders: o_1, o_2.")
  })

  it("'…, then get the weather there': the place comes from the first output", () => {
    const { rounds, answer } = converse("Find the warmest city in Europe, then get the weather there")
    assert.deepStrictEqual(rounds, [['find_warmest_city({"region":"Europe"})'], ['get_weather({"city":"Lisbon"})']])
    assert.strictEqual(answer, "Europe: Lisbon, 24°C. Lisbon: 24°C, clear.")
  })

  it("a plain-text output feeds the next step too (a place, an id)", () => {
    const place = converse("Search notes about the best city to visit, then get the weather there")
    assert.deepStrictEqual(place.rounds[1], ['get_weather({"city":"Kyoto"})'])
    const id = converse("Find customer Grace, then list her orders", {
      ...handlers,
      find_customer: () => "Found customer c_7 (Grace Hopper)."
    })
    assert.deepStrictEqual(id.rounds, [
      ['find_customer({"name":"Grace"})'],
      ['list_orders({"customer_id":"c_7","status":"all"})']
    ])
  })

  it("a step naming only places repeats the previous tool: 'weather in Paris, then Tokyo'", () => {
    const { rounds } = converse("Weather in Paris, then Tokyo")
    assert.deepStrictEqual(rounds, [['get_weather({"city":"Paris"})'], ['get_weather({"city":"Tokyo"})']])
  })

  it("without 'then', a step needing an id the prompt does not give waits for the step before it", () => {
    const { rounds } = converse("Find customer Grace and list her open orders")
    assert.deepStrictEqual(rounds, [
      ['find_customer({"name":"Grace"})'],
      ['list_orders({"customer_id":"c_42","status":"open"})']
    ])
  })

  it("without a sequence word, the steps are one parallel round", () => {
    const { rounds } = converse("What's the weather in Oslo and the warmest city in Asia?")
    assert.deepStrictEqual(rounds, [['get_weather({"city":"Oslo"})', 'find_warmest_city({"region":"Asia"})']])
  })
})

describe("LocalModel: parallel_tool_calls false", () => {
  it("the same calls come one a turn, parallel ones and chained ones, then the same answer", () => {
    const oneAtATime = { parallel_tool_calls: false }
    const both = converse("Weather in Paris and Tokyo, then find the warmest city in Asia", handlers, oneAtATime)
    assert.deepStrictEqual(both.rounds, [
      ['get_weather({"city":"Paris"})'],
      ['get_weather({"city":"Tokyo"})'],
      ['find_warmest_city({"region":"Asia"})']
    ])
    assert.strictEqual(both.answer, converse("Weather in Paris and Tokyo, then find the warmest city in Asia").answer)
    const chained = converse("Find the customer named 'Ada' and then list her orders", handlers, oneAtATime)
    assert.deepStrictEqual(chained.rounds, [
      ['find_customer({"name":"Ada"})'],
      ['list_orders({"customer_id":"c_42","status":"all"})']
    ])
  })

  it("still at most maxToolRounds rounds of the plan", () => {
    const { rounds } = converse("Weather in Paris, then Tokyo, then Oslo, then Rome, then Berlin", handlers, {
      parallel_tool_calls: false
    })
    assert.strictEqual(rounds.length, LocalModel.maxToolRounds)
  })
})

describe("LocalModel: unhappy paths end the conversation", () => {
  it("an error output stops the chain and is reported; asking again gives the same answer, no retry", () => {
    const { rounds, answer, input } = converse("Find the customer named 'Bob' and then list his orders")
    assert.deepStrictEqual(rounds, [['find_customer({"name":"Bob"})']])
    assert.strictEqual(answer, "Bob: the tool failed (no customer named Bob).")
    const again = LocalModel.respond({ model: "m", input, tools }).items
    assert.deepStrictEqual(
      again.map((item) => item._tag),
      ["Message"]
    )
  })

  it("a string error and an error beside a good output in one round are both reported", () => {
    const { answer } = converse("Weather in Paris and Oslo", {
      get_weather: ({ city }) => (city === "Oslo" ? { error: "station offline" } : { city, celsius: 18 })
    })
    assert.strictEqual(answer, "Paris: 18°C. Oslo: the tool failed (station offline).")
  })

  it(`at most maxToolRounds (${LocalModel.maxToolRounds}) rounds, then an answer from what was found`, () => {
    const { rounds, answer } = converse("Weather in Paris, then Tokyo, then Oslo, then Rome, then Berlin, then Cairo")
    assert.strictEqual(rounds.length, LocalModel.maxToolRounds)
    assert.deepStrictEqual(rounds.at(-1), ['get_weather({"city":"Rome"})'])
    assert.strictEqual(answer, "Paris: 18°C, clear. Tokyo: 18°C, clear. Oslo: 18°C, clear. Rome: 18°C, clear.")
  })

  it("a call whose output is missing ends the chain with 'no result' instead of calling on", () => {
    const input: Array<ResponsesSchema.InputItem> = [
      { role: "user", content: "Find the customer named 'Ada' and then list her orders" },
      { type: "function_call", call_id: "x", name: "find_customer", arguments: '{"name":"Ada"}' }
    ]
    const items = LocalModel.respond({ model: "m", input, tools }).items
    assert.deepStrictEqual(
      items.map((item) => (item._tag === "Message" ? item.text : item._tag)),
      ["Ada: no result."]
    )
  })

  it("a later step that cannot be filled (no place anywhere) is skipped, and the answer comes", () => {
    const { rounds, answer } = converse("Find the customer named 'Ada', then get the weather there")
    assert.deepStrictEqual(rounds, [['find_customer({"name":"Ada"})']])
    assert.strictEqual(answer, "Ada: c_42, pro.")
  })
})

describe("LocalModel: stateless over HTTP", () => {
  it.effect("round two is read from the history sent, whoever produced it (call ids and all)", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const body = {
        model: "any",
        tools,
        input: [
          { role: "user", content: "Find the warmest city in Europe, then get the weather there" },
          { type: "function_call", call_id: "abc", name: "find_warmest_city", arguments: '{"region":"Europe"}' },
          { type: "function_call_output", call_id: "abc", output: '{"city":"Madrid"}' }
        ]
      }
      const first = decodeResponse((yield* post(server.baseUrl, body)).text)
      const second = decodeResponse((yield* post(server.baseUrl, body)).text)
      const calls = (response: typeof first) =>
        (response.output ?? []).flatMap((item) =>
          item.type === "function_call" ? [`${item.name}(${(item as { arguments: string }).arguments})`] : []
        )
      assert.deepStrictEqual(calls(first), ['get_weather({"city":"Madrid"})'])
      assert.deepStrictEqual(calls(second), calls(first))
    }).pipe(Effect.provide(LocalModel.layer()))
  )
})
