import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { pipe } from "effect/Function"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import { decodeEvents, open, parseFrames, post, postSettled, realSleep, request, waitFor } from "./helpers.ts"
import { ResponsesSchema } from "@volley/core"

type Server = ResponsesServer.ResponsesServer["Service"]
const { message, withFault } = ScriptedModel
const streaming = request("hi", { stream: true })

const withServer = <A, E>(script: ReadonlyArray<ScriptedModel.Step>, body: (server: Server) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* body(yield* ResponsesServer.ResponsesServer)
  }).pipe(Effect.provide(ResponsesServer.layer(script)))

const decoder = new TextDecoder()

/** POSTs through the in-memory client and collects the body's chunks exactly as written. */
const memoryPost = (body: unknown) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.post("http://localhost/v1/responses", { body: HttpBody.jsonUnsafe(body) })
    const chunks = yield* Stream.runCollect(response.stream)
    return { status: response.status, chunks: chunks.map((c) => decoder.decode(c)) }
  }).pipe(Effect.orDie)

const inMemory = <A, E, R>(script: ReadonlyArray<ScriptedModel.Step>, effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, ResponsesServer.layerHttpClient(script))

const reference = (step: ScriptedModel.Turn) =>
  inMemory([step], memoryPost(streaming)).pipe(Effect.map((r) => r.chunks.join("")))

describe("faults: status, headers, latency", () => {
  it.effect("429 with Retry-After: status, header and an API-style error body", () =>
    withServer([ScriptedModel.httpError(429, { headers: { "retry-after": "1" } })], (server) =>
      Effect.gen(function* () {
        const answer = yield* post(server.baseUrl, request())
        assert.strictEqual(answer.status, 429)
        assert.strictEqual(answer.headers.get("retry-after"), "1")
        const body = JSON.parse(answer.text)
        assert.strictEqual(body.error.code, "rate_limit_exceeded")
        assert.isString(body.error.message)
        assert.property(body.error, "param")
      })
    )
  )

  it.effect("500, 401 and a custom body via withFault", () =>
    withServer(
      [
        withFault(message("never"), { status: 500 }),
        ScriptedModel.httpError(401),
        withFault(message("never"), { status: 500, body: "<html>502 Bad Gateway</html>", contentType: "text/html" })
      ],
      (server) =>
        Effect.gen(function* () {
          const a = yield* post(server.baseUrl, request())
          assert.strictEqual(a.status, 500)
          assert.strictEqual(JSON.parse(a.text).error.type, "server_error")
          const b = yield* post(server.baseUrl, request())
          assert.strictEqual(b.status, 401)
          assert.strictEqual(JSON.parse(b.text).error.code, "invalid_api_key")
          const c = yield* post(server.baseUrl, request())
          assert.strictEqual(c.text, "<html>502 Bad Gateway</html>")
          assert.strictEqual(c.headers.get("content-type"), "text/html")
          yield* server.assertComplete
        })
    )
  )

  it.effect("latency follows TestClock: nothing before 5 s, the answer at 5 s", () =>
    withServer([withFault(message("late"), { latency: "5 seconds" })], (server) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(post(server.baseUrl, request()))
        yield* waitFor(
          Effect.map(server.requests, (r) => r.length === 1),
          "the request"
        )
        yield* TestClock.adjust("4999 millis")
        yield* realSleep(50)
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        const answer = yield* Fiber.join(fiber)
        assert.strictEqual(answer.status, 200)
      })
    )
  )

  it.effect("chunkDelay follows TestClock between writes", () =>
    inMemory(
      [withFault(message("a b c"), { chunkDelay: "1 second" })],
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(memoryPost(streaming))
        yield* TestClock.adjust("5 seconds")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 minute")
        const { chunks } = yield* Fiber.join(fiber)
        assert.strictEqual(parseFrames(chunks.join("")).at(-1)?.data, "[DONE]")
      })
    )
  )
})

