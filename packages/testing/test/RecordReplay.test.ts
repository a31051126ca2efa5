import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as Fixture from "../src/Fixture.ts"
import * as Record from "../src/Record.ts"
import * as Replay from "../src/Replay.ts"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import { canary, decodeEvents, post } from "./helpers.ts"

const upstreamKey = `sk-volley-CANARY-upstream-${Math.random().toString(36).slice(2, 10)}`
const tools = [
  { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }
]
const first = { model: "m", input: "Weather in Paris?", tools }
const second = (callId: string) => ({
  model: "m",
  stream: true,
  tools,
  input: [
    { role: "user", content: "Weather in Paris?" },
    { type: "function_call", call_id: callId, name: "get_weather", arguments: '{"city":"Paris"}' },
    { type: "function_call_output", call_id: callId, output: "sunny" }
  ]
})

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "volley-fixtures-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const server = ResponsesServer.ResponsesServer

/** Runs the two-turn conversation against `baseUrl`; returns both raw answers. */
const conversation = (baseUrl: string) =>
  Effect.gen(function* () {
    const a = yield* post(baseUrl, first)
    const callId = JSON.parse(a.text).output[0].call_id as string
    const b = yield* post(baseUrl, second(callId))
    return { a, b, callId }
  })

/** Records the conversation through a record server in front of a scripted "real API". */
const record = (dir: string) =>
  Effect.gen(function* () {
    const upstream = yield* server
    const recorded = yield* Effect.gen(function* () {
      const recorder = yield* server
      const answers = yield* conversation(recorder.baseUrl)
      yield* recorder.assertComplete
      return answers
    }).pipe(Effect.provide(Record.layer({ upstream: upstream.baseUrl, dir, apiKey: Redacted.make(upstreamKey) })))
    const seen = yield* upstream.requests
    yield* upstream.assertComplete
    return { recorded, seen }
  }).pipe(
    Effect.provide(
      ResponsesServer.layer([
        ScriptedModel.functionCall("get_weather", { city: "Paris" }),
        ScriptedModel.withFault(ScriptedModel.message("Paris is sunny."), { comments: "keep-alive" })
      ])
    )
  )

