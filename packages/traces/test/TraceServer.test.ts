import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TraceRecord from "../src/TraceRecord.ts"
import * as TraceServer from "../src/TraceServer.ts"
import * as TraceStore from "../src/TraceStore.ts"
import { approverRun } from "./support/runs.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "volley-traces-server-"))

const start = (spanId: string, name: string, time: number, attributes: Record<string, string> = {}) =>
  JSON.stringify({ v: 1, type: "start", traceId: "t", spanId, name, time, attributes })
const end = (spanId: string, time: number, attributes: Record<string, string | number> = {}) =>
  JSON.stringify({ v: 1, type: "end", traceId: "t", spanId, time, outcome: "ok", attributes })

const fetchText = (url: string, init?: RequestInit) =>
  Effect.promise(() =>
    fetch(url, init).then(async (response) => ({
      status: response.status,
      headers: response.headers,
      body: await response.text()
    }))
  )

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
      const bin = fileURLToPath(new URL("../src/bin/traces.ts", import.meta.url))
      const child = spawn(process.execPath, [bin, "--port", "0", "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill()))
      const firstLine = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            let out = ""
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk.toString("utf8")
              if (out.includes("\n")) resolve(out.split("\n")[0]!)
            })
          })
      )
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
