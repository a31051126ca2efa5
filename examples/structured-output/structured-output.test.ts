/**
 * The trip planner on volley-local (a fitting JSON object decoded into `TripPlan`) and on scripted
 * turns: a bad answer is fed back once, a second bad answer is the typed `StructuredOutputInvalid`.
 */
import { assert, describe, it } from "@effect/vitest"
import { LocalModel, RecordedRequest, ResponsesServer, ScriptedModel as M, TestClient } from "@volley/testing"
import { Effect } from "effect"
import { plan, render, type TripPlan } from "./planner.ts"
import { examplePath, runScript } from "../shared/process.ts"

const valid: TripPlan = { destination: "Kyoto", days: 2, budget: "high", highlights: ["Fushimi Inari at dawn"] }

const planWith = (prompt: string, script: ReadonlyArray<M.Step> | ResponsesServer.Options) =>
  Effect.gen(function* () {
    const exit = yield* plan(prompt, "test/model").pipe(Effect.exit)
    const server = yield* ResponsesServer.ResponsesServer
    return { exit, requests: yield* server.requests }
  }).pipe(Effect.provide(TestClient.layer(script)))

describe("structured output", () => {
  it.effect("volley-local answers the json_schema request with an object that decodes into TripPlan", () =>
    Effect.gen(function* () {
      const { exit, requests } = yield* planWith("Plan 3 days in Lisbon on a medium budget", {
        fallback: LocalModel.responder
      })
      assert.isTrue(exit._tag === "Success", String(exit))
      if (exit._tag !== "Success") return
      const trip = exit.value.plan
      assert.strictEqual(trip.destination, "Lisbon")
      assert.strictEqual(trip.days, 3)
      assert.include(["low", "medium", "high"], trip.budget)
      assert.isAtLeast(trip.highlights.length, 1)
      assert.strictEqual(exit.value.turns, 1)
      const format = requests[0]?.body?.text?.format
      assert.strictEqual(format?.type, "json_schema")
      assert.strictEqual(format?.type === "json_schema" ? format.name : undefined, "trip_plan")
      assert.match(render(trip), /^3 days in Lisbon/)
    })
  )

  it.effect("an answer that is not JSON is fed back once with the issue, and the corrected one is used", () =>
    Effect.gen(function* () {
      const { exit, requests } = yield* planWith("Two days in Kyoto, no expense spared", [
        M.message("Sure! Kyoto for two days: start at Fushimi Inari."),
        M.message(JSON.stringify(valid))
      ])
      assert.isTrue(exit._tag === "Success", String(exit))
      if (exit._tag !== "Success") return
      assert.deepStrictEqual(exit.value.plan, valid)
      assert.strictEqual(exit.value.turns, 2)
      assert.strictEqual(requests.length, 2)
      assert.match(RecordedRequest.lastUserText(requests[1]!), /did not match the required JSON schema/)
    })
  )

  it.effect(
    "a second answer that does not fit fails with StructuredOutputInvalid (text and issue), no third call",
    () =>
      Effect.gen(function* () {
        const wrongShape = JSON.stringify({ ...valid, days: "two" })
        const { exit, requests } = yield* planWith("Two days in Kyoto", [
          M.message("{ not json"),
          M.message(wrongShape)
        ])
        assert.strictEqual(requests.length, 2)
        assert.isTrue(exit._tag === "Failure")
        if (exit._tag !== "Failure") return
        const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
        const error = reason?._tag === "Fail" ? reason.error : undefined
        assert.strictEqual(error?._tag, "StructuredOutputInvalid")
        if (error?._tag !== "StructuredOutputInvalid") return
        assert.strictEqual(error.text, wrongShape)
        assert.include(error.issue, "days")
        assert.strictEqual(error.turns, 2)
      })
  )
})

const main = examplePath("structured-output/main.ts")

describe.concurrent("structured output as a program", () => {
  it.live("on volley-local: prints the decoded plan as JSON, then as text", () =>
    Effect.gen(function* () {
      const ran = yield* runScript(main, ["Plan 4 days in Oslo"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      const [json, text] = ran.stdout.split("\n\n")
      assert.deepInclude(JSON.parse(json ?? "") as TripPlan, { destination: "Oslo", days: 4 })
      assert.match(text ?? "", /^4 days in Oslo \(\w+ budget\)\n- /)
      assert.include(ran.stderr, "(1 model call)")
    })
  )

  it.live("two answers that do not fit exit 1 with the issue", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const ran = yield* runScript(main, ["Kyoto"], {
        HAOAI_API_KEY: "sk-volley-CANARY-structured",
        HAOAI_BASE_URL: server.baseUrl
      })
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stdout, "")
      assert.match(ran.stderr, /error: the model's plan did not fit the schema twice: /)
    }).pipe(Effect.provide(ResponsesServer.layer([M.message("no"), M.message("still no")])))
  )
})
