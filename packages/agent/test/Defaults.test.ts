/**
 * Config tests for the defaults (docs/reliability.md, Defaults) owned by the agent loop, beyond the knob values
 * checked in Limits.test.ts: each one runs the loop with no configuration and shows the default
 * at work (malformed-argument turns, repeated calls, unknown tools, tool calls in flight, turn
 * retry after a stream drop, approvals bound to call id + argument hash and unsigned without a
 * secret, content kept out of spans, no total deadline or token budget).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { ResponsesError } from "@volley/core"
import { TestClock } from "effect/testing"
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

describe("Defaults (docs/reliability.md), agent loop", () => {
  it.effect("malformed-argument turns per run: 3, then ToolArgumentsInvalid", () =>
    Effect.gen(function* () {
      // Different arguments each time (identical ones would be caught as repeats first).
      const bad = (i: number) => M.functionCall("get_weather", `{"city": "Paris ${i}"` as never)
      const { fake, runs, layer } = setup([bad(1), bad(2), bad(3), M.message("never")])
      const error = yield* Effect.flip(assistant.run("go").pipe(Effect.provide(layer)))
      assert.strictEqual(error._tag, "ToolArgumentsInvalid")
      assert.strictEqual(fake.seen.length, 3)
      assert.strictEqual(runs.calls.length, 0)
    })
  )

  it.effect("repeated identical call: the 3rd repeat is not re-run, the 5th stops the run", () =>
    Effect.gen(function* () {
      const steps = Array.from({ length: 6 }, () => M.functionCall("get_weather", { city: "Paris" }))
      const { runs, layer } = setup(steps)
      const error = yield* Effect.flip(assistant.run("go").pipe(Effect.provide(layer)))
      assert.strictEqual(error._tag, "LoopDetected")
      assert.strictEqual(runs.calls.length, 2)
    })
  )

  it.effect("unknown tool: fed back, the run goes on", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([M.functionCall("get_wether", { city: "Paris" }), M.message("sorry")])
      const result = yield* assistant.run("go").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      const [output] = outputsOf(inputJson(fake.seen[1]!))
      assert.include(output?.output ?? "", "get_wether")
      assert.include(output?.output ?? "", "get_weather")
    })
  )

  it.effect("tool calls in flight per turn: 8", () =>
    Effect.gen(function* () {
      const calls = Array.from({ length: 20 }, (_, i) => M.functionCall("slow", { label: `s${i}`, ms: 100 }))
      const { runs, layer } = setup([M.turn(...calls), M.message("done")])
      const fiber = yield* assistant.run("go").pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result._tag, "Completed")
      assert.strictEqual(runs.maxInFlight, 8)
      assert.strictEqual(runs.finished.length, 20)
    })
  )

  it.effect("turn retry after a stream drop is on: TurnRestarted, then a fresh stream", () =>
    Effect.gen(function* () {
      const drop: FakeStep = {
        _tag: "Drop",
        after: 4,
        turn: M.message("partial answer here"),
        error: (attempts) =>
          new ResponsesError.NetworkError({
            message: "reset",
            phase: "stream",
            retryable: true,
            attempts,
            causes: []
          })
      }
      const { fake, layer } = setup([drop, M.message("whole answer")])
      const events = yield* Stream.runCollect(assistant.stream("go")).pipe(Effect.provide(layer))
      const tags = events.map((event) => event._tag)
      assert.include(tags, "TurnRestarted")
      assert.strictEqual(fake.seen.length, 2)
      assert.strictEqual(tags.at(-1), "RunEnd")
    })
  )

  it.effect(
    "approvals: a needsApproval tool pauses; without a secret the approval is unsigned and bound to call id + argument hash",
    () =>
      Effect.gen(function* () {
        const { runs, layer } = setup([
          M.functionCall("delete_file", { path: "/tmp/a" }, { callId: "call_del" }),
          M.message("Deleted.")
        ])
        const paused = yield* assistant.run("clean").pipe(Effect.provide(layer))
        assert.strictEqual(paused._tag, "Paused")
        if (paused._tag !== "Paused") return
        assert.strictEqual(paused.stopReason.argsHash, argsHash('{"path":"/tmp/a"}'))
        const approval = assistant.approve(paused.state, "call_del")
        assert.strictEqual(approval.callId, "call_del")
        assert.strictEqual(approval.argsHash, paused.stopReason.argsHash)
        assert.isUndefined(approval.signature)
        // Bound to the arguments: the same call id with another hash is refused.
        const forged = { ...approval, argsHash: argsHash('{"path":"/"}') }
        const refused = yield* Effect.flip(
          assistant.resume(paused.state, { approvals: [forged] }).pipe(Effect.provide(layer))
        )
        assert.strictEqual(refused._tag, "InvalidApproval")
        assert.strictEqual(runs.calls.length, 0)
        const result = yield* assistant.resume(paused.state, { approvals: [approval] }).pipe(Effect.provide(layer))
        assert.strictEqual(result._tag, "Completed")
        assert.isUndefined(validatePairing(result.history))
      })
  )

  it.effect("no total deadline and no token budget by default; content capture off", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* AgentKnobs.Budgets, {})
      assert.isFalse(yield* AgentKnobs.CaptureContent)
      // A slow model call (20 minutes of virtual time) is not cut by any run deadline.
      const { layer } = setup([{ _tag: "Delay", ms: 20 * 60_000, turn: M.message("late but fine") }])
      const fiber = yield* assistant.run("go").pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust("21 minutes")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result._tag, "Completed")
    })
  )
})