describe("Record and Replay", () => {
  it.live("record -> replay round trip against a local server standing in for the real API", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { recorded, seen } = yield* record(dir)
      assert.strictEqual(recorded.a.status, 200)
      assert.strictEqual(decodeEvents(recorded.b.text).at(-1)?.type, "response.completed")
      // the upstream got the configured key, never the client's
      assert.deepStrictEqual(
        seen.map((r) => r.headers.authorization),
        [`Bearer ${upstreamKey}`, `Bearer ${upstreamKey}`]
      )

      const files = (yield* Effect.promise(() => fs.readdir(dir))).sort()
      assert.deepStrictEqual(files, ["0001.json", "0002.json"])
      for (const file of files) {
        const text = yield* Effect.promise(() => fs.readFile(path.join(dir, file), "utf8"))
        assert.notInclude(text, upstreamKey)
        assert.notInclude(text, upstreamKey.slice(-8))
        assert.notInclude(text, canary)
        assert.notInclude(text.toLowerCase(), "authorization")
      }
      const fixtures = yield* Fixture.readAll(dir)
      assert.isDefined(fixtures[0]?.fixture.response.body)
      assert.strictEqual(fixtures[1]?.fixture.response.sse, recorded.b.text)
      assert.include(fixtures[1]?.fixture.response.sse ?? "", ": keep-alive")

      // replay: the same conversation gets byte-identical answers, with no upstream at all
      const replayed = yield* Effect.gen(function* () {
        const replay = yield* server
        const answers = yield* conversation(replay.baseUrl)
        yield* replay.assertComplete
        return answers
      }).pipe(Effect.provide(Replay.layer(dir)))
      assert.strictEqual(replayed.a.text, recorded.a.text)
      assert.strictEqual(replayed.b.text, recorded.b.text)
      assert.strictEqual(replayed.b.headers.get("content-type"), "text/event-stream")
    })
  )

  it.live("replay: a request that matches no fixture fails loudly with a readable diff", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* record(dir)
      const messages: Array<string> = []
      yield* Effect.gen(function* () {
        const replay = yield* server
        const answer = yield* post(replay.baseUrl, { ...first, input: "Weather in Rome?" })
        assert.strictEqual(answer.status, 400)
        const error = JSON.parse(answer.text).error
        assert.strictEqual(error.type, "volley_replay_mismatch")
        assert.include(error.message, "0001.json")
        assert.include(error.message, '-  "input": "Weather in Paris?"')
        assert.include(error.message, '+  "input": "Weather in Rome?"')
        const failure = yield* Effect.flip(replay.assertComplete)
        assert.include(failure.message, "Weather in Rome?")
        assert.include(failure.message, "never requested: 0001.json, 0002.json")
      }).pipe(Effect.provide(Replay.layer(dir, { onMismatch: (m) => messages.push(m) })))
      assert.strictEqual(messages.length, 1)
    })
  )

  it.live("replay ignores ids and timestamps that differ between runs", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* record(dir)
      yield* Effect.gen(function* () {
        const replay = yield* server
        yield* post(replay.baseUrl, first)
        const answer = yield* post(replay.baseUrl, second("call_somethingElse"))
        assert.strictEqual(answer.status, 200)
        yield* replay.assertComplete
      }).pipe(Effect.provide(Replay.layer(dir)))
    })
  )

  it.effect("replay in memory runs under TestClock with no real sleeps", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { recorded } = yield* record(dir)
      const text = yield* Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        const a = yield* client.post("http://localhost/v1/responses", { body: HttpBody.jsonUnsafe(first) })
        const callId = ((yield* a.json) as { output: Array<{ call_id: string }> }).output[0]!.call_id
        const b = yield* client.post("http://localhost/v1/responses", { body: HttpBody.jsonUnsafe(second(callId)) })
        return (yield* Stream.runCollect(Stream.decodeText(b.stream))).join("")
      }).pipe(Effect.provide(Replay.layerHttpClient(dir)))
      assert.strictEqual(text, recorded.b.text)
    })
  )

  it.live("record: an unreachable upstream gives a 502 and makes assertComplete fail", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* Effect.gen(function* () {
        const recorder = yield* server
        const answer = yield* post(recorder.baseUrl, first)
        assert.strictEqual(answer.status, 502)
        const failure = yield* Effect.flip(recorder.assertComplete)
        assert.include(failure.message, "upstream unreachable")
        assert.notInclude(failure.message, upstreamKey)
      }).pipe(
        Effect.provide(Record.layer({ upstream: "http://127.0.0.1:9/v1", dir, apiKey: Redacted.make(upstreamKey) }))
      )
    })
  )

  it("redact removes secrets by value and anything key-like", () => {
    const text = `{"a":"sk-proj-abcdefgh123","b":"Bearer xyz.123","c":"my-custom-secret-value"}`
    const out = Fixture.redact(text, ["my-custom-secret-value"])
    assert.strictEqual(out, `{"a":"<redacted>","b":"Bearer <redacted>","c":"<redacted>"}`)
  })

  it("normalise replaces ids by first appearance and drops timestamps", () => {
    const a = Fixture.normalise({ x: "call_abc", y: ["call_abc", "msg_1"], created_at: 5 })
    const b = Fixture.normalise({ created_at: 9, y: ["call_zzz", "msg_9"], x: "call_zzz" })
    assert.deepStrictEqual(a, b)
    assert.notDeepEqual(
      Fixture.normalise({ x: "call_a", y: "call_b" }),
      Fixture.normalise({ x: "call_a", y: "call_a" })
    )
  })
})
