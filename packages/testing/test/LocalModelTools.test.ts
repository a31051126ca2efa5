/**
 * volley-local's tool calls within one turn: several different tools when the prompt mentions them,
 * places shared out between them, and arguments read from each tool's JSON Schema and the prompt
 * (quoted strings, noun phrases, enums, numbers, booleans; arrays, nested objects and unions get
 * schema-valid values). Pure: `LocalModel.respond` on hand-built requests.
 */
import { assert, describe, it } from "@effect/vitest"
import * as LocalModel from "../src/LocalModel.ts"
import type { ResponsesSchema } from "@volley/core"

type FunctionTool = Extract<NonNullable<ResponsesSchema.CreateRequest["tools"]>[number], { type: "function" }>

const tool = (name: string, description: string, properties: object, required: ReadonlyArray<string>): FunctionTool =>
  ({
    type: "function",
    name,
    description,
    parameters: { type: "object", properties, required, additionalProperties: false }
  }) as FunctionTool

const getWeather = tool("get_weather", "Get the current weather for a city", { city: { type: "string" } }, ["city"])
const getTime = tool("get_time", "Get the current local time in a city", { city: { type: "string" } }, ["city"])
const searchNotes = tool(
  "search_notes",
  "Find research notes about a topic",
  { topic: { type: "string", description: "What to research" } },
  ["topic"]
)
const findCustomer = tool("find_customer", "Find a customer by name", { name: { type: "string" } }, ["name"])
const listOrders = tool(
  "list_orders",
  "List the orders of a customer",
  { customer_id: { type: "string" }, status: { type: "string", enum: ["all", "open", "shipped"] } },
  ["customer_id", "status"]
)

/** The calls of the turn volley-local answers `prompt` with, as `name(arguments)`. */
const callsFor = (
  prompt: string,
  tools: ReadonlyArray<FunctionTool>,
  extra: Partial<ResponsesSchema.CreateRequest> = {}
) =>
  LocalModel.respond({ model: "m", input: prompt, tools: [...tools], ...extra }).items.map((item) =>
    item._tag === "FunctionCall" ? `${item.name}(${item.arguments})` : item._tag
  )

/** The arguments of the only call volley-local makes for `prompt`. */
const argumentsFor = (prompt: string, t: FunctionTool): Record<string, unknown> => {
  const [item, ...rest] = LocalModel.respond({ model: "m", input: prompt, tools: [t] }).items
  assert.strictEqual(rest.length, 0)
  if (item?._tag !== "FunctionCall") return assert.fail(`expected a call, got ${item?._tag}`)
  return JSON.parse(item.arguments)
}