describe("faults: SSE chunking and framing (in memory: exact chunk boundaries)", () => {
  it.effect("default: one write per event", () =>
    inMemory(
      [message("a b")],
      Effect.gen(function* () {
        const { chunks } = yield* memoryPost(streaming)
        assert.isTrue(chunks.every((chunk) => parseFrames(chunk).length === 1))
      })
    )
  )

  it.effect("one byte per chunk: same bytes as unsplit", () =>
    Effect.gen(function* () {
      const expected = yield* reference(message("héllo wörld 🌍"))
      const { chunks } = yield* inMemory(
        [withFault(message("héllo wörld 🌍"), { chunking: "byte" })],
        memoryPost(streaming)
      )
      // multi-byte characters were split, so decode the bytes together
      assert.isAbove(chunks.length, expected.length / 2)
      const bytes = yield* inMemory(
        [withFault(message("héllo wörld 🌍"), { chunking: "byte" })],
        Effect.gen(function* () {
          const client = yield* HttpClient.HttpClient
          const response = yield* client.post("http://localhost/v1/responses", {
            body: HttpBody.jsonUnsafe(streaming)
          })
          return yield* Stream.runCollect(response.stream)
        }).pipe(Effect.orDie)
      )
      assert.isTrue(bytes.every((chunk) => chunk.length === 1))
      assert.strictEqual(decoder.decode(Buffer.concat(bytes)), expected)
    })
  )

  it.effect("random splits are seeded: same seed, same split; bounded by maxSize", () =>
    Effect.gen(function* () {
      const turn = withFault(message("some text to split at random"), { chunking: { random: 7, maxSize: 5 } })
      const a = yield* inMemory([turn], memoryPost(streaming))
      const b = yield* inMemory([turn], memoryPost(streaming))
      assert.deepStrictEqual(a.chunks, b.chunks)
      assert.isTrue(a.chunks.every((chunk) => Buffer.byteLength(chunk) <= 5))
      assert.strictEqual(a.chunks.join(""), yield* reference(message("some text to split at random")))
    })
  )

  it.effect("exact sizes cycle through the given split", () =>
    inMemory(
      [withFault(message("x"), { chunking: { sizes: [3, 10] } })],
      Effect.gen(function* () {
        const { chunks } = yield* memoryPost(streaming)
        assert.deepStrictEqual(
          chunks.slice(0, 4).map((c) => c.length),
          [3, 10, 3, 10]
        )
      })
    )
  )

  it.effect("CRLF and CR framing carry the same events; no bare LF", () =>
    Effect.gen(function* () {
      const lf = decodeEvents(yield* reference(message("a b")))
      const crlf = (yield* inMemory(
        [withFault(message("a b"), { framing: "crlf" })],
        memoryPost(streaming)
      )).chunks.join("")
      const cr = (yield* inMemory([withFault(message("a b"), { framing: "cr" })], memoryPost(streaming))).chunks.join(
        ""
      )
      assert.notMatch(crlf, /[^\r]\n/)
      assert.include(crlf, "\r\n\r\n")
      assert.notInclude(cr, "\n")
      assert.deepStrictEqual(decodeEvents(crlf), lf)
      assert.deepStrictEqual(decodeEvents(cr), lf)
    })
  )

  it.effect("comments between events, a retry line first, data-only framing", () =>
    inMemory(
      [withFault(message("a b"), { comments: "keep-alive", retry: 3000, eventLines: false })],
      Effect.gen(function* () {
        const text = (yield* memoryPost(streaming)).chunks.join("")
        assert.isTrue(text.startsWith("retry: 3000\n\n"))
        assert.include(text, "\n: keep-alive\n\n")
        assert.notInclude(text, "event:")
        assert.strictEqual(decodeEvents(text).at(-1)?.type, "response.completed")
      })
    )
  )

  it.effect("keepalive comments on a schedule follow TestClock (30 s of comments, instantly)", () =>
    inMemory(
      [withFault(message("done"), { keepalive: { every: "1 second", times: 30 } })],
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(memoryPost(streaming))
        yield* TestClock.adjust("29 seconds")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 second")
        const text = (yield* Fiber.join(fiber)).chunks.join("")
        assert.strictEqual(text.split(": keep-alive\n\n").length - 1, 30)
        assert.strictEqual(decodeEvents(text).at(-1)?.type, "response.completed")
      })
    )
  )

  it.effect("keepalive events instead of comments", () =>
    inMemory(
      [withFault(message("done"), { keepalive: { every: "10 millis", times: 2, text: "event" } })],
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(memoryPost(streaming))
        yield* TestClock.adjust("1 second")
        const events = decodeEvents((yield* Fiber.join(fiber)).chunks.join(""))
        assert.deepStrictEqual(
          events.slice(0, 2).map((e) => e.type),
          ["keepalive", "keepalive"]
        )
      })
    )
  )

  it.effect("literal byte script: chunks exactly as written", () =>
    inMemory(
      [ScriptedModel.sse(['data: {"type":"response.cr', 'eated","response":{"id":"r"}}\n', "\n", "data: [DONE]\n\n"])],
      Effect.gen(function* () {
        const { chunks } = yield* memoryPost(streaming)
        assert.deepStrictEqual(chunks, [
          'data: {"type":"response.cr',
          'eated","response":{"id":"r"}}\n',
          "\n",
          "data: [DONE]\n\n"
        ])
      })
    )
  )
})

