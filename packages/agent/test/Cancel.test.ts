import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import { validatePairing } from "../src/internal/history.ts"
import type { RunState } from "../src/RunState.ts"
import { type FakeStep, makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", toolkit: TestTools })

const setup = (steps: ReadonlyArray<FakeStep>) => {
  const fake = makeFake(steps)
  const runs = makeRuns()
  return { fake, runs, layer: Layer.mergeAll(fake.layer, testToolsLayer(runs)) }
}

describe("cancellation", () => {
  it.effect(
    "E05 interrupting mid-tool: the tool is interrupted, a cancelled output is saved, resume sends a valid request",
    () =>
      Effect.gen(function* () {
        const { fake, runs, layer } = setup([
          M.turn(
            M.functionCall("slow", { label: "fast", ms: 10 }, { callId: "call_fast" }),
            M.functionCall("slow", { label: "sleeper", ms: 30_000 }, { callId: "call_slow" })
          ),
          M.message("resumed fine")
        ])
        let saved: RunState | undefined
        const fiber = yield* assistant
          .run("go", {
            checkpoint: (state) =>
              Effect.sync(() => {
                saved = state
              })
          })
          .pipe(Effect.provide(layer), Effect.forkChild)
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(runs.finished, ["fast"])
        yield* Fiber.interrupt(fiber)
        assert.include(runs.cleanedUp, "sleeper", "the tool observed the interruption")
        assert.notInclude(runs.finished, "sleeper")
        assert.isDefined(saved)
        const state = saved!
        assert.strictEqual(state.stopReason._tag, "Interrupted")
        assert.isUndefined(validatePairing(state.history))
        const outputs = state.history.flatMap((item) => (item.type === "function_call_output" ? [item] : []))
        assert.deepStrictEqual(
          outputs.map((item) => item.call_id),
          ["call_fast", "call_slow"]
        )
        assert.strictEqual(outputs[0]!.output, "fast")
        assert.strictEqual(JSON.parse(outputs[1]!.output as string).error.type, "cancelled")
        const result = yield* assistant.resume(state).pipe(Effect.provide(layer))
        assert.strictEqual(result._tag, "Completed")
        assert.strictEqual(fake.seen.length, 2)
        assert.isUndefined(validatePairing(fake.seen[1]!.request.input as never))
        assert.strictEqual(runs.calls.length, 2, "resume re-ran nothing")
      })
  )

  it.effect("E06 the stream consumer stops early: running tools are interrupted and no model call follows", () =>
    Effect.gen(function* () {
      const { fake, runs, layer } = setup([M.functionCall("slow", { label: "long", ms: 30_000 }), M.message("never")])
      const fiber = yield* assistant.stream("go").pipe(
        Stream.provide(layer),
        Stream.takeUntil((event) => event._tag === "TurnEnd"),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* TestClock.adjust("10 millis")
      yield* Effect.yieldNow
      const events = yield* Fiber.join(fiber)
      assert.strictEqual(events.at(-1)?._tag, "TurnEnd")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(fake.seen.length, 1)
      assert.notInclude(runs.finished, "long")
      // The consumer closes its scope while the tool runs: the tool is interrupted.
      const second = setup([M.functionCall("slow", { label: "long", ms: 30_000 }), M.message("never")])
      const consumer = yield* assistant
        .stream("go")
        .pipe(Stream.provide(second.layer), Stream.runDrain, Effect.forkChild)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(second.runs.calls.length, 1)
      yield* Fiber.interrupt(consumer)
      assert.include(second.runs.cleanedUp, "long")
      assert.notInclude(second.runs.finished, "long")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(second.fake.seen.length, 1)
    })
  )

  it.effect("E04 interrupting during the model call: the run exits interrupted, no further request", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([{ _tag: "Hang" }, M.message("never")])
      let saved: RunState | undefined
      const fiber = yield* assistant
        .run("go", {
          checkpoint: (state) =>
            Effect.sync(() => {
              saved = state
            })
        })
        .pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(fake.seen.length, 1)
      assert.strictEqual(saved?.stopReason._tag, "Interrupted")
      assert.isUndefined(validatePairing(saved!.history))
    })
  )
})
