/**
 * F03 thundering herd, in real time: 200 agent runs start together against a server that answers
 * 429 with `retry-after: 1` for its first 2 seconds. Retry-After is a floor with up to 25 % jitter
 * on top (docs/reliability.md), so the retries must spread out instead of arriving as one spike, the
 * single retry budget (client and turn layers together) must hold, and every run must finish
 * inside its deadline.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { ResponsesClient } from "@volley/core"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { canaryKey } from "./support/canary.ts"

const RUNS = 200
const HERD_MS = 2000
const assistant = Agent.make({ name: "assistant", model: "m" })

describe("retry herd", () => {
  it.live(
    "F03 200 runs hit 429 retry-after: 1 for 2 s: ≤ 600 attempts, no 50 ms window with > 25 % of the retries, no deadline missed",
    () =>
      Effect.gen(function* () {
        // The server's first 2 s of traffic count from the first request it receives.
        let first: number | undefined
        const server = ResponsesServer.layer({
          fallback: M.responder((_body, request) => {
            if (first === undefined) first = request.receivedAt
            return request.receivedAt - first < HERD_MS
              ? M.httpError(429, { headers: { "retry-after": "1" } })
              : M.message("ok")
          })
        })
        const client = Layer.unwrap(
          Effect.gen(function* () {
            const s = yield* ResponsesServer.ResponsesServer
            return ResponsesClient.layerUndici({ baseUrl: s.baseUrl, apiKey: Redacted.make(canaryKey) })
          })
        )
        const deadlineMs = 10_000
        const { exits, requests } = yield* Effect.gen(function* () {
          const exits = yield* Effect.forEach(
            Array.from({ length: RUNS }, (_, i) => i),
            (i) => Effect.exit(assistant.run(`run ${i}`)),
            { concurrency: "unbounded" }
          ).pipe(Effect.provideService(AgentKnobs.Budgets, { wallTimeMs: deadlineMs }))
          const s = yield* ResponsesServer.ResponsesServer
          return { exits, requests: yield* s.requests }
        }).pipe(Effect.provide(client.pipe(Layer.provideMerge(server))))

        assert.strictEqual(exits.filter(Exit.isSuccess).length, RUNS, "every run finished inside its deadline")
        assert.isAtMost(requests.length, RUNS * 3, "total attempts ≤ runs × (maxRetries + 1)")
        const retries = requests
          .filter((r) => Number(r.headers["x-volley-retry-count"] ?? "0") > 0)
          .map((r) => r.receivedAt)
          .sort((a, b) => a - b)
        assert.isAtLeast(retries.length, RUNS, "the herd was told to wait and retried")
        // Sliding 50 ms windows over every retry's arrival time.
        let busiest = 0
        for (let lo = 0, hi = 0; hi < retries.length; hi++) {
          while (retries[hi]! - retries[lo]! >= 50) lo++
          busiest = Math.max(busiest, hi - lo + 1)
        }
        assert.isAtMost(busiest / retries.length, 0.25, `busiest 50 ms window: ${busiest} of ${retries.length} retries`)
        // Retry-After is a floor: no retry of a 429 came earlier than 1 s after the first wave.
        assert.isAtLeast(retries[0]! - requests[0]!.receivedAt, 1000)
      }),
    30_000
  )
})
