/**
 * G01 across the whole stack (agent → tools → client → record proxy → scripted upstream), in real
 * time over real sockets, with debug logging, an in-memory span exporter and record mode on. The
 * canary key meets every A–F fault class that can carry it: a 401 whose body quotes the key, 500
 * and 429 retries, a tool that fails with the key in its error, a malformed event holding the key
 * (B06), a reset mid-stream with a turn retry, and a `response.failed` quoting the key. Afterwards
 * logs, span attributes/events/status, errors (String, JSON, Cause.pretty), agent stream events and
 * recorded fixtures are searched for the key and its last 8 characters: 0 hits. The suite-wide
 * sweep (scripts/canary-sweep.mjs, run by `npm test`) covers every other test's output.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { inspect } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ResponsesClient } from "@volley/core"
import { Fixture, Record, Replay, ResponsesServer, ScriptedModel as M } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import * as Agent from "../src/Agent.ts"
import type { AgentEvent } from "../src/AgentEvent.ts"
import { canaryKey, dropArtefact, sweepDir } from "./support/canary.ts"

const Leaky = Tool.make("leaky", { description: "Fails with the key in its error", success: Schema.String })
const LeakyTools = Toolkit.make(Leaky)
const leakyLayer = LeakyTools.toLayer({
  leaky: () =>
    Effect.sync(() => {
      throw new Error(`db failed: postgres://user:${canaryKey}@db.internal/app (key ${canaryKey})`)
    })
})
const agent = Agent.make({ name: "canary", model: "m", toolkit: LeakyTools })

const frame = (event: Record<string, unknown>) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`

/** What the upstream answers, request by request (sequential runs). */
const upstreamScript = [
  // run 1: a 401 quoting the key
  M.httpError(401, {
    body: {
      error: {
        message: `Incorrect API key provided: ${canaryKey}. You can find your API key at https://platform.example/`,
        type: "invalid_request_error",
        code: "invalid_api_key"
      }
    }
  }),
  // run 2: 500 and 429 (retried), then a tool that fails with the key, then the answer
  M.httpError(500, { headers: { "retry-after-ms": "0" } }),
  M.httpError(429, { headers: { "retry-after-ms": "0" } }),
  M.functionCall("leaky", {}),
  M.message("the tool failed, sorry"),
  // run 3: event 5 is truncated JSON holding the key (B06)
  M.sse([
    frame({ type: "response.created", response: { id: "resp_x", status: "in_progress", output: [] } }),
    frame({
      type: "response.output_item.added",
      output_index: 0,
      item: { type: "message", id: "msg_x", role: "assistant", status: "in_progress", content: [] }
    }),
    `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"msg_x","output_index":0,"content_index":0,"delta":"${canaryKey}\n\n`
  ]),
  // run 4: a reset mid-stream (the agent re-runs the turn), then the answer
  M.withFault(M.message("partial words before the reset"), { resetMidEvent: 3 }),
  M.message("after the restart"),
  // run 5: response.failed quoting the key, not retryable
  M.failed({ code: "invalid_prompt", message: `rejected prompt containing ${canaryKey}` })
]

