import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TraceRecord from "../src/TraceRecord.ts"
import * as TraceServer from "../src/TraceServer.ts"
import * as TraceStore from "../src/TraceStore.ts"
import * as Html from "../src/internal/html.ts"
import { bin, fetchText, startBin } from "./support/bin.ts"
import { approverResumedRun, approverRun, plannerRun } from "./support/runs.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "volley-traces-server-"))

const start = (spanId: string, name: string, time: number, attributes: Record<string, string> = {}) =>
  JSON.stringify({ v: 1, type: "start", traceId: "t", spanId, name, time, attributes })
const end = (spanId: string, time: number, attributes: Record<string, string | number> = {}) =>
  JSON.stringify({ v: 1, type: "end", traceId: "t", spanId, time, outcome: "ok", attributes })

describe("TraceServer", () => {
  it.live("serves pages, escapes trace text, and refuses what it does not serve", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const now = Date.now()
      fs.writeFileSync(
        path.join(dir, TraceRecord.fileNameFor(now)),
        [
          start("a1", "invoke_agent evil", now, { "gen_ai.agent.name": "<script>alert(1)</script>" }),
          end("a1", now + 5, { "volley.agent.stop_reason": "Completed" }),
          "{not json",
          `${"x".repeat(TraceRecord.maxLineBytes + 10)}`,
          ""
        ].join("\n")
      )
      const server = yield* TraceServer.make({ dir, maxClients: 1 })
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      const list = yield* fetchText(server.url)
      assert.strictEqual(list.status, 200)
      assert.notInclude(list.body, "<script>alert")
      assert.include(list.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
      assert.include(list.body, "2 unreadable lines skipped")
      const run = yield* fetchText(`${server.url}run/a1`)
      assert.strictEqual(run.status, 200)
      assert.include(run.body, 'class="waterfall"')
      const fragment = yield* fetchText(`${server.url}run/a1?fragment=1`)
      assert.notInclude(fragment.body, "<html")
      assert.include(fragment.body, 'class="waterfall"')
      assert.strictEqual((yield* fetchText(`${server.url}run/nope`)).status, 404)
      assert.strictEqual((yield* fetchText(`${server.url}elsewhere`)).status, 404)
      assert.strictEqual((yield* fetchText(server.url, { method: "POST", body: "x" })).status, 405)
      assert.strictEqual((yield* fetchText(`${server.url}?text=${"a".repeat(3000)}`)).status, 414)
      const script = yield* fetchText(`${server.url}assets/app.js`)
      assert.include(script.headers.get("content-type") ?? "", "javascript")
      assert.include(script.body, "EventSource")
      // one live client allowed: the second is refused
      const controller = new AbortController()
      const first = yield* Effect.promise(() => fetch(`${server.url}events`, { signal: controller.signal }))
      assert.strictEqual(first.status, 200)
      assert.strictEqual((yield* fetchText(`${server.url}events`)).status, 503)
      controller.abort()
    }).pipe(Effect.scoped)
  )

  it.live("a real run that the client retried and that paused for approval: marked on the list and the run", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const result = yield* approverRun(dir)
      assert.strictEqual(result._tag, "Paused")
      const server = yield* TraceServer.make({ dir })
      const list = yield* fetchText(server.url)
      assert.include(list.body, "⏸</span> ApprovalRequired")
      const runs = yield* TraceStore.read(dir)
      const page = yield* fetchText(`${server.url}run/${runs.runs[0]!.spanId}`)
      assert.include(page.body, "Waiting for approval for")
      assert.include(page.body, "↻ 1 retry")
      assert.include(page.body, "volley.retry.error")
    }).pipe(Effect.scoped)
  )

  it.live("a paused run and its resume are one run: the approval wait between the segments, both segments' steps", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const result = yield* approverResumedRun(dir, 300)
      assert.strictEqual(result._tag, "Completed")
      const runs = yield* TraceStore.read(dir)
      assert.strictEqual(runs.runs.length, 1, "the resume is joined to the run it resumes")
      const run = runs.runs[0]!
      const segments = TraceStore.segmentsOf(run)
      assert.strictEqual(segments.length, 2)
      const summary = TraceStore.summarise(run, Date.now())
      assert.strictEqual(summary.stopReason, "Completed")
      assert.strictEqual(summary.inputTokens, 65, "the last segment's totals (the whole run)")
      assert.isAtLeast(summary.durationMs ?? 0, 300, "from the first start to the last end")
      const server = yield* TraceServer.make({ dir })
      const list = yield* fetchText(server.url)
      assert.include(list.body, "1 of 1 runs")
      assert.notInclude(list.body, "ApprovalRequired")
      const page = yield* fetchText(`${server.url}run/${run.spanId}`)
      const wait = page.body.match(/Waited for approval for ([\d.]+ (?:ms|s))/)
      assert.isNotNull(wait, "the wait between the segments is shown")
      assert.isAtLeast(Number.parseFloat(wait![1]!) * (wait![1]!.endsWith(" s") ? 1000 : 1), 250)
      assert.notInclude(page.body, "Waiting for approval for", "no longer waiting")
      assert.strictEqual(
        page.body.match(/>Tool delete_file</g)?.length,
        1,
        "the approved call ran once, after the wait"
      )
      assert.isBelow(page.body.indexOf("Waited for approval"), page.body.indexOf(">Tool delete_file<"))
      const resumed = yield* fetchText(`${server.url}run/${segments[1]!.spanId}`)
      assert.include(resumed.body, "Waited for approval for", "a resumed segment's link shows the whole run")
    }).pipe(Effect.scoped)
  )

  it("build joins a resume to the latest earlier segment with its run id, and only that", () => {
    const now = 1_000_000
    const record = (spanId: string, time: number, attributes: Record<string, string>, stop: string) => [
      TraceRecord.decodeLine(start(spanId, "invoke_agent a", time, attributes))!,
      TraceRecord.decodeLine(end(spanId, time + 10, { "volley.agent.stop_reason": stop }))!
    ]
    const runs = TraceStore.build([
      ...record("p1", now, { "volley.agent.run_id": "r1" }, "ApprovalRequired"),
      ...record(
        "p2",
        now + 100,
        { "volley.agent.run_id": "r1", "volley.agent.resumed_from": "r1" },
        "ApprovalRequired"
      ),
      ...record("p3", now + 200, { "volley.agent.run_id": "r1", "volley.agent.resumed_from": "r1" }, "Completed"),
      ...record("o1", now + 50, { "volley.agent.run_id": "r2" }, "Completed"),
      ...record("x1", now + 60, { "volley.agent.run_id": "r3", "volley.agent.resumed_from": "r3" }, "Completed")
    ])
    assert.deepStrictEqual(
      runs.runs.map((run) => run.spanId),
      ["x1", "o1", "p1"],
      "a resume of an unknown run stays a run"
    )
    const p1 = runs.bySpanId.get("p1")!
    assert.deepStrictEqual(
      TraceStore.segmentsOf(p1).map((step) => step.spanId),
      ["p1", "p2", "p3"]
    )
    assert.strictEqual(TraceStore.headOf(runs.bySpanId.get("p3")!), p1)
    assert.strictEqual(TraceStore.summarise(p1, now).stopReason, "Completed")
    const page = Html.runContent(p1, now + 1000)
    assert.strictEqual(page.match(/Waited for approval for 90 ms/g)?.length, 2, "one wait row per resume")
    // an interrupted segment resumed from its saved state: a gap that is not an approval wait
    const interrupted = TraceStore.build([
      ...record("i1", now, { "volley.agent.run_id": "r9" }, "Interrupted"),
      ...record("i2", now + 500, { "volley.agent.run_id": "r9", "volley.agent.resumed_from": "r9" }, "Completed")
    ])
    assert.strictEqual(interrupted.runs.length, 1)
    const gap = Html.runContent(interrupted.runs[0]!, now + 1000)
    assert.include(gap, "Stopped (Interrupted) for 490 ms")
    assert.notInclude(gap, "Waited for approval")
  })

  it("a durable run cut off by a crash: the resumed segment joins it and its replayed steps are marked", () => {
    const now = Date.now()
    const records = [
      // the first process: a model call stored, then killed while its tool ran (no end lines)
      {
        v: 1,
        type: "start",
        traceId: "t1",
        spanId: "c1",
        name: "invoke_agent weather",
        time: now,
        attributes: { "volley.agent.run_id": "d1", "gen_ai.agent.name": "weather" }
      },
      {
        v: 1,
        type: "start",
        traceId: "t1",
        spanId: "c2",
        parentId: "c1",
        name: "chat m",
        time: now + 1,
        attributes: {}
      },
      { v: 1, type: "end", traceId: "t1", spanId: "c2", time: now + 50, outcome: "ok", attributes: {} },
      {
        v: 1,
        type: "start",
        traceId: "t1",
        spanId: "c3",
        parentId: "c1",
        name: "execute_tool get_weather",
        time: now + 51,
        attributes: { "gen_ai.tool.name": "get_weather" }
      },
      // the rerun: the model step and the tool come back from storage, the next model call runs
      {
        v: 1,
        type: "start",
        traceId: "t2",
        spanId: "r1",
        name: "invoke_agent weather",
        time: now + 5000,
        attributes: { "volley.agent.run_id": "d1", "gen_ai.agent.name": "weather" }
      },
      {
        v: 1,
        type: "start",
        traceId: "t2",
        spanId: "r2",
        parentId: "r1",
        name: "chat m",
        time: now + 5001,
        attributes: { "volley.durable.step": "model/1", "volley.durable.replayed": true }
      },
      { v: 1, type: "end", traceId: "t2", spanId: "r2", time: now + 5001, outcome: "ok", attributes: {} },
      {
        v: 1,
        type: "start",
        traceId: "t2",
        spanId: "r3",
        parentId: "r1",
        name: "execute_tool get_weather",
        time: now + 5002,
        attributes: { "gen_ai.tool.name": "get_weather", "volley.durable.replayed": true }
      },
      { v: 1, type: "end", traceId: "t2", spanId: "r3", time: now + 5002, outcome: "ok", attributes: {} },
      {
        v: 1,
        type: "start",
        traceId: "t2",
        spanId: "r4",
        parentId: "r1",
        name: "chat m",
        time: now + 5003,
        attributes: {}
      },
      { v: 1, type: "end", traceId: "t2", spanId: "r4", time: now + 5100, outcome: "ok", attributes: {} },
      {
        v: 1,
        type: "end",
        traceId: "t2",
        spanId: "r1",
        time: now + 5101,
        outcome: "ok",
        attributes: { "volley.agent.resumed_from": "d1", "volley.agent.stop_reason": "Completed" }
      }
    ] as unknown as ReadonlyArray<TraceRecord.TraceRecord>
    const runs = TraceStore.build(records)
    assert.deepStrictEqual(
      runs.runs.map((run) => run.spanId),
      ["c1"],
      "the resumed segment is part of the run the crash cut off"
    )
    const page = Html.runContent(runs.runs[0]!, now + 6000)
    assert.strictEqual(
      page.match(/↺ replayed from storage/g)?.length,
      2,
      "the stored model call and tool, not the new call"
    )
    assert.include(page, "The process stopped mid-run; resumed at")
    assert.include(page, "with 2 steps replayed from storage")
    assert.strictEqual(TraceStore.summarise(runs.runs[0]!, now + 6000).stopReason, "Completed")
  })

  it.live("a sub-agent nests under the execute_tool span that started it", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* plannerRun(dir)
      const runs = yield* TraceStore.read(dir)
      const sub = [...runs.bySpanId.values()].find((step) => step.name === "invoke_agent researcher")
      assert.isDefined(sub)
      const tool = runs.bySpanId.get(sub!.parentId ?? "")
      assert.strictEqual(tool?.name, "execute_tool researcher")
      assert.strictEqual(TraceStore.stringAttribute(tool!, "gen_ai.tool.name"), "researcher")
      const server = yield* TraceServer.make({ dir })
      const page = yield* fetchText(`${server.url}run/${runs.runs[0]!.spanId}`)
      const toolAt = page.body.indexOf("Tool researcher")
      const subAt = page.body.indexOf("Sub-agent researcher")
      assert.isTrue(toolAt >= 0 && toolAt < subAt, "the sub-agent's row follows its tool call's")
      const depthOf = (at: number) =>
        Number(
          page.body
            .slice(0, at)
            .match(/--depth:(\d+)/g)!
            .at(-1)!
            .slice(8)
        )
      assert.strictEqual(depthOf(subAt), depthOf(toolAt) + 1, "one level deeper than the call")
      assert.notInclude(page.body, "↳ tool call", "the call is its own row now")
    }).pipe(Effect.scoped)
  )

  it.live("reads at most the newest maxFiles day files", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const day = 24 * 3600 * 1000
      const base = Date.UTC(2026, 0, 1)
      for (let i = 0; i < TraceStore.maxFiles + 2; i++) {
        const time = base + i * day
        fs.writeFileSync(path.join(dir, TraceRecord.fileNameFor(time)), `${start(`s${i}`, "invoke_agent a", time)}\n`)
      }
      fs.writeFileSync(path.join(dir, "notes.txt"), "ignored")
      const runs = yield* TraceStore.read(dir)
      assert.strictEqual(runs.runs.length, TraceStore.maxFiles)
      assert.strictEqual(runs.skipped, 2)
      assert.isUndefined(runs.bySpanId.get("s0"), "the oldest files are left out")
      assert.isDefined(runs.bySpanId.get(`s${TraceStore.maxFiles + 1}`))
      const missing = yield* TraceStore.read(path.join(dir, "does-not-exist"))
      assert.strictEqual(missing.runs.length, 0)
    })
  )

  it.live("volley-traces prints its URL as the first stdout line and serves the folder", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const now = Date.now()
      fs.writeFileSync(
        path.join(dir, TraceRecord.fileNameFor(now)),
        `${start("b1", "invoke_agent binny", now, { "gen_ai.agent.name": "binny" })}\n`
      )
      const { child, url: firstLine } = yield* startBin(["--port", "0", "--dir", dir])
      assert.match(firstLine, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      const page = yield* fetchText(firstLine)
      assert.strictEqual(page.status, 200)
      assert.include(page.body, "binny")
      assert.include(page.body, "Running")
      // Ctrl-C stops it: the server closes and the process exits
      const closed = new Promise<number | null>((resolve) => child.on("close", resolve))
      child.kill("SIGINT")
      const stopped = yield* Effect.promise(() => closed)
      assert.isNotNull(stopped)
      const bad = spawn(process.execPath, [bin, "--port", "nope"], { stdio: ["ignore", "ignore", "pipe"] })
      const code = yield* Effect.promise(() => new Promise<number | null>((resolve) => bad.on("close", resolve)))
      assert.strictEqual(code, 2)
    }).pipe(Effect.scoped)
  )
})
