/**
 * Issue 13 (hardening round 2), the agent's side: model JSON nested too deep, a per-turn call cap,
 * a `call_id` reused across turns, single-use approvals bound to their call, and turn restarts
 * under the client's retry policy. Each test fails on `bba834f`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { argsHash, validatePairing } from "../src/internal/history.ts"
import { type FakeStep, inputJson, makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", toolkit: TestTools })

const setup = (steps: ReadonlyArray<FakeStep>) => {
  const fake = makeFake(steps)
  const runs = makeRuns()
  return { fake, runs, layer: Layer.mergeAll(fake.layer, testToolsLayer(runs)) }
}

const outputsOf = (json: ReadonlyArray<string>) =>
  json
    .map((text) => JSON.parse(text) as { type?: string; call_id?: string; output?: string })
    .filter((item) => item.type === "function_call_output")

/** `{"text": [[[…]]]}` nested `levels` deep: 2 bytes per level. */
const deepArguments = (levels: number) => `{"text":${"[".repeat(levels)}${"]".repeat(levels)}}`

describe("issue 13: deep model JSON", () => {
  it("argsHash of arguments nested 4,000 deep (8 KB) returns a hash instead of overflowing the stack", () => {
    const deep = deepArguments(4000)
    assert.isAbove(deep.length, 8000)
    const hash = argsHash(deep)
    assert.match(hash, /^sha256:[0-9a-f]{64}$/)
    assert.strictEqual(argsHash(deep), hash, "stable")
    assert.notStrictEqual(argsHash(deepArguments(3999)), hash)
    assert.strictEqual(argsHash('{"b":1,"a":2}'), argsHash('{"a":2, "b":1}'), "key order still does not matter")
  })

  it.effect("tool arguments nested 4,000 deep are fed back to the model as invalid; the run goes on", () =>
    Effect.gen(function* () {
      const { fake, runs, layer } = setup([
        M.functionCall("echo", deepArguments(4000), { callId: "call_deep" }),
        M.message("Sorry.")
      ])
      const result = yield* assistant.run("go").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      assert.deepStrictEqual(runs.calls, [], "the tool never ran")
      const [output] = outputsOf(inputJson(fake.seen[1]!))
      assert.strictEqual(output?.call_id, "call_deep")
      assert.include(output?.output, "invalid_json")
      assert.include(output?.output, "deeper than 256 levels")
      assert.isUndefined(validatePairing(result.history))
    })
  )
})

describe("issue 13: calls screened before anything runs", () => {
  it.effect("a call_id reused from an earlier turn: the turn-2 tool never runs; ModelBehavior names the model", () =>
    Effect.gen(function* () {
      const { fake, runs, layer } = setup([
        M.functionCall("echo", { text: "first" }, { callId: "call_1" }),
        M.functionCall("charge_card", { amount: 100 }, { callId: "call_1" }),
        M.message("unreachable")
      ])
      const error = yield* Effect.flip(assistant.run("go").pipe(Effect.provide(layer)))
      assert.deepStrictEqual(
        runs.calls.map((call) => call.name),
        ["echo"],
        "charge_card (turn 2) did not run"
      )
      assert.strictEqual(error._tag, "ModelBehavior")
      if (error._tag !== "ModelBehavior") return
      assert.strictEqual(error.kind, "CallIdReused")
      assert.strictEqual(error.callId, "call_1")
      assert.include(error.message, "the model reused call_id call_1")
      assert.notInclude(error.message, "history you passed")
      assert.strictEqual(fake.seen.length, 2, "no third request")
      assert.isUndefined(validatePairing(error.history), "the transcript stays valid")
      assert.strictEqual(error.history.filter((item) => item.type === "function_call").length, 1)
    })
  )

  it.effect("10,000 function calls in one response: none runs, ModelBehavior TooManyCalls (default cap 128)", () =>
    Effect.gen(function* () {
      const calls = Array.from({ length: 10_000 }, (_, i) =>
        M.functionCall("echo", { text: `t${i}` }, { callId: `call_${i}` })
      )
      const { runs, layer } = setup([M.turn(...calls), M.message("unreachable")])
      const error = yield* Effect.flip(assistant.run("go").pipe(Effect.provide(layer)))
      assert.strictEqual(runs.calls.length, 0)
      assert.strictEqual(error._tag, "ModelBehavior")
      if (error._tag !== "ModelBehavior") return
      assert.strictEqual(error.kind, "TooManyCalls")
      assert.strictEqual(error.count, 10_000)
      assert.strictEqual(error.limit, 128)
      assert.isUndefined(validatePairing(error.history))
    })
  )

  it.effect("MaxCallsPerTurn is a knob: 128 calls run by default, a lower cap refuses them", () =>
    Effect.gen(function* () {
      const turn = () =>
        M.turn(...Array.from({ length: 128 }, (_, i) => M.functionCall("echo", { text: `t${i}` }, { callId: `c${i}` })))
      const ok = setup([turn(), M.message("done")])
      const result = yield* assistant.run("go").pipe(Effect.provide(ok.layer))
      assert.strictEqual(result._tag, "Completed")
      assert.strictEqual(ok.runs.calls.length, 128)
      const capped = setup([turn()])
      const error = yield* Effect.flip(
        assistant.run("go").pipe(Effect.provide(capped.layer), Effect.provideService(AgentKnobs.MaxCallsPerTurn, 127))
      )
      assert.strictEqual(error._tag === "ModelBehavior" ? error.kind : error._tag, "TooManyCalls")
      assert.strictEqual(capped.runs.calls.length, 0)
    })
  )
})
