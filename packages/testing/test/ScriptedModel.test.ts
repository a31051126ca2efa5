import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { pipe } from "effect/Function"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import { decodeEvents, decodeResponse, parseFrames, post, request } from "./helpers.ts"
import { ResponsesSchema } from "@volley/core"

type Server = ResponsesServer.ResponsesServer["Service"]

const withServer = <A, E>(script: ReadonlyArray<ScriptedModel.Step>, body: (server: Server) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const server = yield* ResponsesServer.ResponsesServer
    const result = yield* body(server)
    yield* server.assertComplete
    return result
  }).pipe(Effect.provide(ResponsesServer.layer(script)))

/** Serves `step` once as JSON and once as SSE; returns the decoded response and events. */
const both = (step: ScriptedModel.Step, input: unknown = "hi") =>
  withServer([step, step], (server) =>
    Effect.gen(function* () {
      const json = yield* post(server.baseUrl, request(input))
      const sse = yield* post(server.baseUrl, request(input, { stream: true }))
      assert.strictEqual(json.status, 200)
      assert.strictEqual(sse.status, 200)
      assert.strictEqual(parseFrames(sse.text).at(-1)?.data, "[DONE]")
      const events = decodeEvents(sse.text)
      assert.deepStrictEqual(
        events.map((e) => e.sequence_number),
        events.map((_, i) => i)
      )
      return { response: decodeResponse(json.text), events, types: events.map((e) => e.type) }
    })
  )

const terminal = (events: ReadonlyArray<ResponsesSchema.StreamEvent>) => {
  const last = events.at(-1)!
  assert.isTrue("response" in last)
  return (last as { readonly response: ReturnType<typeof decodeResponse> }).response
}