describe("LocalModel: several tools in one turn", () => {
  it("calls two different tools, each with the place named after it", () => {
    assert.deepStrictEqual(callsFor("What's the weather in Paris and the time in Tokyo?", [getWeather, getTime]), [
      'get_weather({"city":"Paris"})',
      'get_time({"city":"Tokyo"})'
    ])
  })

  it("calls one tool once per place when the prompt names one tool", () => {
    assert.deepStrictEqual(callsFor("weather in Paris and Tokyo", [getWeather, getTime]), [
      'get_weather({"city":"Paris"})',
      'get_weather({"city":"Tokyo"})'
    ])
  })

  it("a tool named without a place borrows the places of the tool named next to it", () => {
    assert.deepStrictEqual(callsFor("What's the weather and time in Oslo?", [getWeather, getTime]), [
      'get_weather({"city":"Oslo"})',
      'get_time({"city":"Oslo"})'
    ])
  })

  it("places in a second sentence go to the tool of that sentence", () => {
    assert.deepStrictEqual(
      callsFor("What's the weather in Paris? Also the time in Tokyo and Oslo please", [getWeather, getTime]),
      ['get_weather({"city":"Paris"})', 'get_time({"city":"Tokyo"})', 'get_time({"city":"Oslo"})']
    )
  })

  it("a place tool and a non-place tool together, each with its own part of the prompt", () => {
    assert.deepStrictEqual(
      callsFor('Look up the weather in Lisbon and search notes for "port wine"', [getWeather, searchNotes]),
      ['get_weather({"city":"Lisbon"})', 'search_notes({"topic":"port wine"})']
    )
  })

  it("a word only in another tool's description does not call it when a tool is named", () => {
    assert.deepStrictEqual(callsFor("What's the local weather in Paris?", [getWeather, getTime]), [
      'get_weather({"city":"Paris"})'
    ])
  })

  it("a word both tools describe equally calls neither", () => {
    assert.deepStrictEqual(callsFor("What is current in Paris?", [getWeather, getTime]), ["Message"])
  })

  it("one clause asks for one tool: the one its words weigh most ('find' weighs little)", () => {
    assert.deepStrictEqual(callsFor("Find orders for customer c_9", [findCustomer, listOrders]), [
      'list_orders({"customer_id":"c_9","status":"all"})'
    ])
    assert.deepStrictEqual(
      callsFor("Find customer Grace and list the open orders of c_7", [findCustomer, listOrders]),
      ['find_customer({"name":"Grace"})', 'list_orders({"customer_id":"c_7","status":"open"})']
    )
  })

  it("a few everyday words stand for the weather and the time", () => {
    assert.deepStrictEqual(callsFor("Is it raining in London right now?", [getWeather, getTime]), [
      'get_weather({"city":"London"})'
    ])
    assert.deepStrictEqual(
      callsFor("What's the forecast for Berlin, and what hour is it in Seoul?", [getWeather, getTime]),
      ['get_weather({"city":"Berlin"})', 'get_time({"city":"Seoul"})']
    )
  })

  it("tool_choice naming a function calls only that one", () => {
    const forced = { tool_choice: { type: "function", name: "get_time" } } as Partial<ResponsesSchema.CreateRequest>
    assert.deepStrictEqual(
      callsFor("What's the weather in Paris and the time in Tokyo?", [getWeather, getTime], forced),
      ['get_time({"city":"Paris"})', 'get_time({"city":"Tokyo"})']
    )
  })

  it("never more than maxCallsPerTurn (8) calls in one turn", () => {
    const cities = "Paris, London, Berlin, Madrid, Rome, Oslo, Lisbon, Vienna, Prague, Dublin"
    assert.strictEqual(callsFor(`weather in ${cities}`, [getWeather]).length, 8)
  })
})