describe("faults: broken streams", () => {
  it.effect("drop after N events (clean EOF): N frames, no [DONE]", () =>
    withServer([withFault(message("a b c"), { dropAfterEvents: 3, drop: "end" })], (server) =>
      Effect.gen(function* () {
        const answer = yield* post(server.baseUrl, streaming)
        const frames = parseFrames(answer.text)
        assert.strictEqual(frames.length, 3)
        assert.notInclude(answer.text, "[DONE]")
      })
    )
  )

  it.effect("drop after N events (reset): the body read fails after N events", () =>
    withServer([withFault(message("a b c"), { dropAfterEvents: 2 })], (server) =>
      Effect.gen(function* () {
        const stream = yield* open(server.baseUrl, streaming)
        const { text, ended } = yield* stream.readUntil(() => false)
        assert.strictEqual(ended, "error")
        assert.strictEqual(parseFrames(text).length, 2)
      })
    )
  )

  it.effect("reset in the middle of an event", () =>
    withServer([withFault(message("a b c"), { resetMidEvent: 1 })], (server) =>
      Effect.gen(function* () {
        const stream = yield* open(server.baseUrl, streaming)
        const { text, ended } = yield* stream.readUntil(() => false)
        assert.strictEqual(ended, "error")
        assert.strictEqual(parseFrames(text).length, 1)
        assert.include(text, "response.output_item.added")
        assert.notInclude(
          text,
          '"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}'
        )
      })
    )
  )

  it.effect("malformed frame: event N carries truncated JSON", () =>
    withServer([withFault(message("a b"), { malformedFrameAt: 2 })], (server) =>
      Effect.gen(function* () {
        const frames = parseFrames((yield* post(server.baseUrl, streaming)).text)
        assert.throws(() => JSON.parse(frames[2]!.data))
        assert.doesNotThrow(() => JSON.parse(frames[1]!.data))
        assert.doesNotThrow(() => JSON.parse(frames[3]!.data))
      })
    )
  )

  it.effect("unknown event types pass core's decoder as unknown and keep accumulation intact", () =>
    withServer([withFault(message("a b"), { unknownEvents: true })], (server) =>
      Effect.gen(function* () {
        const events = decodeEvents((yield* post(server.baseUrl, streaming)).text)
        const types = events.map((e) => e.type as string)
        assert.include(types, "response.future_thing.delta")
        assert.include(types, "response.future_thing.done")
        const completed = events.at(-1) as { type: string; response: { output: [] } }
        assert.strictEqual(completed.type, "response.completed")
        assert.strictEqual(ResponsesSchema.outputText(completed.response.output), "a b")
      })
    )
  )

  it.effect("inserted events: a typeless object and a literal payload", () =>
    withServer(
      [
        withFault(message("a"), {
          insertEvents: [
            { after: 1, data: { no_type: true } },
            { after: 2, data: "not json", event: "error" }
          ]
        })
      ],
      (server) =>
        Effect.gen(function* () {
          const frames = parseFrames((yield* post(server.baseUrl, streaming)).text)
          assert.deepStrictEqual(JSON.parse(frames[1]!.data), { no_type: true })
          assert.isUndefined(frames[1]!.event)
          assert.deepStrictEqual(frames[3], { event: "error", data: "not json" })
          assert.throws(() => ResponsesSchema.decodeStreamEventUnsafe({ no_type: true }))
        })
    )
  )

  it.effect("bytes after [DONE] with the socket held open", () =>
    withServer(
      [withFault(message("a"), { afterDone: "garbage\nevent: error\ndata: {}\n\n", holdOpen: true })],
      (server) =>
        Effect.gen(function* () {
          const stream = yield* open(server.baseUrl, streaming)
          const first = yield* stream.readUntil((text) => text.includes("garbage\nevent: error"))
          assert.strictEqual(first.ended, "match")
          const rest = yield* stream.readUntil(() => false, 150)
          assert.strictEqual(rest.ended, "timeout")
          yield* stream.abort
        })
    )
  )

  it.effect("done: false omits the sentinel; a forged one can follow", () =>
    withServer([withFault(message("a"), { done: false, afterDone: "data: [DONE]x\n\n" })], (server) =>
      Effect.gen(function* () {
        const frames = parseFrames((yield* post(server.baseUrl, streaming)).text)
        assert.strictEqual(frames.at(-1)?.data, "[DONE]x")
        assert.isFalse(frames.some((f) => f.data === "[DONE]"))
      })
    )
  )

  it.effect("stream:true answered with HTML (content type override)", () =>
    withServer([withFault(message("a"), { body: "<html>oops</html>", contentType: "text/html" })], (server) =>
      Effect.gen(function* () {
        const answer = yield* post(server.baseUrl, streaming)
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.headers.get("content-type"), "text/html")
        assert.strictEqual(answer.text, "<html>oops</html>")
      })
    )
  )
})

