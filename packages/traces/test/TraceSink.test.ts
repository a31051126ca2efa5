import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"
import { AgentKnobs } from "@volley/agent"
import * as TraceRecord from "../src/TraceRecord.ts"
import * as TraceSink from "../src/TraceSink.ts"
import * as TraceStore from "../src/TraceStore.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "volley-traces-"))

const linesIn = (dir: string): Array<string> =>
  fs
    .readdirSync(dir)
    .filter(TraceRecord.isTraceFileName)
    .flatMap((name) => fs.readFileSync(path.join(dir, name), "utf8").split("\n"))
    .filter((line) => line !== "")

const recordsIn = (dir: string): Array<TraceRecord.TraceRecord> =>
  linesIn(dir).map((line) => {
    const record = TraceRecord.decodeLine(line)
    assert.isDefined(record, `a valid record: ${line.slice(0, 200)}`)
    return record!
  })

class ToolBroke extends Data.TaggedError("ToolBroke")<{ readonly message: string }> {}

// A run shaped like Volley's: an agent span, a chat span (with an HTTP attempt span in between that
// the sink does not record), two tool spans, one failing, and a retry event on the chat span.
const fakeRun = Effect.gen(function* () {
  yield* Effect.gen(function* () {
    yield* Effect.withSpan(Effect.void, "POST")
    yield* Effect.annotateCurrentSpan({ "gen_ai.response.id": "resp_1", "gen_ai.usage.input_tokens": 12 })
    const span = yield* Effect.currentSpan
    span.event("volley.retry", BigInt(Date.now()) * 1_000_000n, { "volley.retry.attempt": 1 })
  }).pipe(Effect.withSpan("chat m1", { attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "m1" } }))
  yield* Effect.annotateCurrentSpan({ "gen_ai.tool.call.arguments": '{"city":"Paris"}' }).pipe(
    Effect.withSpan("execute_tool get_weather", { attributes: { "gen_ai.tool.name": "get_weather" } })
  )
  yield* Effect.ignore(
    Effect.fail(new ToolBroke({ message: "disk full" })).pipe(
      Effect.withSpan("execute_tool write_file", { attributes: { "gen_ai.tool.name": "write_file" } })
    )
  )
  yield* Effect.annotateCurrentSpan({ "volley.agent.stop_reason": "Completed", "volley.agent.turns": 1 })
}).pipe(
  Effect.withSpan("invoke_agent helper", {
    attributes: { "gen_ai.agent.name": "helper", "gen_ai.request.model": "m1" }
  })
)

