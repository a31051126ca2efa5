import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { DurableAgent } from "@volley/durable"
import { validatePairing } from "../../agent/src/internal/history.ts"
import { payer } from "./support/agent.ts"
import { payerSetup } from "./support/payer.ts"

describe("durable approvals (approve/<call_id> deferreds)", () => {
  it.effect(
    "a paused run resumes on approve; approving twice or rejecting after is a typed no-op; the tool runs once",
    () =>
      Effect.gen(function* () {
        const { paid, paused, layer } = yield* payerSetup()
        const [result, answers] = yield* Effect.gen(function* () {
          yield* DurableAgent.start(payer, "pay 5", { runId: "pay-1" })
          const report = yield* Deferred.await(paused)
          assert.deepStrictEqual(
            report.pending.map((call) => call.callId),
            ["p1"]
          )
          assert.deepStrictEqual(paid, [], "nothing ran before the decision")
          const answers = [
            yield* DurableAgent.approve(payer, { runId: "pay-1", callId: "p1" }),
            yield* DurableAgent.approve(payer, { runId: "pay-1", callId: "p1" }),
            yield* DurableAgent.reject(payer, { runId: "pay-1", callId: "p1", message: "no" })
          ]
          const result = yield* DurableAgent.run(payer, "pay 5", { runId: "pay-1" })
          return [result, answers] as const
        }).pipe(Effect.provide(layer))
        assert.deepStrictEqual(answers, [
          { _tag: "Recorded", decision: "approve" },
          { _tag: "AlreadyDecided", callId: "p1" },
          { _tag: "AlreadyDecided", callId: "p1" }
        ])
        assert.strictEqual(result.output, "paid")
        assert.deepStrictEqual(paid, [5])
        assert.isUndefined(validatePairing(result.history))
      })
  )

  it.effect("a rejection reaches the model as the call's output and the tool never runs", () =>
    Effect.gen(function* () {
      const { paid, paused, layer } = yield* payerSetup()
      const [result, second] = yield* Effect.gen(function* () {
        yield* DurableAgent.start(payer, "pay 5", { runId: "pay-2" })
        yield* Deferred.await(paused)
        yield* DurableAgent.reject(payer, { runId: "pay-2", callId: "p1", message: "too much" })
        const second = yield* DurableAgent.approve(payer, { runId: "pay-2", callId: "p1" })
        return [yield* DurableAgent.run(payer, "pay 5", { runId: "pay-2" }), second] as const
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(second, { _tag: "AlreadyDecided", callId: "p1" })
      assert.deepStrictEqual(paid, [])
      const output = result.history.find((item) => item.type === "function_call_output")
      assert.include(JSON.stringify(output), "too much")
    })
  )
})