describe("faults: stalls, resets, redirects", () => {
  it.effect("stall after N events: the stream idles; the server sees the client close", () =>
    withServer([withFault(message("a b"), { stall: { afterEvents: 2 } })], (server) =>
      Effect.gen(function* () {
        const stream = yield* open(server.baseUrl, streaming)
        const read = yield* stream.readUntil(() => false, 150)
        assert.strictEqual(read.ended, "timeout")
        assert.strictEqual(parseFrames(read.text).length, 2)
        assert.strictEqual(yield* server.liveConnections, 1)
        yield* stream.abort
        yield* waitFor(
          Effect.map(server.liveConnections, (n) => n === 0),
          "the connection to close"
        )
        const [connection] = yield* server.connectionLog
        assert.isDefined(connection?.closedAt)
      })
    )
  )

  it.effect("headers then stall", () =>
    withServer([withFault(message("a"), { stall: "afterHeaders" })], (server) =>
      Effect.gen(function* () {
        const stream = yield* open(server.baseUrl, streaming)
        assert.strictEqual(stream.status, 200)
        const read = yield* stream.readUntil(() => false, 150)
        assert.deepStrictEqual(read, { text: "", ended: "timeout" })
        yield* stream.abort
      })
    )
  )

  it.effect("JSON headers then a partial body, then silence", () =>
    withServer([withFault(message("a"), { stall: { afterBytes: 12 } })], (server) =>
      Effect.gen(function* () {
        const stream = yield* open(server.baseUrl, request())
        const read = yield* stream.readUntil(() => false, 150)
        assert.deepStrictEqual(read, { text: '{"id":"resp_', ended: "timeout" })
        yield* stream.abort
      })
    )
  )

  it.effect("accept and never respond: no headers; closing the client frees the connection", () =>
    withServer([withFault(message("a"), { stall: "beforeHeaders" })], (server) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(postSettled(server.baseUrl, request()))
        yield* waitFor(
          Effect.map(server.requests, (r) => r.length === 1),
          "the request"
        )
        yield* realSleep(100)
        assert.isUndefined(fiber.pollUnsafe())
        yield* Fiber.interrupt(fiber)
        yield* waitFor(
          Effect.map(server.liveConnections, (n) => n === 0),
          "the connection to close"
        )
      })
    )
  )

  it.effect("reset before headers: the client sees a connection error; the request was recorded", () =>
    withServer([withFault(message("a"), { resetBeforeHeaders: true }), message("second try")], (server) =>
      Effect.gen(function* () {
        const first = yield* postSettled(server.baseUrl, request())
        assert.isDefined(first.error)
        assert.isUndefined(first.answer)
        const second = yield* post(server.baseUrl, request())
        assert.strictEqual(second.status, 200)
        assert.strictEqual((yield* server.requests).length, 2)
        yield* server.assertComplete
      })
    )
  )

  it.effect("reset before headers in memory: a transport error", () =>
    inMemory(
      [withFault(message("a"), { resetBeforeHeaders: true })],
      Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        const result = yield* Effect.result(
          client.post("http://localhost/v1/responses", { body: HttpBody.jsonUnsafe(request()) })
        )
        assert.strictEqual(result._tag, "Failure")
        if (result._tag === "Failure") assert.strictEqual(result.failure.reason._tag, "TransportError")
      })
    )
  )

  it.effect("redirect: 307 with a Location, not followed by the server", () =>
    withServer([withFault(message("a"), { redirect: { location: "http://169.254.169.254/" } })], (server) =>
      Effect.gen(function* () {
        const answer = yield* post(server.baseUrl, request())
        assert.strictEqual(answer.status, 307)
        assert.strictEqual(answer.headers.get("location"), "http://169.254.169.254/")
      })
    )
  )
})