describe("LocalModel: arguments from the schema and the prompt", () => {
  it("a non-place string gets the quoted string, never the whole prompt", () => {
    assert.deepStrictEqual(argumentsFor("Please find the customer called 'Ada Lovelace' in our CRM", findCustomer), {
      name: "Ada Lovelace"
    })
    assert.deepStrictEqual(argumentsFor("Search notes for “the tea trade” and summarise", searchNotes), {
      topic: "the tea trade"
    })
  })

  it("two string parameters take two quoted strings in order; an apostrophe in a word is no quote", () => {
    const rename = tool("rename_file", "Rename a file", { from: { type: "string" }, to: { type: "string" } }, [
      "from",
      "to"
    ])
    assert.deepStrictEqual(argumentsFor(`Rename "a.txt" to "b.txt", it's late`, rename), { from: "a.txt", to: "b.txt" })
  })

  it("without quotes, the noun phrase after a cue (about, named, for, ':') or the clause without request words", () => {
    const prompts: ReadonlyArray<readonly [string, string]> = [
      ["Research this topic: the history of the bicycle", "the history of the bicycle"],
      ["Can you search notes about early steam engines?", "early steam engines"],
      ["Please look up the research notes on Roman roads, thanks", "the research notes on Roman roads"],
      ["Search notes on bicycles", "bicycles"]
    ]
    for (const [prompt, topic] of prompts) {
      assert.deepStrictEqual(argumentsFor(prompt, searchNotes), { topic }, prompt)
      assert.notStrictEqual(topic, prompt)
    }
    // the tool's own name words are skipped at the start ("customer Ada" gives "Ada")
    assert.deepStrictEqual(argumentsFor("Find customer Ada then tell me more", findCustomer), { name: "Ada" })
  })

  it("enums take the value the prompt names, else the first; numbers come from next to the key's words", () => {
    const search = tool(
      "search_orders",
      "Search orders",
      {
        status: { type: "string", enum: ["open", "shipped", "cancelled"] },
        limit: { type: "integer", minimum: 1, maximum: 20 },
        days: { type: "number" }
      },
      ["status", "limit", "days"]
    )
    assert.deepStrictEqual(argumentsFor("Search my shipped orders of the last 30 days, limit 5", search), {
      status: "shipped",
      limit: 5,
      days: 30
    })
    assert.deepStrictEqual(argumentsFor("Search orders, limit 500", search), { status: "open", limit: 20, days: 500 })
  })

  it("booleans are true when the prompt says a word of the key, false otherwise", () => {
    const lookup = tool(
      "find_customer",
      "Look up a customer by id",
      { id: { type: "string" }, includePlan: { anyOf: [{ type: "boolean" }, { type: "null" }] } },
      ["id", "includePlan"]
    )
    assert.deepStrictEqual(argumentsFor("Find customer 'c_1' with their plan", lookup), {
      id: "c_1",
      includePlan: true
    })
    assert.deepStrictEqual(argumentsFor("Find customer 'c_1'", lookup), { id: "c_1", includePlan: false })
  })

  it("arrays, nested objects, unions, $ref, allOf, const and {} get values that fit the schema", () => {
    const book = {
      type: "function",
      name: "book_trip",
      description: "Book a trip",
      parameters: {
        type: "object",
        properties: {
          cities: { type: "array", items: { type: "string" }, minItems: 1 },
          tags: { type: "array", items: { type: "string" }, minItems: 2, uniqueItems: true },
          traveller: { $ref: "#/$defs/Traveller" },
          when: { anyOf: [{ type: "null" }, { type: "string", format: "date" }] },
          seats: { allOf: [{ type: "integer" }, { minimum: 1, maximum: 4 }] },
          kind: { const: "leisure" },
          note: {},
          code: { type: "string", minLength: 3, maxLength: 5 },
          optional: { type: "string" }
        },
        required: ["cities", "tags", "traveller", "when", "seats", "kind", "note", "code"],
        additionalProperties: false,
        $defs: {
          Traveller: {
            type: "object",
            properties: { name: { type: "string" }, age: { type: "integer", minimum: 18 } },
            required: ["name", "age"]
          }
        }
      }
    } as FunctionTool
    const args = argumentsFor("Book a trip to Paris and Rome on 2027-05-01 for 'Ada'", book)
    assert.deepStrictEqual(args.cities, ["Paris", "Rome"])
    const tags = args.tags as Array<string>
    assert.strictEqual(tags.length, 2)
    assert.strictEqual(new Set(tags).size, 2)
    assert.deepStrictEqual(args.traveller, { name: "Ada", age: 2027 })
    assert.strictEqual(args.when, "2027-05-01")
    assert.strictEqual(args.seats, 4)
    assert.strictEqual(args.kind, "leisure")
    assert.isString(args.note)
    assert.isTrue((args.code as string).length >= 3 && (args.code as string).length <= 5)
    assert.notProperty(args, "optional")
  })

  it("a self-referencing schema ends at the depth limit instead of looping", () => {
    const tree = {
      type: "function",
      name: "make_tree",
      description: "Make a tree",
      parameters: {
        type: "object",
        properties: { root: { $ref: "#/$defs/Node" } },
        required: ["root"],
        $defs: {
          Node: { type: "object", properties: { child: { $ref: "#/$defs/Node" } }, required: ["child"] }
        }
      }
    } as FunctionTool
    let depth = 0
    let node: unknown = argumentsFor("make a tree", tree).root
    while (typeof node === "object" && node !== null) {
      node = (node as { child?: unknown }).child
      depth++
    }
    assert.isAtMost(depth, 8)
    assert.isNull(node)
  })
})
