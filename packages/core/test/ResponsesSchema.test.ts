import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as ResponsesSchema from "../src/ResponsesSchema.ts"

const decodeRequest = Schema.decodeUnknownSync(ResponsesSchema.CreateRequest)
const encodeRequest = Schema.encodeSync(ResponsesSchema.CreateRequest)
const decodeInput = Schema.decodeUnknownSync(ResponsesSchema.InputItem)

const errorOf = (f: () => unknown): string => {
  try {
    f()
  } catch (error) {
    return String(error)
  }
  assert.fail("expected a decode error")
}

describe("ResponsesSchema", () => {
  it("decodes every request field of the seed, incl. HaoAI's provider object, and encodes it back unchanged", () => {
    const wire = {
      model: "openai/gpt-5.4-mini",
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] },
        { type: "message", role: "user", content: [{ type: "input_image", image_url: "https://x/y.png" }] },
        {
          type: "message",
          role: "assistant",
          id: "msg_1",
          status: "completed",
          content: [{ type: "output_text", text: "hello", annotations: [] }]
        },
        { role: "system", content: "plain string content, no type" },
        { role: "developer", content: "dev" },
        { type: "function_call", id: "fc_1", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "function_call_output", call_id: "call_1", output: '{"temp":18}' },
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAA" }
      ],
      instructions: "Be brief.",
      stream: true,
      max_output_tokens: 1024,
      temperature: 0.2,
      top_p: 0.9,
      tools: [{ type: "function", name: "get_weather", parameters: { type: "object" }, strict: true }],
      tool_choice: { type: "function", name: "get_weather" },
      truncation: "disabled",
      text: { format: { type: "json_schema", name: "out", schema: { type: "object" }, strict: true } },
      store: false,
      metadata: { run: "1" },
      provider: { order: ["openai", "azure"], allow_fallbacks: true }
    }
    const decoded = decodeRequest(wire)
    assert.deepStrictEqual<unknown>(encodeRequest(decoded), wire)
    assert.strictEqual(decodeRequest({ model: "m", input: "hello" }).input, "hello")
    for (const choice of ["auto", "none", "required"] as const) {
      assert.strictEqual(decodeRequest({ model: "m", input: "x", tool_choice: choice }).tool_choice, choice)
    }
  })

  it("keeps an unknown item type verbatim, with every key, and never fails on it", () => {
    const raw = { type: "future_item", id: "fi_1", payload: { nested: [1, 2] }, extra: null }
    const item = decodeInput(raw)
    assert.deepStrictEqual<unknown>(item, raw)
    const response = ResponsesSchema.decodeResponseUnsafe({ id: "resp_1", status: "completed", output: [raw] })
    assert.deepStrictEqual<unknown>(response.output, [raw])
  })

  it("keeps keys it does not model on known items, so history round-trips unchanged", () => {
    const raw = {
      type: "reasoning",
      id: "rs_1",
      summary: [{ type: "summary_text", text: "thinking" }],
      encrypted_content: "opaque",
      provider_specific: { signature: "abc" }
    }
    assert.deepStrictEqual<unknown>(decodeInput(raw), raw)
  })

  it("fails a known item with a malformed body, naming the path", () => {
    const message = errorOf(() =>
      ResponsesSchema.decodeResponseUnsafe({
        id: "resp_1",
        output: [{ type: "function_call", call_id: "c", name: "f", arguments: 42 }]
      })
    )
    assert.include(message, '["output"][0]')
    assert.include(message, "arguments")
  })

  it("fails a known event with a malformed body and passes an unknown event through", () => {
    const message = errorOf(() =>
      ResponsesSchema.decodeStreamEventUnsafe({ type: "response.output_text.delta", output_index: 0, content_index: 0 })
    )
    assert.include(message, "delta")
    const unknown = { type: "response.future_thing.delta", output_index: 0, delta: "x" }
    assert.deepStrictEqual<unknown>(ResponsesSchema.decodeStreamEventUnsafe(unknown), unknown)
    assert.throws(() => ResponsesSchema.decodeStreamEventUnsafe({ no_type: true }))
  })

  it("narrows unknown items away on a known tag (type-level) and extracts output text", () => {
    const response = ResponsesSchema.decodeResponseUnsafe({
      id: "resp_1",
      output: [
        { type: "reasoning", id: "rs", summary: [] },
        { type: "message", id: "m1", role: "assistant", content: [{ type: "output_text", text: "Hello " }] },
        { type: "mystery", id: "x" },
        { type: "message", id: "m2", role: "assistant", content: [{ type: "output_text", text: "world" }] }
      ]
    })
    const output = response.output ?? []
    const roles: Array<"assistant"> = []
    for (const item of output) if (item.type === "message") roles.push(item.role)
    assert.deepStrictEqual(roles, ["assistant", "assistant"])
    assert.strictEqual(ResponsesSchema.outputText(output), "Hello world")
  })

  it("decodes the seed's minimal stream snapshots (response.created without output or model)", () => {
    const event = ResponsesSchema.decodeStreamEventUnsafe({
      type: "response.created",
      response: { id: "resp_abc123", object: "response", status: "in_progress" }
    })
    assert.strictEqual(event.type, "response.created")
    assert.isTrue(ResponsesSchema.terminalEventTypes.has("response.completed"))
  })
})