describe("faults: seeded chaos", () => {
  const chaosRun = (seed: number) =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const statuses: Array<number | string> = []
      for (let i = 0; i < 20; i++) {
        const r = yield* postSettled(server.baseUrl, request())
        statuses.push(r.answer?.status ?? "reset")
      }
      return { statuses, requests: yield* server.requests }
    }).pipe(
      Effect.provide(
        ResponsesServer.layer({
          fallback: message("ok"),
          chaos: { seed, serviceUnavailable: 0.3, reset: 0.2 }
        })
      )
    )

  it.effect("503s and resets at random under a seed; the same seed replays the same faults", () =>
    Effect.gen(function* () {
      const a = yield* chaosRun(42)
      const b = yield* chaosRun(42)
      assert.deepStrictEqual(a.statuses, b.statuses)
      assert.include(a.statuses, 503)
      assert.include(a.statuses, "reset")
      assert.include(a.statuses, 200)
      assert.deepStrictEqual(
        a.requests.map((r) => r.injected ?? "none"),
        a.statuses.map((s) => (s === 503 ? "503" : s === "reset" ? "reset" : "none"))
      )
    })
  )

  it.effect("seeded mid-stream resets cut the body after its first write", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const stream = yield* open(server.baseUrl, streaming)
      const { text, ended } = yield* stream.readUntil(() => false)
      assert.strictEqual(ended, "error")
      assert.strictEqual(parseFrames(text).length, 1)
    }).pipe(
      Effect.provide(ResponsesServer.layer({ fallback: message("a b c"), chaos: { seed: 3, resetMidStream: 1 } }))
    )
  )

  it.effect("seeded latency follows TestClock", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const fiber = yield* Effect.forkChild(post(server.baseUrl, request()))
      yield* waitFor(
        Effect.map(server.requests, (r) => r.length === 1),
        "the request"
      )
      yield* realSleep(30)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("50 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
    }).pipe(
      Effect.provide(
        ResponsesServer.layer({ fallback: message("ok"), chaos: { seed: 1, latency: { minMillis: 5, maxMillis: 50 } } })
      )
    )
  )
})

describe("faults compose with pipe", () => {
  it("withFault merges with an existing fault", () => {
    const turn = pipe(message("a"), withFault({ status: 500 }), withFault({ headers: { "x-should-retry": "false" } }))
    assert.deepStrictEqual(turn.fault, { status: 500, headers: { "x-should-retry": "false" } })
  })
})
