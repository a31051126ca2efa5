/**
 * `Toolkit` per-tool options (needsApproval, timeout, failure policies, output caps, idempotency),
 * interruption of running handlers, and handler services provided by layers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import { RetryPolicy } from "@volley/core"
import * as Tool from "../src/Tool.ts"
import { ToolDefinitionError, ToolFailed, ToolTimeout } from "../src/ToolError.ts"
import * as Toolkit from "../src/Toolkit.ts"
import { CityNotFound, call, errorOf, expectError } from "./support.ts"

const Echo = Tool.make("echo", {
  description: "Echo a text",
  parameters: Schema.Struct({ text: Schema.String }),
  success: Schema.String
})

describe("options", () => {
  const Pay = Tool.make("pay", {
    description: "Pay an amount",
    parameters: Schema.Struct({ amount: Schema.Finite }),
    needsApproval: ({ amount }) => amount > 100,
    idempotent: false
  })
  const Delete = Tool.make("delete_file", { description: "d", needsApproval: true })
  const Check = Tool.make("check", {
    description: "d",
    parameters: Schema.Struct({ path: Schema.String }),
    needsApproval: ({ path }) => Effect.succeed(path.startsWith("/etc"))
  })
  const kit = Toolkit.make(Pay, Delete, Check, Echo)
  const layer = kit.toLayer({
    pay: () => Effect.succeed("paid"),
    delete_file: () => Effect.succeed("deleted"),
    check: () => Effect.succeed("ok"),
    echo: ({ text }) => Effect.succeed(text)
  })

  it.effect("needsApproval: boolean, a function of the decoded args, or an Effect", () =>
    Effect.gen(function* () {
      const h = yield* kit.asEffect().pipe(Effect.provide(layer))
      assert.isTrue(yield* h.needsApproval(call("pay", { amount: 500 })))
      assert.isFalse(yield* h.needsApproval(call("pay", { amount: 5 })))
      assert.isTrue(yield* h.needsApproval(call("delete_file", "{}")))
      assert.isTrue(yield* h.needsApproval(call("check", { path: "/etc/passwd" })))
      assert.isFalse(yield* h.needsApproval(call("check", { path: "/tmp/x" })))
      assert.isFalse(yield* h.needsApproval(call("echo", { text: "x" })))
      // unknown tools and undecodable arguments never need approval: handle feeds the error back
      assert.isFalse(yield* h.needsApproval(call("nope", "{}")))
      assert.isFalse(yield* h.needsApproval(call("pay", { amount: "lots" })))
      assert.isFalse(yield* h.needsApproval(call("pay", { amount: 500 }), { enabled: ["echo"] }))
    })
  )

  it.effect("idempotent: false is exposed for the agent", () =>
    Effect.gen(function* () {
      const h = yield* kit.asEffect().pipe(Effect.provide(layer))
      assert.isFalse(h.isIdempotent("pay"))
      assert.isTrue(h.isIdempotent("echo"))
      assert.isTrue(h.isIdempotent("nope"))
      assert.isFalse(Pay.idempotent)
    })
  )

  it.effect("timeout: default 120 s, fed back as a timeout", () =>
    Effect.gen(function* () {
      const Slow = Tool.make("slow", { description: "d" })
      const k = Toolkit.make(Slow)
      const fiber = yield* k.asEffect().pipe(
        Effect.flatMap((h) => h.handle(call("slow", "{}"))),
        Effect.provide(k.toLayer({ slow: () => Effect.sleep("1 hour") })),
        Effect.forkChild
      )
      yield* TestClock.adjust("119 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const r = yield* Fiber.join(fiber)
      assert.strictEqual(expectError(r, "timeout"), "Tool 'slow' timed out after 120000 ms")
    })
  )

  it.effect("failurePolicy fail: a typed failure fails the run with ToolFailed carrying it", () =>
    Effect.gen(function* () {
      const T = Tool.make("t", { description: "d", failure: CityNotFound, failurePolicy: "fail" })
      const k = Toolkit.make(T)
      const error = yield* k.asEffect().pipe(
        Effect.flatMap((h) => h.handleAll([call("t", "{}")])),
        Effect.provide(k.toLayer({ t: () => Effect.fail(new CityNotFound({ city: "X" })) })),
        Effect.flip
      )
      assert.instanceOf(error, ToolFailed)
      if (!(error instanceof ToolFailed)) return
      assert.instanceOf(error.error, CityNotFound)
      assert.strictEqual(error.name, "t")
    })
  )

  it.effect("failurePolicy fail: a timeout fails the run with ToolTimeout{ms}", () =>
    Effect.gen(function* () {
      const T = Tool.make("t", { description: "d", timeout: "2 seconds", failurePolicy: "fail" })
      const k = Toolkit.make(T)
      const fiber = yield* k.asEffect().pipe(
        Effect.flatMap((h) => h.handle(call("t", "{}"))),
        Effect.provide(k.toLayer({ t: () => Effect.never })),
        Effect.flip,
        Effect.forkChild
      )
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, ToolTimeout)
      assert.strictEqual((error as ToolTimeout).ms, 2000)
    })
  )

  it.effect("failurePolicy retry: re-runs on typed failure, then feeds back (default) or fails", () =>
    Effect.gen(function* () {
      let runs = 0
      const T = Tool.make("t", {
        description: "d",
        failure: Schema.String,
        failurePolicy: { retry: Schedule.recurs(2) }
      })
      const F = Tool.make("f", {
        description: "d",
        failure: Schema.String,
        failurePolicy: { retry: Schedule.recurs(1), whenExhausted: "fail" }
      })
      const Flaky = Tool.make("flaky", {
        description: "d",
        failure: Schema.String,
        failurePolicy: { retry: Schedule.recurs(3) }
      })
      const k = Toolkit.make(T, F, Flaky)
      const h = yield* k.asEffect().pipe(
        Effect.provide(
          k.toLayer({
            t: () => Effect.fail("nope"),
            f: () => Effect.fail("still nope"),
            flaky: () => (++runs < 2 ? Effect.fail("once") : Effect.succeed("second time lucky"))
          })
        )
      )
      const r = yield* h.handle(call("t", "{}"))
      assert.strictEqual(r.attempts, 3)
      assert.strictEqual(expectError(r, "tool_error"), "nope")
      const error = yield* h.handle(call("f", "{}")).pipe(Effect.flip)
      assert.instanceOf(error, ToolFailed)
      const ok = yield* h.handle(call("flaky", "{}"))
      assert.strictEqual(ok.output.output, "second time lucky")
      assert.strictEqual(ok.attempts, 2)
    })
  )

  it.effect("Tool.retrySchedule: core's RetryPolicy backoff (500 ms, then 1 s, with jitter) and its maxRetries", () =>
    Effect.gen(function* () {
      let runs = 0
      const T = Tool.make("t", {
        description: "d",
        failure: Schema.String,
        failurePolicy: { retry: Tool.retrySchedule(RetryPolicy.make({ maxRetries: 2 })) }
      })
      const k = Toolkit.make(T)
      const fiber = yield* k.asEffect().pipe(
        Effect.flatMap((h) => h.handle(call("t", "{}"))),
        Effect.provide(k.toLayer({ t: () => Effect.sync(() => ++runs).pipe(Effect.andThen(Effect.fail("nope"))) })),
        Effect.forkChild
      )
      yield* TestClock.adjust("374 millis")
      assert.strictEqual(runs, 1, "no retry before the backoff floor (500 ms x 0.75)")
      yield* TestClock.adjust("126 millis")
      assert.strictEqual(runs, 2)
      yield* TestClock.adjust("1 second")
      const r = yield* Fiber.join(fiber)
      assert.strictEqual(runs, 3, "maxRetries 2: three runs in all")
      assert.strictEqual(r.attempts, 3)
      assert.strictEqual(expectError(r, "tool_error"), "nope")
    })
  )

  it.effect("failurePolicy retry also re-runs after a timeout", () =>
    Effect.gen(function* () {
      let runs = 0
      const T = Tool.make("t", { description: "d", timeout: "1 second", failurePolicy: { retry: Schedule.recurs(1) } })
      const k = Toolkit.make(T)
      const fiber = yield* k.asEffect().pipe(
        Effect.flatMap((h) => h.handle(call("t", "{}"))),
        Effect.provide(k.toLayer({ t: () => (++runs === 1 ? Effect.never : Effect.succeed("second")) })),
        Effect.forkChild
      )
      yield* TestClock.adjust("1 second")
      const r = yield* Fiber.join(fiber)
      assert.strictEqual(r.output.output, "second")
      assert.strictEqual(r.attempts, 2)
    })
  )

  it.effect("maxOutputBytes: a custom cap, never splitting a character", () =>
    Effect.gen(function* () {
      const T = Tool.make("t", { description: "d", maxOutputBytes: 300 })
      const k = Toolkit.make(T)
      const r = yield* k.asEffect().pipe(
        Effect.flatMap((h) => h.handle(call("t", "{}"))),
        Effect.provide(k.toLayer({ t: () => Effect.succeed("€".repeat(1000)) }))
      )
      const output = r.output.output as string
      assert.isAtMost(Buffer.byteLength(output), 300)
      assert.match(output, /^€+\n\[output truncated by Volley: 3000 bytes in total, the first 300 bytes are shown\]$/)
    })
  )

  it("invalid maxOutputBytes is a definition error", () => {
    assert.throws(() => Tool.make("t", { description: "d", maxOutputBytes: 10 }), ToolDefinitionError)
  })
})

describe("interruption", () => {
  const Sleep = Tool.make("sleep", {
    description: "d",
    parameters: Schema.Struct({ ms: Schema.Int }),
    success: Schema.String
  })
  const kit = Toolkit.make(Sleep)

  it.effect(
    "E05 interrupt: in-flight and queued calls get cancelled outputs; handlers see interruption and their AbortSignal",
    () =>
      Effect.gen(function* () {
        const cleaned: Array<number> = []
        const aborted: Array<number> = []
        const layer = kit.toLayer({
          sleep: ({ ms }, { signal }) => {
            signal.addEventListener("abort", () => aborted.push(ms))
            return Effect.sleep(`${ms} millis`).pipe(
              Effect.as(`slept ${ms}`),
              Effect.onInterrupt(() => Effect.sync(() => cleaned.push(ms)))
            )
          }
        })
        const stop = yield* Deferred.make<void>()
        const calls = [10, 30_000, 30_001, 30_002].map((ms) => call("sleep", { ms }, `c${ms}`))
        const fiber = yield* kit.asEffect().pipe(
          Effect.flatMap((h) => h.handleAll(calls, { concurrency: 2, interrupt: Deferred.await(stop) })),
          Effect.provide(layer),
          Effect.forkChild
        )
        yield* TestClock.adjust("1 second")
        yield* Deferred.succeed(stop, undefined)
        const results = yield* Fiber.join(fiber)
        assert.deepStrictEqual(
          results.map((r) => r.output.call_id),
          calls.map((c) => c.call_id)
        )
        assert.strictEqual(results[0]!.output.output, "slept 10")
        for (const r of results.slice(1)) {
          assert.deepStrictEqual(errorOf(r.output), {
            type: "cancelled",
            message: "Tool call 'sleep' was cancelled before it finished"
          })
        }
        assert.deepStrictEqual(cleaned.sort(), [30_000, 30_001])
        assert.deepStrictEqual(aborted.sort(), [30_000, 30_001])
      })
  )

  it.effect("interrupting the caller interrupts the handlers; cancelledOutput closes the history", () =>
    Effect.gen(function* () {
      const cleaned: Array<number> = []
      const layer = kit.toLayer({
        sleep: ({ ms }) =>
          Effect.sleep(`${ms} millis`).pipe(
            Effect.as("done"),
            Effect.onInterrupt(() => Effect.sync(() => cleaned.push(ms)))
          )
      })
      const c = call("sleep", { ms: 30_000 }, "c_live")
      const fiber = yield* kit.asEffect().pipe(
        Effect.flatMap((h) => h.handleAll([c])),
        Effect.provide(layer),
        Effect.forkChild
      )
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      assert.deepStrictEqual(cleaned, [30_000])
      assert.deepStrictEqual(Toolkit.cancelledOutput(c), {
        type: "function_call_output",
        call_id: "c_live",
        output: '{"error":{"type":"cancelled","message":"Tool call \'sleep\' was cancelled before it finished"}}'
      })
    })
  )
})

describe("services", () => {
  class Clockwork extends Context.Service<Clockwork, { readonly tick: Effect.Effect<number> }>()("test/Clockwork") {}
  const Tick = Tool.make("tick", { description: "d", success: Schema.Int })
  const kit = Toolkit.make(Tick)
  const handlers = kit.toLayer(
    Effect.gen(function* () {
      const clock = yield* Clockwork
      return kit.of({ tick: () => clock.tick })
    })
  )

  it("types: handler services appear in the layer's requirements; typed failures are checked", () => {
    const layer: Layer.Layer<Toolkit.Handlers<typeof kit.tools>, never, Clockwork> = handlers
    assert.isDefined(layer)
    const Typed = Tool.make("typed", {
      description: "d",
      parameters: Schema.Struct({ n: Schema.Int }),
      success: Schema.String,
      failure: CityNotFound
    })
    const typedKit = Toolkit.make(Typed)
    typedKit.of({ typed: ({ n }) => (n > 0 ? Effect.succeed(String(n)) : Effect.fail(new CityNotFound({ city: "" }))) })
    // @ts-expect-error a failure outside the tool's failure schema is a type error
    typedKit.of({ typed: () => Effect.fail("nope") })
    // @ts-expect-error a success of the wrong type is a type error
    typedKit.of({ typed: () => Effect.succeed(1) })
    // @ts-expect-error every tool needs a handler
    typedKit.toLayer({})
  })

  it.effect("the caller's context wins over the one captured when the handler layer was built", () =>
    Effect.gen(function* () {
      const Greeting = Context.Reference<string>("test/Greeting", { defaultValue: () => "default" })
      const Hello = Tool.make("hello", { description: "d", success: Schema.String })
      const k = Toolkit.make(Hello)
      const built = yield* Layer.build(
        k.toLayer({ hello: () => Effect.map(Effect.context<never>(), (c) => Context.get(c, Greeting)) })
      ).pipe(Effect.provideService(Greeting, "build time"))
      const r = yield* k.asEffect().pipe(
        Effect.flatMap((h) => h.handle(call("hello", "{}"))),
        Effect.provideContext(built),
        Effect.provideService(Greeting, "call time")
      )
      assert.strictEqual(r.output.output, "call time")
    })
  )

  it.effect("handler services come from the layer; tests swap them by layer", () =>
    Effect.gen(function* () {
      const run = (n: number) =>
        kit.asEffect().pipe(
          Effect.flatMap((h) => h.handle(call("tick", "{}"))),
          Effect.provide(handlers.pipe(Layer.provide(Layer.succeed(Clockwork, { tick: Effect.succeed(n) }))))
        )
      assert.strictEqual((yield* run(1)).output.output, "1")
      assert.strictEqual((yield* run(42)).output.output, "42")
    })
  )
})