describe("canary", () => {
  it.live(
    "G01 the canary key and its last 8 characters appear in no log, span, error, stream event or fixture",
    () =>
      Effect.gen(function* () {
        // Under `npm test` the recording stays in the sweep directory, so the suite-wide sweep sees it too.
        if (sweepDir !== undefined) fs.mkdirSync(sweepDir, { recursive: true })
        const dir = fs.mkdtempSync(
          path.join(sweepDir ?? os.tmpdir(), sweepDir === undefined ? "volley-canary-" : "fixtures-")
        )
        const logs: Array<string> = []
        const collector = Logger.make((options) => {
          logs.push(Logger.formatLogFmt.log(options))
          logs.push(inspect(options.message, { depth: 10 }))
          logs.push(Cause.pretty(options.cause))
        })
        const exporter = new InMemorySpanExporter()
        const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
        const tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))

        const upstream = yield* ResponsesServer.make({ script: upstreamScript, fallback: M.message("fallback") })
        const recorder = yield* ResponsesServer.make({ handler: Record.handler({ upstream: upstream.baseUrl, dir }) })
        const client = ResponsesClient.layerUndici({ baseUrl: recorder.baseUrl, apiKey: Redacted.make(canaryKey) })
        // The toolkit runs its handlers in the context its layer was built in, so the logger and the
        // tracer go underneath it (provideMerge), not beside it.
        const layer = Layer.mergeAll(client, leakyLayer).pipe(
          Layer.provideMerge(tracing),
          Layer.provideMerge(Logger.layer([collector]))
        )

        const events: Array<AgentEvent> = []
        const streamed = (input: string) =>
          agent.stream(input).pipe(
            Stream.runForEach((event) => Effect.sync(() => events.push(event))),
            Effect.exit
          )
        const exits: ReadonlyArray<Exit.Exit<unknown, unknown>> = yield* Effect.all([
          Effect.exit(agent.run("run one")),
          streamed("run two"),
          streamed("run three"),
          streamed("run four"),
          streamed("run five")
        ]).pipe(Effect.provideService(References.MinimumLogLevel, "Debug"), Effect.provide(layer))

        // The faults happened (the sweep is not vacuous).
        const failures = exits.filter(Exit.isFailure)
        const tags = failures.map((exit) => {
          const error = Cause.squash(exit.cause) as {
            readonly _tag: string
            readonly error?: { readonly _tag: string }
          }
          return `${error._tag}/${error.error?._tag}`
        })
        assert.includeMembers(tags, [
          "ModelError/AuthenticationError",
          "ModelError/StreamProtocolError",
          "ModelError/ResponseFailed"
        ])
        assert.isTrue(Exit.isSuccess(exits[1]!), "run two recovered from 500 and 429")
        assert.isTrue(Exit.isSuccess(exits[3]!), "run four recovered from the reset")
        assert.isTrue(
          events.some((event) => event._tag === "TurnRestarted"),
          "the reset restarted the turn"
        )
        const fixtures = fs.readdirSync(dir).map((name) => fs.readFileSync(path.join(dir, name), "utf8"))
        assert.isAtLeast(fixtures.length, 8)
        assert.isTrue(
          logs.some((line) => line.includes("tool.defect")),
          "the failing tool's log was captured"
        )
        const spans = exporter.getFinishedSpans()
        assert.isAbove(spans.length, 10)

        const renderings: Array<readonly [string, string]> = []
        for (const text of logs) renderings.push(["log", text])
        for (const span of spans) {
          renderings.push([
            `span ${span.name}`,
            JSON.stringify({
              name: span.name,
              attributes: span.attributes,
              events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
              status: span.status
            })
          ])
        }
        for (const exit of failures) {
          const error = Cause.squash(exit.cause)
          renderings.push(["error String", String(error)])
          renderings.push(["error JSON", JSON.stringify(error)])
          renderings.push(["error inspect", inspect(error, { depth: 10 })])
          renderings.push(["error message", String((error as { readonly message?: unknown }).message)])
          renderings.push(["error pretty", Cause.pretty(exit.cause)])
        }
        for (const event of events) renderings.push([`event ${event._tag}`, JSON.stringify(event)])
        for (const [i, text] of fixtures.entries()) renderings.push([`fixture ${i + 1}`, text])
        // Config objects print the key as redacted.
        const options = { baseUrl: recorder.baseUrl, apiKey: Redacted.make(canaryKey) }
        renderings.push(["config String", String(options.apiKey)])
        renderings.push(["config JSON", JSON.stringify(options)])
        renderings.push(["config inspect", inspect(options)])

        for (const [where, text] of renderings) dropArtefact(where, text)
        const needles = [canaryKey, canaryKey.slice(-8)]
        const hits = renderings.filter(([, text]) => needles.some((needle) => text.includes(needle)))
        assert.deepStrictEqual(
          hits.map(([where, text]) => `${where}: ${text.slice(0, 300)}`),
          [],
          "canary hits"
        )

        // Fixtures replay without a key: run two's exchanges, served to a keyless client.
        const replayed = yield* Effect.gen(function* () {
          const loaded = yield* Effect.orDie(Fixture.readAll(dir))
          const runTwo = loaded.filter((fixture) => JSON.stringify(fixture).includes("run two"))
          assert.strictEqual(runTwo.length, 4)
          const replay = yield* ResponsesServer.make({ handler: Replay.handler(runTwo) })
          return yield* Stream.runLast(agent.stream("run two")).pipe(
            Effect.provide(
              Layer.mergeAll(
                ResponsesClient.layerUndici({ baseUrl: replay.baseUrl, retryPolicy: { maxRetries: 2 } }),
                leakyLayer
              )
            )
          )
        })
        assert.strictEqual(replayed._tag === "Some" ? replayed.value._tag : undefined, "RunEnd")
        assert.isFalse(
          logs.some((line) => line.includes(canaryKey.slice(-8))),
          "the replay's logs hold no key either"
        )
        if (sweepDir === undefined) fs.rmSync(dir, { recursive: true, force: true })
      }).pipe(Effect.scoped),
    30_000
  )
})
