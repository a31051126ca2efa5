/**
 * Config tests for every default (docs/reliability.md, Defaults) owned by `@volley/tools`: per-tool timeout
 * (120 s, fed back), output cap (64 KiB with a note), the fed-back error shape (≤ 2 KiB, no stack,
 * redacted), tool calls in flight (8), unknown tools (fed back with up to 50 names), content in
 * spans (off), the per-tool option defaults (strict, no approval, idempotent, feedback policy) and
 * the shipped fetch tool's limits (1 MiB, 10 s, no allowlist). Each fails if the default changes;
 * the behavioural ones also check that the code uses it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as FetchTool from "../src/FetchTool.ts"
import { MAX_ERROR_BYTES } from "../src/internal/output.ts"
import * as Tool from "../src/Tool.ts"
import * as Toolkit from "../src/Toolkit.ts"
import { call, expectError } from "./support.ts"

const Plain = Tool.make("plain", { description: "A tool with every option left at its default" })

describe("Defaults (docs/reliability.md)", () => {
  it("per-tool timeout is 120 s", () => {
    assert.strictEqual(Duration.toMillis(Tool.defaultTimeout), 120_000)
    assert.strictEqual(Duration.toMillis(Plain.timeout), 120_000)
  })

  it.effect("a handler running past 120 s is interrupted and the timeout is fed back as a tool error", () =>
    Effect.gen(function* () {
      const kit = Toolkit.make(Plain)
      const fiber = yield* kit.asEffect().pipe(
        Effect.flatMap((handled) => handled.handle(call("plain", {}))),
        Effect.provide(kit.toLayer({ plain: () => Effect.never })),
        Effect.forkChild
      )
      yield* TestClock.adjust("119 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("2 seconds")
      const result = yield* Fiber.join(fiber)
      assert.include(expectError(result, "timeout"), "120000 ms")
      assert.strictEqual(result.outcome._tag, "Failure")
    })
  )

  it("tool output sent to the model is capped at 64 KiB", () => {
    assert.strictEqual(Tool.defaultMaxOutputBytes, 64 * 1024)
    assert.strictEqual(Plain.maxOutputBytes, 64 * 1024)
  })

  it.effect(
    "a larger output is cut to 64 KiB with a note giving the original size; the full value stays available",
    () =>
      Effect.gen(function* () {
        const Big = Tool.make("big", { description: "Big output", success: Schema.String })
        const kit = Toolkit.make(Big)
        const value = "x".repeat(100_000)
        const result = yield* kit.asEffect().pipe(
          Effect.flatMap((handled) => handled.handle(call("big", {}))),
          Effect.provide(kit.toLayer({ big: () => Effect.succeed(value) }))
        )
        const output = result.output.output as string
        assert.include(output, "100000 bytes")
        assert.isAtMost(Buffer.byteLength(output, "utf8"), 64 * 1024 + 200)
        assert.isTrue(output.startsWith("x".repeat(1000)))
        assert.strictEqual(result.outcome._tag, "Success")
        if (result.outcome._tag === "Success") {
          assert.isTrue(result.outcome.truncated)
          assert.strictEqual(result.outcome.value, value)
        }
      })
  )

  it.effect(
    'a tool error is fed back as {"error":{"type","message"}}, at most 2 KiB, with no stack and no secret',
    () =>
      Effect.gen(function* () {
        assert.strictEqual(MAX_ERROR_BYTES, 2048)
        const kit = Toolkit.make(Plain)
        const secret = "sk-volley-CANARY-defaults1234"
        const result = yield* kit.asEffect().pipe(
          Effect.flatMap((handled) => handled.handle(call("plain", {}))),
          Effect.provide(
            kit.toLayer({
              plain: () =>
                Effect.sync(() => {
                  throw new Error(`failed with ${secret} ${"é".repeat(5000)}`)
                })
            })
          )
        )
        const output = result.output.output as string
        assert.isAtMost(Buffer.byteLength(output, "utf8"), 2048)
        assert.notInclude(output, secret)
        assert.notInclude(output, secret.slice(-8))
        assert.notMatch(output, /\n\s+at /)
        expectError(result, "internal_error")
      })
  )

  it("tool calls in flight per turn: 8", () => {
    assert.strictEqual(Toolkit.defaultConcurrency, 8)
  })

  it.effect("handleAll runs at most 8 calls at once by default", () =>
    Effect.gen(function* () {
      const Wait = Tool.make("wait", { description: "Waits", success: Schema.String })
      const kit = Toolkit.make(Wait)
      let inFlight = 0
      let max = 0
      const fiber = yield* kit.asEffect().pipe(
        Effect.flatMap((handled) => handled.handleAll(Array.from({ length: 20 }, () => call("wait", {})))),
        Effect.provide(
          kit.toLayer({
            wait: () =>
              Effect.sync(() => {
                inFlight++
                max = Math.max(max, inFlight)
              }).pipe(
                Effect.andThen(Effect.sleep("1 second")),
                Effect.ensuring(Effect.sync(() => inFlight--)),
                Effect.as("ok")
              )
          })
        ),
        Effect.forkChild
      )
      yield* TestClock.adjust("10 seconds")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(results.length, 20)
      assert.strictEqual(max, 8)
      assert.strictEqual(yield* Toolkit.Concurrency, 8)
    })
  )

  it.effect("an unknown tool is fed back (not fatal) with at most 50 available names", () =>
    Effect.gen(function* () {
      const tools = Array.from({ length: 60 }, (_, i) => Tool.make(`tool_${i}`, { description: `Tool ${i}` }))
      const kit = Toolkit.make(...tools)
      const handlers = Object.fromEntries(tools.map((t) => [t.name, () => Effect.succeed("ok")]))
      const result = yield* kit.asEffect().pipe(
        Effect.flatMap((handled) => handled.handle(call("get_wether", {}))),
        Effect.provide(kit.toLayer(handlers as never))
      )
      const message = expectError(result, "unknown_tool")
      const listed = message.match(/tool_\d+/g) ?? []
      assert.strictEqual(listed.length, 50)
    })
  )

  it("per-tool options: strict, no approval, idempotent, failures fed back, content not captured", () => {
    assert.isTrue(Plain.strict)
    assert.isTrue(Plain.definition.strict)
    assert.isFalse(Plain.mayNeedApproval)
    assert.isTrue(Plain.idempotent)
    assert.strictEqual(Plain.failurePolicy, "feedback")
    assert.isFalse(Plain.captureContent)
  })

  it("the stop grace after a timeout is 1 s", () => {
    assert.strictEqual(Duration.toMillis(Toolkit.defaultGrace), 1000)
  })

  it("shipped fetch tool: 1 MiB cap, 10 s total time, no allowlist", () => {
    assert.strictEqual(FetchTool.defaultMaxBytes, 1024 * 1024)
    // The tool's own timeout is the fetch deadline plus a 1 s margin for the handler to report it.
    assert.strictEqual(Duration.toMillis(FetchTool.make().timeout), 11_000)
    assert.isTrue(FetchTool.isBlockedAddress("127.0.0.1"))
    assert.isTrue(FetchTool.isBlockedAddress("169.254.169.254"))
    assert.isTrue(FetchTool.isBlockedAddress("10.0.0.5"))
  })
})
