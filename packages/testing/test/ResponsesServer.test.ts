import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as RecordedRequest from "../src/RecordedRequest.ts"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import { canary, decodeEvents, decodeResponse, post, postSettled, request } from "./helpers.ts"
import { ResponsesSchema } from "@volley/core"

type Server = ResponsesServer.ResponsesServer["Service"]

const withServer = <A, E>(
  options: ReadonlyArray<ScriptedModel.Step> | ResponsesServer.Options,
  body: (server: Server) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    return yield* body(yield* ResponsesServer.ResponsesServer)
  }).pipe(Effect.provide(ResponsesServer.layer(options)))

const weatherTool = {
  type: "function",
  name: "get_weather",
  description: "Get the weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}

describe("ResponsesServer: the real server", () => {
  it.effect("listens on 127.0.0.1 with a base URL ending in /v1, and closes with the layer", () =>
    Effect.gen(function* () {
      const baseUrl = yield* withServer([ScriptedModel.message("hi")], (server) =>
        Effect.gen(function* () {
          assert.match(server.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
          assert.strictEqual((yield* post(server.baseUrl, request())).status, 200)
          return server.baseUrl
        })
      )
      const after = yield* postSettled(baseUrl, request())
      assert.isDefined(after.error)
    })
  )

  it.effect("records every request: body, headers, order; helpers read turn N's inputs and tools", () =>
    withServer(
      [
        ScriptedModel.functionCall("get_weather", { city: "Paris" }, { callId: "call_p" }),
        ScriptedModel.message("done")
      ],
      (server) =>
        Effect.gen(function* () {
          yield* post(server.baseUrl, request("Weather in Paris?", { tools: [weatherTool] }), {
            "idempotency-key": "k1"
          })
          yield* post(
            server.baseUrl,
            request(
              [
                { role: "user", content: "Weather in Paris?" },
                { type: "function_call", call_id: "call_p", name: "get_weather", arguments: '{"city":"Paris"}' },
                { type: "function_call_output", call_id: "call_p", output: '{"temp":18}' }
              ],
              { tools: [weatherTool] }
            )
          )
          const [first, second] = yield* server.requests
          assert.strictEqual(first?.index, 0)
          assert.strictEqual(first?.method, "POST")
          assert.strictEqual(first?.path, "/v1/responses")
          assert.strictEqual(RecordedRequest.lastUserText(first!), "Weather in Paris?")
          assert.deepStrictEqual(RecordedRequest.toolNames(first!), ["get_weather"])
          assert.strictEqual(first?.headers["idempotency-key"], "k1")
          assert.strictEqual(first?.headers.authorization, `Bearer ${canary}`)
          assert.isTrue(RecordedRequest.contains(first!, canary))
          const safe = RecordedRequest.headersWithoutKey(first!)
          assert.notProperty(safe, "authorization")
          assert.notInclude(JSON.stringify(safe), canary)
          assert.strictEqual(RecordedRequest.inputItems(second!).length, 3)
          assert.deepStrictEqual(
            RecordedRequest.functionCallOutputs(second!).map((o) => o.call_id),
            ["call_p"]
          )
          assert.strictEqual((yield* server.request(1)).index, 1)
          const missing = yield* Effect.flip(server.request(5))
          assert.strictEqual(missing._tag, "ScriptIncomplete")
          yield* server.assertComplete
        })
    )
  )

  it.effect("assertComplete fails when turns are left unused", () =>
    withServer([ScriptedModel.message("one"), ScriptedModel.message("two")], (server) =>
      Effect.gen(function* () {
        yield* post(server.baseUrl, request())
        const error = yield* Effect.flip(server.assertComplete)
        assert.strictEqual(error.unusedTurns, 1)
        assert.strictEqual(error.extraRequests, 0)
        assert.include(error.message, "never requested")
      })
    )
  )

  it.effect("an extra request gets a 500 and makes assertComplete fail", () =>
    withServer([ScriptedModel.message("only")], (server) =>
      Effect.gen(function* () {
        yield* post(server.baseUrl, request())
        const extra = yield* post(server.baseUrl, request())
        assert.strictEqual(extra.status, 500)
        assert.strictEqual(JSON.parse(extra.text).error.type, "volley_script_exhausted")
        const error = yield* Effect.flip(server.assertComplete)
        assert.strictEqual(error.extraRequests, 1)
        assert.strictEqual(error.unusedTurns, 0)
      })
    )
  )

  it.effect("fallback answers once the script is exhausted (no extra-request failure)", () =>
    withServer({ script: [ScriptedModel.message("first")], fallback: ScriptedModel.message("again") }, (server) =>
      Effect.gen(function* () {
        const texts: Array<string> = []
        for (let i = 0; i < 3; i++) {
          texts.push(
            ResponsesSchema.outputText(decodeResponse((yield* post(server.baseUrl, request())).text).output ?? [])
          )
        }
        assert.deepStrictEqual(texts, ["first", "again", "again"])
        yield* server.assertComplete
      })
    )
  )

  it.effect("400 like the real API for malformed requests; they consume no turn", () =>
    withServer([ScriptedModel.message("ok")], (server) =>
      Effect.gen(function* () {
        const badJson = yield* post(server.baseUrl, "{not json")
        assert.strictEqual(badJson.status, 400)
        assert.deepStrictEqual(Object.keys(JSON.parse(badJson.text).error).sort(), ["code", "message", "param", "type"])
        assert.strictEqual(JSON.parse(badJson.text).error.type, "invalid_request_error")

        const missingModel = JSON.parse((yield* post(server.baseUrl, { input: "hi" })).text).error
        assert.strictEqual(missingModel.param, "model")
        assert.include(missingModel.message, "model")
        assert.isNull(missingModel.code)

        const wrongType = yield* post(server.baseUrl, { model: 42, input: "hi" })
        assert.strictEqual(wrongType.status, 400)
        assert.strictEqual(JSON.parse(wrongType.text).error.param, "model")

        const badItem = JSON.parse(
          (yield* post(server.baseUrl, {
            model: "m",
            input: [{ type: "function_call_output", output: "x" }]
          })).text
        ).error
        assert.strictEqual(badItem.param, "input[0].call_id")
        assert.strictEqual(badItem.message, "Missing required parameter: 'input[0].call_id'.")

        const ok = yield* post(server.baseUrl, request())
        assert.strictEqual(ok.status, 200)
        const requests = yield* server.requests
        assert.strictEqual(requests.length, 5)
        assert.isUndefined(requests[0]?.body)
        assert.strictEqual(requests[0]?.rawBody, "{not json")
        yield* server.assertComplete
      })
    )
  )

  it.effect("a responder that throws gets a 500 at once and fails assertComplete", () =>
    withServer(
      [
        ScriptedModel.responder(() => {
          throw new Error("bug in my responder")
        }),
        ScriptedModel.message("next")
      ],
      (server) =>
        Effect.gen(function* () {
          const answer = yield* post(server.baseUrl, request())
          assert.strictEqual(answer.status, 500)
          assert.strictEqual(JSON.parse(answer.text).error.type, "volley_handler_failed")
          assert.strictEqual((yield* post(server.baseUrl, request())).status, 200)
          const failure = yield* Effect.flip(server.assertComplete)
          assert.include(failure.message, "bug in my responder")
        })
    )
  )

  it.effect("404 for other paths", () =>
    withServer([], (server) =>
      Effect.gen(function* () {
        const answer = yield* Effect.promise(() =>
          fetch(`${server.baseUrl}/chat/completions`, { method: "POST", body: "{}" })
        )
        assert.strictEqual(answer.status, 404)
        yield* Effect.promise(() => answer.text())
      })
    )
  )

  it.effect("connection log: open/close times on the Effect clock, live count", () =>
    withServer([ScriptedModel.message("a"), ScriptedModel.message("b")], (server) =>
      Effect.gen(function* () {
        yield* post(server.baseUrl, request())
        yield* post(server.baseUrl, request())
        const log = yield* server.connectionLog
        assert.isAtLeast(log.length, 1)
        assert.strictEqual(
          log.reduce((n, c) => n + c.requests, 0),
          2
        )
        assert.isTrue(log.every((c) => c.openedAt === 0))
        assert.isAtMost(yield* server.liveConnections, log.length)
      })
    )
  )
})

describe("ResponsesServer.layerHttpClient: in memory", () => {
  it.effect("JSON and SSE through the HttpClient, recorded like the real server", () =>
    Effect.gen(function* () {
      const client = yield* HttpClient.HttpClient
      const server = yield* ResponsesServer.ResponsesServer
      assert.strictEqual(server.baseUrl, "http://localhost/v1")
      const json = yield* client.post(`${server.baseUrl}/responses`, { body: HttpBody.jsonUnsafe(request()) })
      assert.strictEqual(ResponsesSchema.outputText(decodeResponse(yield* json.text).output ?? []), "a b")
      const sse = yield* client.post(`${server.baseUrl}/responses`, {
        body: HttpBody.jsonUnsafe(request("x", { stream: true })),
        headers: { authorization: "Bearer k" }
      })
      assert.strictEqual(sse.headers["content-type"], "text/event-stream")
      const text = (yield* Stream.runCollect(Stream.decodeText(sse.stream))).join("")
      assert.strictEqual(decodeEvents(text).at(-1)?.type, "response.completed")
      const requests = yield* server.requests
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[1]?.headers.authorization, "Bearer k")
      assert.strictEqual(requests[1]?.connectionId, -1)
      yield* server.assertComplete
    }).pipe(Effect.provide(ResponsesServer.layerHttpClient([ScriptedModel.message("a b"), ScriptedModel.message("c")])))
  )

  it.effect("validates requests in memory too", () =>
    Effect.gen(function* () {
      const client = yield* HttpClient.HttpClient
      const answer = yield* client.post("http://localhost/v1/responses", { body: HttpBody.jsonUnsafe({ input: 1 }) })
      assert.strictEqual(answer.status, 400)
      assert.strictEqual(
        (yield* answer.json as Effect.Effect<{ error: { type: string } }, unknown>).error.type,
        "invalid_request_error"
      )
    }).pipe(Effect.provide(ResponsesServer.layerHttpClient([])))
  )
})

describe("ResponsesServer: backpressure", () => {
  it.live("a reader that does not read makes the server's writes pause (counted per connection)", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const controller = new AbortController()
      const response = yield* Effect.promise(() =>
        fetch(`${server.baseUrl}/responses`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(request("x", { stream: true })),
          signal: controller.signal
        })
      )
      assert.strictEqual(response.status, 200)
      // do not read the body: the socket buffers fill and the server waits for `drain`
      let paused = 0
      for (let i = 0; i < 200 && paused === 0; i++) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        paused = (yield* server.connectionLog).reduce((n, c) => n + c.pausedWrites, 0)
      }
      controller.abort()
      assert.isAbove(paused, 0)
    }).pipe(
      Effect.provide(
        ResponsesServer.layer([ScriptedModel.message(Array.from({ length: 20_000 }, (_, i) => `word${i}`).join(" "))])
      )
    )
  )
})
