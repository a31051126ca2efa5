import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as RunHooks from "../src/RunHooks.ts"

const context = { agent: "a", runId: "r" }

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    lines.push(`${options.logLevel}: ${JSON.stringify(options.message)}`)
  })
  return { lines, layer: Logger.layer([logger]) }
}

describe("RunHooks", () => {
  it.effect("an absent hook is nothing; a present one runs with its argument", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      assert.strictEqual(RunHooks.call({}, "onRunStart", context), Effect.void)
      yield* RunHooks.call(
        { onTurnStart: ({ turn, model }) => Effect.sync(() => seen.push(`${turn}:${model}`)) },
        "onTurnStart",
        { ...context, turn: 1, model: "m" }
      )
      assert.deepStrictEqual(seen, ["1:m"])
    })
  )

  it.effect("a failing hook (failure or defect) is logged, not fatal", () =>
    Effect.gen(function* () {
      const { lines, layer } = captureLogs()
      yield* RunHooks.call({ onRunStart: () => Effect.fail("metrics down") }, "onRunStart", context).pipe(
        Effect.provide(layer)
      )
      yield* RunHooks.call({ onRunStart: () => Effect.die("bug") }, "onRunStart", context).pipe(Effect.provide(layer))
      assert.strictEqual(lines.filter((line) => line.startsWith("Warn") && line.includes("onRunStart")).length, 2)
    })
  )

  it.effect("failRun: a failing hook fails with HookFailed", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        RunHooks.call({ failRun: true, onRunEnd: () => Effect.fail("audit log unavailable") }, "onRunEnd", {
          ...context,
          stopReason: { _tag: "Completed" },
          usage: {
            requests: 0,
            inputTokens: 0,
            outputTokens: 0,
            totalTokens: 0,
            cachedInputTokens: 0,
            reasoningTokens: 0
          }
        })
      )
      assert.strictEqual(error.hook, "onRunEnd")
      assert.include(error.message, "audit log unavailable")
    })
  )

  it.effect("interruption of a hook is not swallowed", () =>
    Effect.gen(function* () {
      const fiber = yield* RunHooks.call({ onRunStart: () => Effect.interrupt }, "onRunStart", context).pipe(
        Effect.forkChild
      )
      const exit = yield* Fiber.await(fiber)
      assert.strictEqual(exit._tag, "Failure")
    })
  )

  it.effect("combine runs hooks in order; a logged failure in one does not stop the next", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const { layer } = captureLogs()
      const hooks = RunHooks.combine(
        { onToolStart: () => Effect.sync(() => seen.push("first")) },
        { onToolStart: () => Effect.fail("broken") },
        { onToolStart: ({ call }) => Effect.sync(() => seen.push(`third ${call.name}`)) }
      )
      yield* RunHooks.call(hooks, "onToolStart", {
        ...context,
        turn: 1,
        call: { type: "function_call", call_id: "c", name: "t", arguments: "{}" }
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(seen, ["first", "third t"])
      assert.isUndefined(hooks.onRunStart)
    })
  )

  it.effect("RunHooks is a reference with no hooks by default; layer builds hooks from services", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* RunHooks.RunHooks, {})
      class Counter extends Context.Service<Counter, { n: number }>()("test/Counter") {}
      const counter = { n: 0 }
      const hooks = yield* RunHooks.RunHooks.pipe(
        Effect.provide(
          RunHooks.layer(
            Effect.map(Effect.service(Counter), (c) => ({ onRunStart: () => Effect.sync(() => void c.n++) }))
          )
        ),
        Effect.provideService(Counter, counter)
      )
      yield* RunHooks.call(hooks, "onRunStart", context)
      assert.strictEqual(counter.n, 1)
    })
  )
})