describe("TraceSink", () => {
  it.live("writes start, event and end lines per span to the day file, nearest recorded parent first", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* fakeRun.pipe(Effect.provide(TraceSink.layer({ dir })))
      const files = fs.readdirSync(dir)
      assert.deepStrictEqual(files, [TraceRecord.fileNameFor(Date.now())])
      const records = recordsIn(dir)
      const starts = records.filter((record) => record.type === "start")
      assert.deepStrictEqual(
        starts.map((record) => record.name),
        ["invoke_agent helper", "chat m1", "execute_tool get_weather", "execute_tool write_file"],
        "the POST attempt span is not recorded"
      )
      const agent = starts[0]!
      assert.isUndefined(agent.type === "start" ? agent.parentId : "x")
      for (const child of starts.slice(1)) assert.strictEqual(child.type === "start" && child.parentId, agent.spanId)
      const events = records.filter((record) => record.type === "event")
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]!.name, "volley.retry")
      assert.strictEqual(events[0]!.spanId, starts[1]!.spanId)
      const ends = records.filter((record) => record.type === "end")
      assert.strictEqual(ends.length, 4)
      const chatEnd = ends.find((record) => record.spanId === starts[1]!.spanId)!
      assert.strictEqual(chatEnd.attributes["gen_ai.response.id"], "resp_1")
      assert.strictEqual(chatEnd.attributes["gen_ai.usage.input_tokens"], 12)
      assert.isNumber(chatEnd.type === "end" ? chatEnd.firstEventTime : undefined, "time of the first model event")
      const failed = ends.find((record) => record.spanId === starts[3]!.spanId)!
      assert.deepStrictEqual(failed.type === "end" ? [failed.outcome, failed.error] : [], [
        "error",
        { tag: "ToolBroke", message: "disk full" }
      ])
      // the store rebuilds the tree from these lines
      const runs = yield* TraceStore.read(dir)
      assert.strictEqual(runs.runs.length, 1)
      const run = runs.runs[0]!
      assert.deepStrictEqual(
        run.children.map((child) => child.kind),
        ["model", "tool", "tool"]
      )
      const summary = TraceStore.summarise(run, Date.now())
      assert.strictEqual(summary.agent, "helper")
      assert.strictEqual(summary.stopReason, "Completed")
      assert.strictEqual(summary.turns, 1)
    })
  )

  it.live("keeps the wrapped tracer: every span still reaches it, with the same ids", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const seen: Array<Tracer.Span> = []
      const inner = Tracer.make({
        span: (options) => {
          const span = Tracer.nativeTracer.span(options)
          seen.push(span)
          return span
        }
      })
      yield* fakeRun.pipe(Effect.provide(TraceSink.layer({ dir })), Effect.provideService(Tracer.Tracer, inner))
      assert.deepStrictEqual(
        seen.map((span) => span.name),
        ["invoke_agent helper", "chat m1", "POST", "execute_tool get_weather", "execute_tool write_file"]
      )
      assert.isTrue(seen.every((span) => span.status._tag === "Ended"))
      const post = seen[2]!
      assert.strictEqual(post.parent._tag === "Some" && post.parent.value.spanId, seen[1]!.spanId)
      const ids = new Set(recordsIn(dir).map((record) => record.spanId))
      for (const span of seen.filter((span) => span.name !== "POST")) assert.isTrue(ids.has(span.spanId))
    })
  )

  it.live("inside the OpenTelemetry layer: spans are still exported, with the parents OTel knows", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const exporter = new InMemorySpanExporter()
      const otel = NodeSdk.layer(() => ({
        resource: { serviceName: "traces-test" },
        spanProcessor: new SimpleSpanProcessor(exporter)
      }))
      const spans = yield* fakeRun.pipe(
        Effect.provide(TraceSink.layer({ dir })),
        Effect.andThen(Effect.sync(() => exporter.getFinishedSpans())),
        Effect.provide(otel)
      )
      const byName = new Map(spans.map((span) => [span.name, span]))
      assert.deepStrictEqual([...byName.keys()].sort(), [
        "POST",
        "chat m1",
        "execute_tool get_weather",
        "execute_tool write_file",
        "invoke_agent helper"
      ])
      const agent = byName.get("invoke_agent helper")!
      const chat = byName.get("chat m1")!
      assert.strictEqual(chat.parentSpanContext?.spanId, agent.spanContext().spanId)
      assert.strictEqual(byName.get("POST")!.parentSpanContext?.spanId, chat.spanContext().spanId)
      assert.strictEqual(chat.attributes["gen_ai.response.id"], "resp_1")
      // the file has the same ids as the exported spans
      const starts = recordsIn(dir).filter((record) => record.type === "start")
      assert.deepStrictEqual(
        starts.map((record) => record.spanId),
        [agent, chat, byName.get("execute_tool get_weather")!, byName.get("execute_tool write_file")!].map(
          (span) => span.spanContext().spanId
        )
      )
    })
  )

  it.live("content (arguments) only when CaptureContent is on", () =>
    Effect.gen(function* () {
      const off = tempDir()
      yield* fakeRun.pipe(Effect.provide(TraceSink.layer({ dir: off })))
      assert.notInclude(linesIn(off).join("\n"), "Paris")
      assert.notInclude(linesIn(off).join("\n"), "gen_ai.tool.call.arguments")
      const on = tempDir()
      yield* fakeRun.pipe(
        Effect.provide(TraceSink.layer({ dir: on })),
        Effect.provideService(AgentKnobs.CaptureContent, true)
      )
      assert.include(linesIn(on).join("\n"), '\\"city\\":\\"Paris\\"')
      const forced = tempDir()
      yield* fakeRun.pipe(Effect.provide(TraceSink.layer({ dir: forced, captureContent: true })))
      assert.include(linesIn(forced).join("\n"), "Paris")
    })
  )

  it.live("a canary key never reaches the file: configured secrets, key-shaped tokens, errors and events", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const secret = `CANARY${Math.random().toString(36).slice(2, 14)}xyzzy`
      const keyShaped = `sk-volley-CANARY-${Math.random().toString(36).slice(2, 12)}`
      const leaky = Effect.gen(function* () {
        yield* Effect.annotateCurrentSpan({
          "gen_ai.tool.call.arguments": `{"key":"${secret}","other":"${keyShaped}"}`,
          "some.header": `Bearer ${secret}`,
          [`key-${secret}`]: "in a key"
        })
        const span = yield* Effect.currentSpan
        span.event("volley.retry", BigInt(Date.now()) * 1_000_000n, { "volley.retry.error": `bad ${keyShaped}` })
        return yield* Effect.fail(new ToolBroke({ message: `rejected ${secret} and ...${secret.slice(-8)}` }))
      }).pipe(Effect.withSpan("execute_tool leak"), Effect.ignore)
      yield* leaky.pipe(Effect.provide(TraceSink.layer({ dir, secrets: [secret], captureContent: true })))
      const text = linesIn(dir).join("\n")
      assert.include(text, "<redacted>")
      assert.include(text, "rejected")
      for (const needle of [secret, secret.slice(-8), keyShaped, keyShaped.slice(-8)]) assert.notInclude(text, needle)
    })
  )

  it.live("bounds: long values are cut to 8 KiB, every line stays under 64 KiB, a full queue drops and counts", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const huge = "x".repeat(1024 * 1024)
      const many: Record<string, string> = {}
      for (let i = 0; i < 200; i++) many[`attr.${i}`] = "y".repeat(4000)
      yield* Effect.annotateCurrentSpan({ "big.value": huge, ...many }).pipe(
        Effect.withSpan("chat big"),
        Effect.provide(TraceSink.layer({ dir }))
      )
      const lines = linesIn(dir)
      for (const line of lines) assert.isAtMost(Buffer.byteLength(line), TraceRecord.maxLineBytes)
      const end = recordsIn(dir).find((record) => record.type === "end")!
      assert.isAtMost(Object.keys(end.attributes).length, TraceRecord.maxAttributes)
      const value = end.attributes["big.value"]
      if (value !== undefined) assert.isAtMost(Buffer.byteLength(String(value)), TraceRecord.maxValueBytes)

      const small = tempDir()
      const dropped = yield* Effect.gen(function* () {
        for (let i = 0; i < 10; i++) yield* Effect.withSpan(Effect.void, `chat n${i}`)
        const sink = yield* TraceSink.TraceSink
        return yield* sink.dropped
      }).pipe(Effect.provide(TraceSink.layer({ dir: small, maxPending: 5, flushInterval: "1 hour" })))
      assert.strictEqual(dropped, 15, "10 spans = 20 lines, 5 kept")
      assert.strictEqual(linesIn(small).length, 5)
    })
  )

  it.live("layerFromArgv is on only with --trace; argsWithoutTrace removes the flag", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(TraceSink.argsWithoutTrace(["--trace", "hello", "--stream"]), ["hello", "--stream"])
      assert.isFalse(TraceSink.wantsTrace(["hello"]))
      const dir = tempDir()
      // the folder from configuration (a provider of its own: the default one may have read the environment already)
      const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ VOLLEY_TRACE_DIR: dir }))
      const fromArgv = (argv: ReadonlyArray<string>) => TraceSink.layerFromArgv(argv).pipe(Layer.provide(config))
      yield* Effect.withSpan(Effect.void, "chat off").pipe(Effect.provide(fromArgv(["hello"])))
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      yield* Effect.withSpan(Effect.void, "chat on").pipe(Effect.provide(fromArgv(["--trace"])))
      assert.strictEqual(recordsIn(dir).length, 2)
    })
  )
})

