/**
 * The workflow against a scripted server (a flaky research step retried by the Schedule, a draft model
 * that fails and is replaced by the fallback, a rejecting reviewer) and against volley-local.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@volley/core"
import { LocalModel, RecordedRequest, ResponsesServer, ScriptedModel as M, TestClient } from "@volley/testing"
import { Effect, Layer, Schedule } from "effect"
import { notesFor, ResearchHandlers, workflow } from "./workflow.ts"
import { examplePath, runScript } from "../shared/process.ts"

const models = { research: "test/research", draft: "test/primary", fallback: "test/fallback", review: "test/review" }
// The client's own retries are off here, so every scripted failure reaches the workflow's combinators.
const quick = { researchSchedule: Schedule.spaced("5 millis"), researchRetries: 2 }
const run = (topic: string, script: ReadonlyArray<M.Step> | ResponsesServer.Options, lines: Array<string> = []) =>
  Effect.gen(function* () {
    const exit = yield* workflow(topic, models, { ...quick, progress: (line) => lines.push(line) }).pipe(Effect.exit)
    const server = yield* ResponsesServer.ResponsesServer
    const requests = yield* server.requests
    return { exit, requests, models: requests.map((r) => r.body?.model) }
  }).pipe(
    Effect.provideService(RetryPolicy.RetryPolicy, RetryPolicy.none),
    Effect.provide(Layer.mergeAll(ResearchHandlers, TestClient.layer(script)))
  )

const approved = M.message('{"approved":true,"feedback":"Clear and accurate."}')
const modelNotFound = M.httpError(404, {
  body: {
    error: {
      message: "The model `test/primary` does not exist",
      type: "invalid_request_error",
      code: "model_not_found"
    }
  }
})

describe("workflow", () => {
  it.live("retries the flaky research step (503, then a failed response) and falls back to the second model", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const { exit, models: sent } = yield* run(
        "bicycles",
        [
          M.httpError(503),
          M.failed({ code: "server_error", message: "The model crashed" }),
          M.message("Notes: safety bicycle, 1885."),
          modelNotFound,
          M.message("Bicycles took their modern shape in 1885."),
          approved
        ],
        lines
      )
      assert.isTrue(exit._tag === "Success", String(exit))
      if (exit._tag !== "Success") return
      assert.strictEqual(exit.value.researchAttempts, 3)
      assert.strictEqual(exit.value.draftModel, "test/fallback")
      assert.strictEqual(exit.value.draft, "Bicycles took their modern shape in 1885.")
      assert.deepStrictEqual(exit.value.review, { approved: true, feedback: "Clear and accurate." })
      assert.deepStrictEqual(sent, [
        "test/research",
        "test/research",
        "test/research",
        "test/primary",
        "test/fallback",
        "test/review"
      ])
      assert.strictEqual(exit.value.usage.requests, 3, "only successful model calls count")
      assert.isTrue(lines.some((line) => line.includes("falling back to test/fallback")))
    })
  )

  it.live("a research step that keeps failing ends with the typed ModelError once the schedule is spent", () =>
    Effect.gen(function* () {
      const { exit, requests } = yield* run("tea", [M.httpError(503), M.httpError(503), M.httpError(503)])
      assert.strictEqual(requests.length, 3, "1 attempt + 2 retries, then no draft or review")
      assert.isTrue(exit._tag === "Failure")
      if (exit._tag !== "Failure") return
      const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
      assert.strictEqual(error?._tag === "Fail" ? error.error._tag : undefined, "ModelError")
    })
  )

  it.live("a non-transient research failure is not retried", () =>
    Effect.gen(function* () {
      const { exit, requests } = yield* run("tea", [M.httpError(400)])
      assert.strictEqual(requests.length, 1)
      assert.isTrue(exit._tag === "Failure")
    })
  )

  it.live("a rejecting reviewer fails the workflow with DraftRejected and its feedback", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("tea", [
        M.message("Notes: tea, 17th century."),
        M.message("Tea is a drink."),
        M.message('{"approved":false,"feedback":"Too vague: say when tea reached Europe."}')
      ])
      assert.isTrue(exit._tag === "Failure")
      if (exit._tag !== "Failure") return
      const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
      assert.isTrue(error?._tag === "Fail" && error.error._tag === "DraftRejected")
      if (error?._tag !== "Fail" || error.error._tag !== "DraftRejected") return
      assert.strictEqual(error.error.feedback, "Too vague: say when tea reached Europe.")
      assert.strictEqual(error.error.draft, "Tea is a drink.")
    })
  )

  it.live("runs end to end on volley-local: the researcher calls search_notes, the reviewer answers JSON", () =>
    Effect.gen(function* () {
      const { exit, requests } = yield* run("the history of the bicycle", { fallback: LocalModel.responder })
      assert.isTrue(exit._tag === "Success", String(exit))
      if (exit._tag !== "Success") return
      assert.strictEqual(exit.value.researchAttempts, 1)
      assert.strictEqual(exit.value.draftModel, "test/primary")
      assert.include(exit.value.notes, notesFor("bicycle"))
      assert.isTrue(exit.value.review.approved)
      // research (tool call + answer), draft, review
      assert.strictEqual(requests.length, 4)
      const outputs = RecordedRequest.functionCallOutputs(requests[1]!)
      assert.strictEqual(outputs.length, 1)
      assert.strictEqual(requests[3]?.body?.text?.format?.type, "json_schema")
      assert.strictEqual(exit.value.usage.requests, 4)
    })
  )
})

const main = examplePath("workflow/main.ts")
const key = `sk-volley-CANARY-${Math.random().toString(36).slice(2, 12)}`

describe.concurrent("workflow as a program", () => {
  it.live("on volley-local: the draft and the approved review on stdout, progress on stderr", () =>
    Effect.gen(function* () {
      const ran = yield* runScript(main, ["the history of the bicycle"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.match(ran.stdout, /\n\nReview: approved \(.+\)\n$/)
      assert.include(ran.stderr, LocalModel.notice)
      assert.include(ran.stderr, "research: attempt 1 (volley-local)")
      assert.match(ran.stderr, /usage: \d+ tokens over 4 model calls/)
    })
  )

  it.live("a rejected draft exits 1 with the reviewer's feedback, and never prints the key", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const ran = yield* runScript(main, ["tea"], { HAOAI_API_KEY: key, HAOAI_BASE_URL: server.baseUrl })
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stdout, "")
      assert.match(ran.stderr, /error: the reviewer rejected the draft: Cite a source\.\n$/)
      assert.notInclude(ran.stderr, key)
    }).pipe(
      Effect.provide(
        ResponsesServer.layer([
          M.message("Notes."),
          M.message("Tea is old."),
          M.message('{"approved":false,"feedback":"Cite a source."}')
        ])
      )
    )
  )
})
