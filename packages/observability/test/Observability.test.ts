import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent } from "@volley/agent"
import { OtlpReceiver, ScriptedModel as M, TestClient } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import { Observability } from "../src/index.ts"

const { lastPoint, points, receiver, spans } = OtlpReceiver

const canaryKey: string =
  process.env.VOLLEY_CANARY_KEY ?? `sk-volley-CANARY-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`

const Lookup = Tool.make("lookup", {
  description: "Looks up the weather of a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})
const Weather = Toolkit.make(Lookup)
const weatherLayer = Weather.toLayer({ lookup: ({ city }) => Effect.succeed(`TOOL-RESULT sunny in ${city}`) })
const agent = Agent.make({ name: "forecaster", model: "m-1", instructions: "SECRET-INSTRUCTIONS", toolkit: Weather })

const frame = (event: Record<string, unknown>) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`

const script = [
  // the client retries a 429 (a `volley.retry` event on the chat span)
  M.httpError(429, { headers: { "retry-after-ms": "0" } }),
  M.withUsage(M.functionCall("lookup", { city: "PROMPT-CITY" }), { input_tokens: 11, output_tokens: 7 }),
  // a stream that ends without a terminal event: the agent restarts the turn
  M.sse([frame({ type: "response.created", response: { id: "resp_cut", status: "in_progress", output: [] } })]),
  M.withUsage(M.message("ANSWER-CONTENT"), { input_tokens: 20, output_tokens: 5 })
]

const run = (url: string) =>
  Stream.runDrain(agent.stream("USER-CONTENT")).pipe(
    Effect.provide(Layer.mergeAll(TestClient.layer(script, { apiKey: Redacted.make(canaryKey) }), weatherLayer)),
    Effect.provide(
      Observability.layerOtlp({
        url,
        serviceName: "obs-test",
        headers: { "x-collector-key": Redacted.make("collector-secret") }
      })
    )
  )

describe("Observability.layerOtlp", () => {
  it.live("exports Volley's spans with their links and GenAI attributes, and the GenAI metrics", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* run(otlp.url)
      const traces = otlp.received.filter((r) => r.path === "/v1/traces")
      assert.isAbove(traces.length, 0)
      assert.strictEqual(traces[0]!.headers["content-type"], "application/json")
      assert.strictEqual(traces[0]!.headers["x-collector-key"], "collector-secret")
      assert.include(traces[0]!.body, '"obs-test"')

      const all = spans(otlp.received)
      const root = all.find((s) => s.name === "invoke_agent forecaster")
      assert.isDefined(root)
      assert.strictEqual(root!.attributes["gen_ai.operation.name"], "invoke_agent")
      assert.strictEqual(root!.attributes["gen_ai.agent.name"], "forecaster")
      assert.strictEqual(root!.attributes["volley.agent.stop_reason"], "Completed")
      const byId = new Map(all.map((s) => [s.spanId, s]))
      const underRoot = (s: (typeof all)[number]): boolean => {
        let parent = s.parentSpanId
        for (let i = 0; parent !== undefined && i < 32; i++) {
          if (parent === root!.spanId) return true
          parent = byId.get(parent)?.parentSpanId
        }
        return false
      }
      const chats = all.filter((s) => s.name === "chat m-1")
      const tools = all.filter((s) => s.name === "execute_tool lookup")
      assert.strictEqual(chats.length, 3) // tool call turn (after a retried 429), the cut stream, the answer
      assert.strictEqual(tools.length, 1)
      assert.isTrue([...chats, ...tools].every(underRoot))
      assert.strictEqual(chats[0]!.attributes["gen_ai.operation.name"], "chat")
      assert.strictEqual(chats[0]!.attributes["gen_ai.usage.input_tokens"], 11)
      assert.isTrue(chats[0]!.events.some((e) => e.name === "volley.retry"))
      assert.strictEqual(tools[0]!.attributes["gen_ai.tool.name"], "lookup")
      assert.isTrue(all.some((s) => s.name === "POST" && s.parentSpanId === chats[0]!.spanId))

      const metrics = points(otlp.received)
      const input = lastPoint(metrics, "gen_ai.client.token.usage", {
        "gen_ai.token.type": "input",
        "gen_ai.request.model": "m-1"
      })
      const output = lastPoint(metrics, "gen_ai.client.token.usage", { "gen_ai.token.type": "output" })
      assert.deepStrictEqual([input?.count, input?.value], [2, 31])
      assert.deepStrictEqual([output?.count, output?.value], [2, 12])
      const failedChat = lastPoint(metrics, "gen_ai.client.operation.duration", { "error.type": "StreamTruncated" })
      assert.strictEqual(failedChat?.count, 1)
      assert.strictEqual(lastPoint(metrics, "volley.tool.calls", { "gen_ai.tool.name": "lookup" })?.value, 1)
      assert.strictEqual(lastPoint(metrics, "volley.tool.calls")?.attributes["volley.tool.outcome"], "success")
      assert.strictEqual(lastPoint(metrics, "volley.tool.duration", { "gen_ai.tool.name": "lookup" })?.count, 1)
      assert.strictEqual(lastPoint(metrics, "volley.client.retries", { "error.type": "RateLimitError" })?.value, 1)
      assert.strictEqual(
        lastPoint(metrics, "volley.agent.turn_restarts", { "gen_ai.agent.name": "forecaster" })?.value,
        1
      )
      assert.strictEqual(
        lastPoint(metrics, "volley.agent.runs", {
          "gen_ai.agent.name": "forecaster",
          "volley.agent.stop_reason": "Completed"
        })?.value,
        1
      )

      // content capture is off by default, and no exported byte holds the key
      const bytes = otlp.received.map((r) => r.body).join("\n")
      for (const content of ["SECRET-INSTRUCTIONS", "USER-CONTENT", "PROMPT-CITY", "TOOL-RESULT", "ANSWER-CONTENT"])
        assert.notInclude(bytes, content)
      assert.notInclude(bytes, canaryKey)
      assert.notInclude(bytes, canaryKey.slice(-8))
      assert.notInclude(bytes, "collector-secret")
    })
  )

  it.live("a failed run is counted by its error, and its final failed model call is not a restart", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const failing = Agent.make({ name: "failing", model: "m-2", toolkit: Weather })
      const exit = yield* failing
        .run("USER-CONTENT")
        .pipe(
          Effect.provide(
            Layer.mergeAll(TestClient.layer([M.httpError(401)], { apiKey: Redacted.make(canaryKey) }), weatherLayer)
          ),
          Effect.provide(Observability.layerOtlp({ url: otlp.url, serviceName: "obs-fail" })),
          Effect.exit
        )
      assert.strictEqual(exit._tag, "Failure")
      const metrics = points(otlp.received).filter(
        (p) => p.attributes["gen_ai.agent.name"] === "failing" || p.attributes["gen_ai.request.model"] === "m-2"
      )
      const runs = metrics.filter((p) => p.metric === "volley.agent.runs")
      assert.isAbove(runs.length, 0)
      assert.notStrictEqual(runs.at(-1)!.attributes["volley.agent.stop_reason"], "Completed")
      assert.strictEqual(
        lastPoint(metrics, "gen_ai.client.operation.duration", { "error.type": "AuthenticationError" })?.count,
        1
      )
      assert.isUndefined(metrics.find((p) => p.metric === "volley.agent.turn_restarts"))
    })
  )
})

describe("Observability.layerOtlp: content capture", () => {
  it.live("with captureContent on, the prompt is exported (so the default-off check above can fail)", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* agent.run("USER-CONTENT").pipe(
        Effect.provide(
          Layer.mergeAll(
            TestClient.layer([M.message("ANSWER-CONTENT")], {
              apiKey: Redacted.make(canaryKey),
              captureContent: true
            }),
            weatherLayer
          )
        ),
        Effect.provide(Observability.layerOtlp({ url: otlp.url }))
      )
      const bytes = otlp.received.map((r) => r.body).join("\n")
      assert.include(bytes, "USER-CONTENT")
      assert.include(bytes, "gen_ai.input.messages")
      assert.notInclude(bytes, canaryKey)
    })
  )
})

describe("Observability.layerOtlp: a collector that is down", () => {
  it.live("does not fail the program, and releasing the layer waits at most shutdownTimeout", () =>
    Effect.gen(function* () {
      // a port that was just free: nothing listens there
      const closed = yield* Effect.scoped(Effect.map(receiver, (r) => r.url))
      const started = Date.now()
      const exit = yield* agent
        .run("USER-CONTENT")
        .pipe(
          Effect.provide(Layer.mergeAll(TestClient.layer([M.message("fine")]), weatherLayer)),
          Effect.provide(Observability.layerOtlp({ url: closed, shutdownTimeout: "500 millis" })),
          Effect.exit
        )
      assert.strictEqual(exit._tag, "Success")
      assert.isBelow(Date.now() - started, 2_500)
    })
  )
})

describe("Observability.layerOtlpConfig", () => {
  it.live("reads OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS and OTEL_SERVICE_NAME", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* Effect.void.pipe(
        Effect.withSpan("chat m-config"),
        Effect.provide(Observability.layerOtlpConfig()),
        Effect.provide(
          ConfigProvider.layer(
            ConfigProvider.fromUnknown({
              OTEL_EXPORTER_OTLP_ENDPOINT: `${otlp.url}/`,
              OTEL_EXPORTER_OTLP_HEADERS: "x-team=blue%20team,authorization=Bearer abc",
              OTEL_SERVICE_NAME: "configured-service"
            })
          )
        )
      )
      const trace = otlp.received.find((r) => r.path === "/v1/traces")
      assert.isDefined(trace)
      assert.strictEqual(trace!.headers["x-team"], "blue team")
      assert.strictEqual(trace!.headers.authorization, "Bearer abc")
      assert.include(trace!.body, '"configured-service"')
      assert.deepStrictEqual(
        spans(otlp.received).map((s) => s.name),
        ["chat m-config"]
      )
    })
  )

  it.live("without an endpoint nothing is exported and no exporter starts", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* Effect.void.pipe(
        Effect.withSpan("chat m-none"),
        Effect.provide(Observability.layerOtlpConfig()),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ OTEL_SERVICE_NAME: "x" })))
      )
      assert.strictEqual(otlp.received.length, 0)
    })
  )

  it("parseHeaders: redacted values, percent-decoding, malformed entries refused", () => {
    const parsed = Observability.parseHeaders("A=1, b = x%2Cy ,,")
    assert.deepStrictEqual(
      Object.entries(parsed ?? {}).map(([k, v]) => [k, Redacted.value(v)]),
      [
        ["a", "1"],
        ["b", "x,y"]
      ]
    )
    assert.strictEqual(String(parsed?.a), "<redacted>")
    assert.isUndefined(Observability.parseHeaders("novalue"))
    assert.isUndefined(Observability.parseHeaders("k=%E0%A4%A"))
  })
})
