import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ResponsesError } from "@volley/core"
import * as AgentError from "../src/AgentError.ts"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import { emptyUsage } from "../src/StopReason.ts"

const transcript = { message: "m", runId: "r", history: [], usage: emptyUsage, turns: 1 }
const rateLimited = new ResponsesError.RateLimitError({
  message: "slow down",
  retryable: true,
  attempts: 3,
  causes: [],
  status: 429
})
const contextError = new ResponsesError.InvalidRequestError({
  message: "too long",
  retryable: false,
  attempts: 1,
  causes: [],
  status: 400,
  code: "context_length_exceeded"
})
const badRequest = new ResponsesError.InvalidRequestError({
  message: "bad",
  retryable: false,
  attempts: 1,
  causes: [],
  status: 400
})

describe("FallbackPolicy", () => {
  it("defaultReasonOf: retryable after retries, context too large (server or local); nothing else", () => {
    assert.strictEqual(FallbackPolicy.defaultReasonOf(rateLimited), "RetriesExhausted")
    assert.strictEqual(
      FallbackPolicy.defaultReasonOf(new AgentError.ModelError({ ...transcript, error: rateLimited })),
      "RetriesExhausted"
    )
    assert.strictEqual(FallbackPolicy.defaultReasonOf(contextError), "ContextTooLarge")
    assert.strictEqual(
      FallbackPolicy.defaultReasonOf(new AgentError.ContextTooLarge({ ...transcript, bytes: 10, limit: 5 })),
      "ContextTooLarge"
    )
    assert.isUndefined(FallbackPolicy.defaultReasonOf(badRequest))
    assert.isUndefined(FallbackPolicy.defaultReasonOf(new AgentError.MaxTurnsExceeded({ ...transcript, limit: 1 })))
    assert.isUndefined(FallbackPolicy.defaultReasonOf("boom"))
  })

  it("chain: the primary first, each model once", () => {
    assert.deepStrictEqual(FallbackPolicy.chain("a", FallbackPolicy.make(["b", "a", "c", "b"])), ["a", "b", "c"])
  })

  it.effect("withFallback moves the turn down the chain and reports each move", () =>
    Effect.gen(function* () {
      const tried: Array<string> = []
      const moves: Array<FallbackPolicy.Fallback> = []
      const value = yield* FallbackPolicy.withFallback(
        ["big", "medium", "small"],
        (model) =>
          Effect.suspend(
            (): Effect.Effect<string, ResponsesError.InvalidRequestError | ResponsesError.RateLimitError> => {
              tried.push(model)
              if (model === "big") return Effect.fail(contextError)
              if (model === "medium") return Effect.fail(rateLimited)
              return Effect.succeed(`answer from ${model}`)
            }
          ),
        { onFallback: (move) => Effect.sync(() => moves.push(move)) }
      )
      assert.strictEqual(value, "answer from small")
      assert.deepStrictEqual(tried, ["big", "medium", "small"])
      assert.deepStrictEqual(moves, [
        { from: "big", to: "medium", reason: "ContextTooLarge" },
        { from: "medium", to: "small", reason: "RetriesExhausted" }
      ])
    })
  )

  it.effect("an exhausted chain fails with the last model's error", () =>
    Effect.gen(function* () {
      const tried: Array<string> = []
      const error = yield* Effect.flip(
        FallbackPolicy.withFallback(["a", "b"], (model) =>
          Effect.suspend(
            (): Effect.Effect<never, ResponsesError.InvalidRequestError | ResponsesError.RateLimitError> => {
              tried.push(model)
              return Effect.fail(model === "a" ? rateLimited : contextError)
            }
          )
        )
      )
      assert.strictEqual(error, contextError)
      assert.deepStrictEqual(tried, ["a", "b"])
    })
  )

  it.effect("a failure with no reason does not move: it fails at once", () =>
    Effect.gen(function* () {
      const tried: Array<string> = []
      const error = yield* Effect.flip(
        FallbackPolicy.withFallback(["a", "b"], (model) =>
          Effect.suspend(() => {
            tried.push(model)
            return Effect.fail(badRequest)
          })
        )
      )
      assert.strictEqual(error, badRequest)
      assert.deepStrictEqual(tried, ["a"])
    })
  )

  it.effect("the policy is a reference with no fallback models by default", () =>
    Effect.gen(function* () {
      const policy = yield* FallbackPolicy.FallbackPolicy
      assert.deepStrictEqual(policy.models, [])
      assert.deepStrictEqual(FallbackPolicy.chain("m", policy), ["m"])
    })
  )
})
