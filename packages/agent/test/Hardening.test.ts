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