describe("ScriptedModel builders (JSON and SSE)", () => {
  it.effect("message: text, several deltas, seed event order", () =>
    Effect.gen(function* () {
      const { response, events, types } = yield* both(ScriptedModel.message("Hello there friend"))
      assert.strictEqual(ResponsesSchema.outputText(response.output ?? []), "Hello there friend")
      assert.match(response.id, /^resp_/)
      assert.match((response.output![0] as { id: string }).id, /^msg_/)
      assert.deepStrictEqual(types, [
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
      ])
      const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []))
      assert.strictEqual(deltas.join(""), "Hello there friend")
      assert.strictEqual((events[0] as { response: { status: string } }).response.status, "in_progress")
      assert.strictEqual(ResponsesSchema.outputText(terminal(events).output ?? []), "Hello there friend")
    })
  )

  it.effect("message: a single word still streams in several deltas", () =>
    Effect.gen(function* () {
      const { events } = yield* both(ScriptedModel.message("Bonjour"))
      const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []))
      assert.isAtLeast(deltas.length, 2)
      assert.strictEqual(deltas.join(""), "Bonjour")
    })
  )

  it.effect("functionCall: parallel calls, argument deltas add up, distinct call ids", () =>
    Effect.gen(function* () {
      const step = ScriptedModel.turn(
        ScriptedModel.functionCall("get_weather", { city: "Paris" }),
        ScriptedModel.functionCall("get_weather", { city: "Tokyo" })
      )
      const { response, events, types } = yield* both(step)
      const calls = (response.output ?? []).filter((item) => item.type === "function_call")
      assert.strictEqual(calls.length, 2)
      assert.deepStrictEqual(
        calls.map((c) => JSON.parse((c as { arguments: string }).arguments)),
        [{ city: "Paris" }, { city: "Tokyo" }]
      )
      const callIds = calls.map((c) => (c as { call_id: string }).call_id)
      assert.notStrictEqual(callIds[0], callIds[1])
      assert.match(callIds[0]!, /^call_/)
      assert.match((calls[0] as { id: string }).id, /^fc_/)
      assert.includeMembers(types, ["response.function_call_arguments.delta", "response.function_call_arguments.done"])
      for (const index of [0, 1]) {
        const deltas = events.flatMap((e) =>
          e.type === "response.function_call_arguments.delta" && e.output_index === index ? [e.delta] : []
        )
        assert.isAtLeast(deltas.length, 2)
        const done = events.find((e) => e.type === "response.function_call_arguments.done" && e.output_index === index)
        assert.strictEqual(deltas.join(""), (done as { arguments: string }).arguments)
      }
      const added = events.find((e) => e.type === "response.output_item.added")
      assert.strictEqual((added as { item: { arguments: string } }).item.arguments, "")
    })
  )

  it.effect("functionCall: pinned call id and verbatim (malformed) arguments", () =>
    Effect.gen(function* () {
      const { response } = yield* both(ScriptedModel.functionCall("f", '{"city": "Paris"', { callId: "call_fixed" }))
      const call = response.output?.[0] as { call_id: string; arguments: string }
      assert.strictEqual(call.call_id, "call_fixed")
      assert.strictEqual(call.arguments, '{"city": "Paris"')
    })
  )

  it.effect("reasoning: summary events and encrypted content", () =>
    Effect.gen(function* () {
      const { response, types } = yield* both(
        ScriptedModel.turn(
          ScriptedModel.reasoning(["First I think", "then I answer"], "gAAAA-encrypted"),
          ScriptedModel.message("42")
        )
      )
      const item = response.output?.[0] as {
        type: string
        id: string
        encrypted_content: string
        summary: Array<{ text: string }>
      }
      assert.strictEqual(item.type, "reasoning")
      assert.match(item.id, /^rs_/)
      assert.strictEqual(item.encrypted_content, "gAAAA-encrypted")
      assert.deepStrictEqual(
        item.summary.map((p) => p.text),
        ["First I think", "then I answer"]
      )
      assert.strictEqual(types.filter((t) => t === "response.reasoning_summary_part.added").length, 2)
      assert.includeMembers(types, ["response.reasoning_summary_text.delta", "response.reasoning_summary_text.done"])
      assert.strictEqual(ResponsesSchema.outputText(response.output ?? []), "42")
    })
  )

  it.effect("turn: text and calls together, in order", () =>
    Effect.gen(function* () {
      const { response } = yield* both(
        ScriptedModel.turn({ text: "Let me check", calls: [{ name: "get_weather", arguments: { city: "Oslo" } }] })
      )
      assert.deepStrictEqual(
        response.output?.map((item) => item.type),
        ["message", "function_call"]
      )
    })
  )

  it.effect("failed: status failed with the error; SSE ends with response.failed", () =>
    Effect.gen(function* () {
      const { response, types, events } = yield* both(ScriptedModel.failed({ code: "server_error", message: "boom" }))
      assert.strictEqual(response.status, "failed")
      assert.deepStrictEqual(response.error, { code: "server_error", message: "boom" })
      assert.deepStrictEqual(types, ["response.created", "response.failed"])
      assert.strictEqual(terminal(events).error?.code, "server_error")
    })
  )

  it.effect("incomplete: reason and partial text; SSE ends with response.incomplete", () =>
    Effect.gen(function* () {
      const { response, types } = yield* both(
        ScriptedModel.incomplete("max_output_tokens", ScriptedModel.message("Partial ans"))
      )
      assert.strictEqual(response.status, "incomplete")
      assert.strictEqual(response.incomplete_details?.reason, "max_output_tokens")
      assert.strictEqual(ResponsesSchema.outputText(response.output ?? []), "Partial ans")
      assert.strictEqual(types.at(-1), "response.incomplete")
    })
  )

  it.effect("refusal: refusal content part and refusal deltas", () =>
    Effect.gen(function* () {
      const { response, events, types } = yield* both(ScriptedModel.refusal("I can't help with that"))
      const part = (response.output![0] as unknown as { content: Array<{ type: string; refusal: string }> }).content[0]!
      assert.deepStrictEqual(part, { type: "refusal", refusal: "I can't help with that" })
      const deltas = events.flatMap((e) => (e.type === "response.refusal.delta" ? [e.delta] : []))
      assert.strictEqual(deltas.join(""), "I can't help with that")
      assert.include(types, "response.refusal.done")
      assert.notInclude(types, "response.output_text.delta")
    })
  )

  it.effect("withUsage: reported in JSON and in response.completed", () =>
    Effect.gen(function* () {
      const usage = { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 }
      const { response, events } = yield* both(pipe(ScriptedModel.message("ok"), ScriptedModel.withUsage(usage)))
      assert.deepStrictEqual(response.usage, usage)
      assert.deepStrictEqual(terminal(events).usage, usage)
    })
  )

  it.effect("default usage is estimated from the request and the output", () =>
    Effect.gen(function* () {
      const { response } = yield* both(ScriptedModel.message("four words of text"), "x".repeat(400))
      assert.isAtLeast(response.usage!.input_tokens, 100)
      assert.isAtLeast(response.usage!.output_tokens, 1)
      assert.strictEqual(response.usage!.total_tokens, response.usage!.input_tokens + response.usage!.output_tokens)
    })
  )

  it.effect("rawItem: an unknown item type goes out verbatim and decodes as unknown", () =>
    Effect.gen(function* () {
      const { response, types } = yield* both(
        ScriptedModel.turn(
          ScriptedModel.rawItem({ type: "future_item", id: "fi_1", payload: { x: 1 } }),
          ScriptedModel.message("after")
        )
      )
      assert.deepStrictEqual(response.output?.[0], { type: "future_item", id: "fi_1", payload: { x: 1 } } as never)
      assert.strictEqual(types[1], "response.output_item.added")
      assert.strictEqual(ResponsesSchema.outputText(response.output ?? []), "after")
    })
  )

  it.effect("responder: answers from the request it received", () =>
    Effect.gen(function* () {
      const echo = ScriptedModel.responder((body) => ScriptedModel.message(`echo: ${String(body.input)}`))
      const { response, events } = yield* both(echo, "ping")
      assert.strictEqual(ResponsesSchema.outputText(response.output ?? []), "echo: ping")
      assert.strictEqual(ResponsesSchema.outputText(terminal(events).output ?? []), "echo: ping")
    })
  )

  it.effect("responder: may be an Effect", () =>
    Effect.gen(function* () {
      const step = ScriptedModel.responder(() => Effect.succeed(ScriptedModel.message("from an effect")))
      const { response } = yield* both(step)
      assert.strictEqual(ResponsesSchema.outputText(response.output ?? []), "from an effect")
    })
  )

  it.effect("turn(spec): the JSON script form covers reasoning, refusal, items, failure and model", () =>
    Effect.gen(function* () {
      const spec = ScriptedModel.turn({
        reasoning: { summary: "hmm" },
        text: "hi",
        items: [{ type: "future_item" }],
        model: "served/model",
        failed: { code: "x", message: "y" }
      })
      assert.deepStrictEqual(
        spec.items.map((i) => i._tag),
        ["Reasoning", "Message", "Raw"]
      )
      assert.strictEqual(spec.status, "failed")
      const { response } = yield* both(spec)
      assert.strictEqual(response.model, "served/model")
      assert.strictEqual(response.status, "failed")
    })
  )

  it.effect("failed(null): response.failed with error null", () =>
    Effect.gen(function* () {
      const { response, types } = yield* both(ScriptedModel.failed(null, ScriptedModel.message("partial")))
      assert.strictEqual(response.status, "failed")
      assert.isNull(response.error)
      assert.strictEqual(types.at(-1), "response.failed")
    })
  )

  it.effect("withStatus and withResponseFields: odd statuses and unknown top-level fields", () =>
    Effect.gen(function* () {
      const step = pipe(
        ScriptedModel.message("x"),
        ScriptedModel.withStatus("in_progress"),
        ScriptedModel.withResponseFields({ model: "b/y", provider: "fallback-co" })
      )
      const { response } = yield* both(step)
      assert.strictEqual(response.status, "in_progress")
      assert.strictEqual(response.model, "b/y")
      assert.strictEqual((response as { provider?: unknown }).provider, "fallback-co")
    })
  )

  it.effect("functionCall deltas may disagree with the final arguments (C09-style)", () =>
    Effect.gen(function* () {
      const { response, events } = yield* both(ScriptedModel.functionCall("f", { a: 2 }, { deltas: ['{"a"', ":1}"] }))
      const deltas = events.flatMap((e) => (e.type === "response.function_call_arguments.delta" ? [e.delta] : []))
      assert.strictEqual(deltas.join(""), '{"a":1}')
      const done = events.find((e) => e.type === "response.function_call_arguments.done") as { arguments: string }
      assert.strictEqual(done.arguments, '{"a":2}')
      assert.strictEqual((response.output![0] as { arguments: string }).arguments, '{"a":2}')
      assert.notProperty(response.output![0], "deltas")
    })
  )

  it("toResponse / toEvents are pure and deterministic", () => {
    const turn = ScriptedModel.turn(ScriptedModel.message("a b"), ScriptedModel.functionCall("f", { a: 1 }))
    const body = { model: "m", input: "x", stream: true }
    const one = ScriptedModel.toEvents(turn, body)
    const two = ScriptedModel.toEvents(turn, body)
    assert.deepStrictEqual(one, two)
    assert.strictEqual(one.at(-1)?.type, "response.completed")
    const response = ScriptedModel.toResponse(turn, body, { createdAt: 5 })
    assert.strictEqual(response.created_at, 5)
    assert.strictEqual(response.id, "resp_1")
  })

  it.effect("ids are counter-based and stable across servers", () =>
    Effect.gen(function* () {
      const script = [ScriptedModel.functionCall("f"), ScriptedModel.functionCall("f")]
      const ids = (server: Server) =>
        Effect.gen(function* () {
          const a = decodeResponse((yield* post(server.baseUrl, request())).text)
          const b = decodeResponse((yield* post(server.baseUrl, request())).text)
          return [a.output?.[0], b.output?.[0]].map((item) => (item as { call_id: string }).call_id)
        })
      const first = yield* withServer(script, ids)
      const second = yield* withServer(script, ids)
      assert.deepStrictEqual(first, ["call_1", "call_2"])
      assert.deepStrictEqual(second, first)
    })
  )
})
