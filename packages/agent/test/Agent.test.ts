import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { TestClock } from "effect/testing"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentError from "../src/AgentError.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { validatePairing } from "../src/internal/history.ts"
import { inputJson, type FakeStep, makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", instructions: "Be brief", toolkit: TestTools })

const setup = (steps: ReadonlyArray<FakeStep>) => {
  const fake = makeFake(steps)
  const runs = makeRuns()
  return { fake, runs, layer: Layer.mergeAll(fake.layer, testToolsLayer(runs)) }
}

describe("Agent.run", () => {
  it.effect("answers with a message: Completed, usage per turn and in total", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([
        M.withUsage(M.message("Hi!"), { input_tokens: 10, output_tokens: 3, total_tokens: 13 })
      ])
      const result = yield* assistant.run("Hello").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      if (result._tag !== "Completed") return
      assert.strictEqual(result.output, "Hi!")
      assert.strictEqual(result.value, "Hi!")
      assert.deepStrictEqual(result.stopReason, { _tag: "Completed" })
      assert.strictEqual(result.usage.inputTokens, 10)
      assert.strictEqual(result.usage.totalTokens, 13)
      assert.strictEqual(result.turnUsage.length, 1)
      assert.strictEqual(fake.seen.length, 1)
      const request = fake.seen[0]!.request
      assert.strictEqual(request.instructions, "Be brief")
      assert.strictEqual(request.model, "m")
      assert.deepStrictEqual(request.input, [{ type: "message", role: "user", content: "Hello" }])
      assert.strictEqual(request.tools?.length, 5)
    })
  )

  it.effect("C07 text + call (either order): the call runs, the text stays in history, the loop continues", () =>
    Effect.gen(function* () {
      for (const order of ["text-first", "call-first"] as const) {
        const parts = [M.message("Let me check"), M.functionCall("get_weather", { city: "Paris" })]
        const first = order === "text-first" ? M.turn(...parts) : M.turn(parts[1]!, parts[0]!)
        const { fake, runs, layer } = setup([first, M.message("It is sunny")])
        const result = yield* assistant.run("Weather?").pipe(Effect.provide(layer))
        assert.strictEqual(result._tag, "Completed")
        if (result._tag !== "Completed") return
        assert.strictEqual(result.output, "It is sunny")
        assert.strictEqual(runs.calls.length, 1)
        const second = fake.seen[1]!.request
        assert.isUndefined(validatePairing(second.input as never))
        const texts = inputJson(fake.seen[1]!)
        assert.isTrue(texts.some((json) => json.includes("Let me check")))
        assert.isTrue(texts.some((json) => json.includes("function_call_output")))
      }
    })
  )

  it.effect("parallel calls: bounded by ToolConcurrency, outputs in call order", () =>
    Effect.gen(function* () {
      const calls = [30, 10, 20, 5].map((ms, i) => M.functionCall("slow", { label: `c${i}`, ms }))
      const { fake, runs, layer } = setup([M.turn(...calls), M.message("done")])
      const fiber = yield* assistant
        .run("go")
        .pipe(Effect.provide(layer), Effect.provideService(AgentKnobs.ToolConcurrency, 2), Effect.forkChild)
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result._tag, "Completed")
      assert.strictEqual(runs.maxInFlight, 2)
      const outputs = (fake.seen[1]!.request.input as ReadonlyArray<{ type?: string; output?: unknown }>)
        .filter((item) => item.type === "function_call_output")
        .map((item) => item.output)
      assert.deepStrictEqual(outputs, ["c0", "c1", "c2", "c3"])
    })
  )

  it.effect("history is append-only and byte-stable: each request's input extends the previous one", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([
        M.turn(M.reasoning("thinking", "ENC=="), M.functionCall("get_weather", { city: "Oslo" })),
        M.turn(M.message("Checking more"), M.functionCall("echo", { text: "x" })),
        M.message("done")
      ])
      yield* assistant.run("Weather?").pipe(Effect.provide(layer))
      assert.strictEqual(fake.seen.length, 3)
      for (let i = 1; i < fake.seen.length; i++) {
        const previous = inputJson(fake.seen[i - 1]!)
        const current = inputJson(fake.seen[i]!)
        assert.deepStrictEqual(current.slice(0, previous.length), previous)
        assert.isAbove(current.length, previous.length)
        assert.strictEqual(fake.seen[i]!.request.instructions, "Be brief")
        assert.strictEqual(JSON.stringify(fake.seen[i]!.request.tools), JSON.stringify(fake.seen[0]!.request.tools))
      }
    })
  )

  it.effect(
    "reasoning items (encrypted_content) and unknown items go back untouched; assistant messages keep id + status",
    () =>
      Effect.gen(function* () {
        const future = { type: "future_item", id: "fi_1", payload: { nested: [1, 2, 3] }, note: "keep me" }
        const { fake, layer } = setup([
          M.turn(
            M.reasoning("plan", "gAAAA-encrypted"),
            M.rawItem(future),
            M.message("Let me look"),
            M.functionCall("echo", { text: "a" })
          ),
          M.message("done")
        ])
        yield* assistant.run("go").pipe(Effect.provide(layer))
        const input = fake.seen[1]!.request.input as ReadonlyArray<Record<string, unknown>>
        const reasoning = input.find((item) => item.type === "reasoning")!
        assert.strictEqual(reasoning.encrypted_content, "gAAAA-encrypted")
        const unknown = input.find((item) => item.type === "future_item")!
        assert.deepStrictEqual(unknown, future)
        const message = input.find((item) => item.type === "message" && item.role === "assistant")!
        assert.isString(message.id)
        assert.strictEqual(message.status, "completed")
      })
  )

  it.effect("a forced toolChoice is reset to auto once a tool ran (resetToolChoice, default on)", () =>
    Effect.gen(function* () {
      const forced = Agent.make({
        name: "f",
        model: "m",
        toolkit: TestTools,
        modelSettings: { toolChoice: "required" }
      })
      const { fake, layer } = setup([M.functionCall("echo", { text: "a" }), M.message("done")])
      yield* forced.run("go").pipe(Effect.provide(layer))
      assert.deepStrictEqual(
        fake.seen.map((seen) => seen.request.tool_choice),
        ["required", "auto"]
      )
      const kept = Agent.make({
        name: "k",
        model: "m",
        toolkit: TestTools,
        modelSettings: { toolChoice: "required" },
        resetToolChoice: false
      })
      const second = setup([M.functionCall("echo", { text: "a" }), M.message("done")])
      yield* kept.run("go").pipe(Effect.provide(second.layer))
      assert.deepStrictEqual(
        second.fake.seen.map((seen) => seen.request.tool_choice),
        ["required", "required"]
      )
    })
  )

  it.effect("multi-turn: passing the previous history back continues the conversation", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([M.message("first"), M.message("second")])
      const one = yield* assistant.run("Hi").pipe(Effect.provide(layer))
      const two = yield* assistant
        .run([...one.history, { type: "message", role: "user", content: "again" }])
        .pipe(Effect.provide(layer))
      assert.strictEqual(two._tag === "Completed" ? two.output : "", "second")
      const first = inputJson(fake.seen[0]!)
      assert.deepStrictEqual(inputJson(fake.seen[1]!).slice(0, first.length), first)
    })
  )
})

