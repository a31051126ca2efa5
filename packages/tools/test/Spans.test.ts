/**
 * Each call is an `execute_tool {name}` span with GenAI attributes; arguments and results are recorded only
 * when opted in; failures mark the span as an error, and defects keep their (redacted) details there.
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { assert, describe, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Schema } from "effect"
import * as Tool from "../src/Tool.ts"
import * as Toolkit from "../src/Toolkit.ts"
import { call } from "./support.ts"

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const Tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))

const Lookup = Tool.make("lookup", {
  description: "d",
  parameters: Schema.Struct({ q: Schema.String }),
  success: Schema.String
})
const Secret = Tool.make("secret", {
  description: "d",
  parameters: Schema.Struct({ q: Schema.String }),
  success: Schema.String,
  captureContent: true
})
const kit = Toolkit.make(Lookup, Secret)
const handlers = kit.toLayer({
  lookup: ({ q }) =>
    q === "crash"
      ? Effect.sync(() => {
          throw new Error("crashed with postgres://admin:hunter2@db/prod")
        })
      : Effect.succeed(`result for ${q}`).pipe(Effect.withSpan("lookup.inner")),
  secret: ({ q }) => Effect.succeed(`captured ${q}`)
})

const run = <A, E>(f: (h: Toolkit.Handled<typeof kit.tools>) => Effect.Effect<A, E>) =>
  Effect.flatMap(kit.asEffect(), f).pipe(Effect.provide(Layer.merge(handlers, Tracing)))

const only = (name: string): ReadableSpan => {
  const spans = exporter.getFinishedSpans().filter((s) => s.name === name)
  assert.strictEqual(spans.length, 1, `spans named ${name}`)
  return spans[0]!
}

describe("spans", () => {
  it.effect("execute_tool {name} with GenAI attributes; no arguments or results by default", () =>
    Effect.gen(function* () {
      exporter.reset()
      yield* run((h) => h.handle(call("lookup", { q: "the secret question" }, "call_span_1")))
      const span = only("execute_tool lookup")
      assert.strictEqual(span.attributes["gen_ai.tool.name"], "lookup")
      assert.strictEqual(span.attributes["gen_ai.tool.call.id"], "call_span_1")
      assert.strictEqual(span.attributes["gen_ai.operation.name"], "execute_tool")
      assert.notStrictEqual(span.status.code, SpanStatusCode.ERROR)
      const all = JSON.stringify(span.attributes)
      assert.notInclude(all, "secret question")
      assert.notInclude(all, "result for")
      // spans made inside the handler are children of the execute_tool span
      assert.strictEqual(only("lookup.inner").parentSpanContext?.spanId, span.spanContext().spanId)
    })
  )

  it.effect("G03 captureContent records arguments and results (per tool, or per run), each at most 8 KiB", () =>
    Effect.gen(function* () {
      exporter.reset()
      yield* run((h) => h.handle(call("secret", { q: "visible" })))
      const span = only("execute_tool secret")
      assert.strictEqual(span.attributes["gen_ai.tool.call.arguments"], '{"q":"visible"}')
      assert.strictEqual(span.attributes["gen_ai.tool.call.result"], "captured visible")
      exporter.reset()
      yield* run((h) => h.handle(call("lookup", { q: "x" }), { captureContent: true }))
      assert.strictEqual(only("execute_tool lookup").attributes["gen_ai.tool.call.result"], "result for x")
      exporter.reset()
      yield* run((h) => h.handle(call("secret", { q: "€".repeat(10_000) })))
      const big = only("execute_tool secret")
      assert.isAtMost(Buffer.byteLength(String(big.attributes["gen_ai.tool.call.arguments"])), 8192)
      assert.isAtMost(Buffer.byteLength(String(big.attributes["gen_ai.tool.call.result"])), 8192)
    })
  )

  it.effect(
    "the CaptureContent reference (AgentKnobs.CaptureContent is the same one) turns capture on for calls without the option",
    () =>
      Effect.gen(function* () {
        exporter.reset()
        yield* run((h) => h.handle(call("lookup", { q: "by-ref" }))).pipe(
          Effect.provideService(Toolkit.CaptureContent, true)
        )
        assert.strictEqual(only("execute_tool lookup").attributes["gen_ai.tool.call.result"], "result for by-ref")
        exporter.reset()
        yield* run((h) => h.handle(call("lookup", { q: "off" }), { captureContent: false })).pipe(
          Effect.provideService(Toolkit.CaptureContent, true)
        )
        assert.isUndefined(only("execute_tool lookup").attributes["gen_ai.tool.call.result"])
      })
  )

  it.effect("D10 a defect marks the span as an error and keeps the redacted details there", () =>
    Effect.gen(function* () {
      exporter.reset()
      const result = yield* run((h) => h.handle(call("lookup", { q: "crash" })))
      assert.strictEqual(result.outcome._tag, "Failure")
      const span = only("execute_tool lookup")
      assert.strictEqual(span.status.code, SpanStatusCode.ERROR)
      assert.strictEqual(span.attributes["error.type"], "ToolDefect")
      const details = String(span.attributes["volley.tool.defect"])
      assert.include(details, "postgres://<redacted>@db/prod")
      assert.notInclude(JSON.stringify(span.attributes), "hunter2")
      assert.notInclude(JSON.stringify(span.events), "hunter2")
    })
  )

  it.effect("D13 an unencodable result marks the span as a bug in the tool; the model gets a generic message", () =>
    Effect.gen(function* () {
      exporter.reset()
      const Bad = Tool.make("bad", { description: "d", success: Schema.Struct({ n: Schema.Number }) })
      const k = Toolkit.make(Bad)
      const result = yield* Effect.flatMap(k.asEffect(), (h) => h.handle(call("bad", "{}"))).pipe(
        Effect.provide(
          Layer.merge(k.toLayer({ bad: () => Effect.succeed({ n: "x" } as unknown as { n: number }) }), Tracing)
        )
      )
      assert.strictEqual(
        result.output.output,
        '{"error":{"type":"invalid_result","message":"tool produced an invalid result"}}'
      )
      const span = only("execute_tool bad")
      assert.strictEqual(span.attributes["volley.tool.bug"], true)
      assert.strictEqual(span.attributes["error.type"], "ToolResultEncodingError")
      assert.include(String(span.attributes["volley.tool.invalid_result"]), "Expected number")
    })
  )

  it.effect("unknown tools and argument errors are error spans too", () =>
    Effect.gen(function* () {
      exporter.reset()
      yield* run((h) => h.handleAll([call("nope", "{}"), call("lookup", "{oops")]))
      assert.strictEqual(only("execute_tool nope").attributes["error.type"], "ToolNotFound")
      assert.strictEqual(only("execute_tool lookup").attributes["error.type"], "ToolArgumentsInvalid")
      assert.strictEqual(only("execute_tool nope").status.code, SpanStatusCode.ERROR)
    })
  )
})