describe("TraceRecord and TraceStore", () => {
  it("decodeLine skips malformed, foreign and oversized lines", () => {
    assert.isUndefined(TraceRecord.decodeLine("{not json"))
    assert.isUndefined(TraceRecord.decodeLine('{"type":"start"}'))
    const ok = { v: 1, type: "start", traceId: "t", spanId: "s", name: "chat m", time: 1, attributes: {} }
    assert.isDefined(TraceRecord.decodeLine(JSON.stringify(ok)))
    const big = { ...ok, attributes: { a: "z".repeat(TraceRecord.maxLineBytes) } }
    assert.isUndefined(TraceRecord.decodeLine(JSON.stringify(big)))
  })

  it("build: steps nest under recorded parents; orphans are runs; a run with no end is running", () => {
    const start = (spanId: string, name: string, time: number, parentId?: string): TraceRecord.TraceRecord => ({
      v: 1,
      type: "start",
      traceId: "t",
      spanId,
      ...(parentId === undefined ? {} : { parentId }),
      name,
      time,
      attributes: {}
    })
    const runs = TraceStore.build([
      start("a", "invoke_agent lead", 0),
      start("c1", "chat m", 1, "a"),
      start("t1", "execute_tool x", 5, "a"),
      start("t2", "execute_tool y", 6, "a"),
      start("sub", "invoke_agent researcher", 7, "t2"),
      { v: 1, type: "end", traceId: "t", spanId: "t1", time: 9, outcome: "ok", attributes: {} },
      start("b", "invoke_agent other", 20, "missing")
    ])
    assert.deepStrictEqual(
      runs.runs.map((run) => run.spanId),
      ["b", "a"],
      "newest first"
    )
    const lead = runs.bySpanId.get("a")!
    assert.deepStrictEqual(
      lead.children.map((child) => child.spanId),
      ["c1", "t1", "t2"]
    )
    assert.strictEqual(runs.bySpanId.get("t2")!.children[0]!.spanId, "sub")
    assert.strictEqual(TraceStore.overlapping(runs.bySpanId.get("t1")!, lead.children), 1)
    assert.strictEqual(TraceStore.stopReasonOf(lead), "Running")
  })

  it.live(
    "the reader decodes only appended bytes: a half-written line waits, a shrunk file is read again, a tail read drops its cut line",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const file = path.join(dir, "2026-12-03.jsonl")
        const line = (spanId: string) =>
          JSON.stringify({ v: 1, type: "start", traceId: "t", spanId, name: "invoke_agent a", time: 1, attributes: {} })
        const reader = TraceStore.makeReader(dir)
        const ids = (runs: TraceStore.Runs) => runs.runs.map((run) => run.spanId).sort()
        const third = line("r3")
        fs.writeFileSync(file, `${line("r1")}\n${line("r2")}\n${third.slice(0, 20)}`)
        let runs = yield* reader.read
        assert.deepStrictEqual(ids(runs), ["r1", "r2"])
        assert.strictEqual(runs.skipped, 0, "a line still being written is not an error")
        fs.appendFileSync(file, `${third.slice(20)}\n`)
        runs = yield* reader.read
        assert.deepStrictEqual(ids(runs), ["r1", "r2", "r3"])
        fs.writeFileSync(file, `${line("n1")}\n`)
        runs = yield* reader.read
        assert.deepStrictEqual(ids(runs), ["n1"], "a shrunk file is read again")
        // an over-long line is skipped, and the line after it still counts
        fs.appendFileSync(file, "x".repeat(TraceRecord.maxLineBytes + 1))
        runs = yield* reader.read
        fs.appendFileSync(file, `yyy\n${line("n2")}\n`)
        runs = yield* reader.read
        assert.deepStrictEqual(ids(runs), ["n1", "n2"])
        assert.strictEqual(runs.skipped, 1)
        // only the last maxFileBytes are read: the line cut at the start is dropped without complaint
        const tail = TraceStore.makeReader(dir, { maxFileBytes: line("n2").length + 30 })
        const tailRuns = yield* tail.read
        assert.deepStrictEqual(ids(tailRuns), ["n2"])
        assert.strictEqual(tailRuns.skipped, 0)
      })
  )
})