describe("structured output", () => {
  const Weather = Schema.Struct({ city: Schema.String, tempC: Schema.Number })
  const structured = Agent.make({ name: "structured", model: "m", output: Weather })

  it.effect("sends text.format json_schema from the Schema and decodes the final value", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([M.message(JSON.stringify({ city: "Rome", tempC: 21 }))])
      const result = yield* structured.run("Weather in Rome as JSON").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      if (result._tag !== "Completed") return
      assert.deepStrictEqual(result.value, { city: "Rome", tempC: 21 })
      const format = fake.seen[0]!.request.text?.format as {
        type: string
        name: string
        schema: { properties: object }
      }
      assert.strictEqual(format.type, "json_schema")
      assert.strictEqual(format.name, "output")
      assert.deepStrictEqual(Object.keys(format.schema.properties), ["city", "tempC"])
    })
  )

  it.effect(
    "outputStrict converts any schema: an optional field is sent required and nullable, and its null decodes as absent",
    () =>
      Effect.gen(function* () {
        const Report = Schema.Struct({ city: Schema.String, note: Schema.optionalKey(Schema.String) })
        const strict = Agent.make({ name: "strict", model: "m", output: Report, outputStrict: true })
        const { fake, layer } = setup([M.message(JSON.stringify({ city: "Rome", note: null }))])
        const result = yield* strict.run("JSON please").pipe(Effect.provide(layer))
        assert.strictEqual(result._tag, "Completed")
        if (result._tag !== "Completed") return
        assert.deepStrictEqual(result.value, { city: "Rome" })
        assert.isFalse(Object.hasOwn(result.value, "note"))
        const format = fake.seen[0]!.request.text?.format as unknown as {
          strict: boolean
          schema: {
            required: ReadonlyArray<string>
            additionalProperties: boolean
            properties: Record<string, unknown>
          }
        }
        assert.isTrue(format.strict)
        assert.deepStrictEqual(format.schema.required, ["city", "note"])
        assert.isFalse(format.schema.additionalProperties)
        assert.deepStrictEqual(format.schema.properties.note, { anyOf: [{ type: "string" }, { type: "null" }] })
      })
  )

  it("outputStrict with a schema strict mode cannot express (a non-object root) throws AgentDefinitionError at make", () => {
    const error = (() => {
      try {
        Agent.make({ name: "bad", model: "m", output: Schema.String, outputStrict: true })
        return undefined
      } catch (thrown) {
        return thrown
      }
    })()
    assert.instanceOf(error, AgentError.AgentDefinitionError)
    assert.include((error as AgentError.AgentDefinitionError).message, "strict mode")
  })

  it.effect("a decode failure is fed back once, then the corrected answer is accepted", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([M.message('{"city":1}'), M.message(JSON.stringify({ city: "Rome", tempC: 3 }))])
      const result = yield* structured.run("JSON please").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag === "Completed" ? result.value.tempC : -1, 3)
      const last = inputJson(fake.seen[1]!).at(-1)!
      assert.include(last, "did not match the required JSON schema")
    })
  )

  it.effect("a second decode failure is a typed StructuredOutputInvalid", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([M.message("not json"), M.message('{"still":"wrong"}')])
      const error = yield* Effect.flip(structured.run("JSON please").pipe(Effect.provide(layer)))
      assert.strictEqual(error._tag, "StructuredOutputInvalid")
      assert.strictEqual(fake.seen.length, 2)
      assert.isUndefined(validatePairing(error.history))
    })
  )
})
