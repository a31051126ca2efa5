/**
 * Config tests for the defaults of the fake server that the reliability cases rely on (docs/reliability.md):
 * it listens on 127.0.0.1 only (no test reaches the internet), on a random port; a streamed turn is
 * `event:` + `data:` frames with LF line ends, one event per write, ending in `data: [DONE]`; ids are
 * counter-based per server; every request and its headers are recorded; and fixtures keep only four
 * response headers and no key (G01: fixtures replay without one). Each fails if the default changes.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fixture from "../src/Fixture.ts"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as M from "../src/ScriptedModel.ts"
import { canary, post } from "./helpers.ts"

describe("Defaults of @volley/testing", () => {
  it.live("the server listens on 127.0.0.1 on a random port, and records requests with their headers", () =>
    Effect.gen(function* () {
      const a = yield* ResponsesServer.make([M.message("one")])
      const b = yield* ResponsesServer.make([M.message("two")])
      assert.match(a.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      assert.notStrictEqual(a.baseUrl, b.baseUrl)
      yield* post(a.baseUrl, { model: "m", input: "hi" })
      const [request] = yield* a.requests
      assert.strictEqual(request?.headers.authorization, `Bearer ${canary}`)
      assert.strictEqual(request?.body?.input, "hi")
      yield* post(b.baseUrl, { model: "m", input: "hi" })
    }).pipe(Effect.scoped)
  )

  it.live("a streamed turn: event + data frames, LF line ends, counter ids, data: [DONE] last", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.make([M.message("hello world")])
      const answer = yield* post(server.baseUrl, { model: "m", input: "hi", stream: true })
      assert.strictEqual(answer.headers.get("content-type")?.split(";")[0], "text/event-stream")
      assert.notInclude(answer.text, "\r")
      assert.isTrue(answer.text.startsWith("event: response.created\ndata: {"))
      assert.isTrue(answer.text.endsWith("data: [DONE]\n\n"))
      assert.include(answer.text, '"id":"resp_1"')
      assert.include(answer.text, '"id":"msg_1"')
    }).pipe(Effect.scoped)
  )

  it("fixtures keep only content-type, x-request-id, retry-after and retry-after-ms, and redact keys", () => {
    assert.deepStrictEqual(Fixture.keptHeaders, ["content-type", "x-request-id", "retry-after", "retry-after-ms"])
    const text = Fixture.redact(`Incorrect API key provided: ${canary}; Bearer abc.def`)
    assert.notInclude(text, canary)
    assert.notInclude(text, canary.slice(-8))
    assert.notInclude(text, "abc.def")
  })
})
