import { spawn } from "node:child_process"
import { type Dirent, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import * as TraceRecord from "../src/TraceRecord.ts"
import * as TraceServer from "../src/TraceServer.ts"
import * as TraceSink from "../src/TraceSink.ts"
import * as TraceStore from "../src/TraceStore.ts"
import { fetchText, startBin } from "./support/bin.ts"
import * as Postgres from "./support/postgres.ts"
import { canary, dropArtefact, plannerRun, sinkOptions } from "./support/runs.ts"

const argvChild = fileURLToPath(new URL("./support/argvChild.ts", import.meta.url))

const linesInTable = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<{ readonly day: string; readonly line: string }>`SELECT day::text AS day, line FROM ${sql(
    TraceSink.table
  )} ORDER BY id`
})

/** Runs `support/argvChild.ts --trace <name>` in a fresh folder with `env`: its exit, stderr and files. */
const traceChild = (name: string, env: Record<string, string>) =>
  Effect.promise(
    () =>
      new Promise<{ code: number | null; stderr: string; files: Array<string>; text: string }>((resolve) => {
        const cwd = mkdtempSync(join(tmpdir(), "volley-trace-argv-"))
        const base = { ...process.env }
        delete base.DATABASE_URL
        delete base.VOLLEY_TRACE_DIR
        const child = spawn(process.execPath, [argvChild, "--trace", name], {
          cwd,
          env: { ...base, ...env },
          stdio: ["ignore", "ignore", "pipe"]
        })
        let stderr = ""
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8")
        })
        child.once("close", (code) => {
          const files = (readdirSync(cwd, { recursive: true, withFileTypes: true }) as Array<Dirent>)
            .filter((entry) => entry.isFile())
            .map((entry) => relative(cwd, join(entry.parentPath, entry.name)))
          const text = files.map((file) => readFileSync(join(cwd, file), "utf8")).join("")
          rmSync(cwd, { recursive: true, force: true })
          resolve({ code, stderr, files, text })
        })
      })
  )

const start = (spanId: string, name: string, time: number, attributes: Record<string, string> = {}) =>
  JSON.stringify({ v: 1, type: "start", traceId: "t", spanId, name, time, attributes })

layer(Postgres.layer, { timeout: Duration.seconds(60), excludeTestServices: true })(
  "TraceSink.layerSql and the SQL source",
  (it) => {
    it.effect(
      "a real run goes to volley_trace_lines (no canary), and the server reading the table lists it and renders it",
      () =>
        Effect.gen(function* () {
          yield* plannerRun(TraceSink.layerSql(sinkOptions))
          const rows = yield* linesInTable
          assert.isAbove(rows.length, 10)
          const today = new Date().toISOString().slice(0, 10)
          for (const row of rows) {
            assert.notInclude(row.line, canary)
            assert.isDefined(TraceRecord.decodeLine(row.line), row.line.slice(0, 200))
            assert.strictEqual(row.day, TraceRecord.fileNameFor(TraceRecord.decodeLine(row.line)!.time).slice(0, 10))
          }
          assert.isTrue(rows.some((row) => row.day === today))
          dropArtefact("sql-lines", rows.map((row) => row.line).join("\n"))

          const server = yield* TraceServer.make({ source: yield* TraceStore.makeSqlSource() })
          assert.strictEqual(server.dir, `postgres table ${TraceSink.table}`)
          const list = yield* fetchText(server.url)
          assert.strictEqual(list.status, 200)
          assert.include(list.body, "planner")
          assert.include(list.body, "big-model")
          assert.notInclude(list.body, canary)
          const id = /href="\/run\/([0-9a-f]+)"/.exec(list.body)?.[1]
          assert.isDefined(id)
          const run = yield* fetchText(`${server.url}run/${id}`)
          assert.strictEqual(run.status, 200)
          assert.include(run.body, 'class="waterfall"')
          assert.include(run.body, "get_weather")
          assert.include(run.body, "researcher")
          assert.notInclude(run.body, canary)
          dropArtefact("sql-pages", `${list.body}\n${run.body}`)
        }).pipe(Effect.scoped),
      30_000
    )

    it.effect("the SQL reader is bounded: oversized lines are skipped, only the newest maxRows rows are kept", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* TraceSink.migrate
        yield* sql`DELETE FROM ${sql(TraceSink.table)}`
        const now = Date.now()
        const day = new Date(now).toISOString().slice(0, 10)
        const rows = [
          start("old1", "invoke_agent oldest", now, { "gen_ai.agent.name": "oldest" }),
          start("mid1", "invoke_agent middle", now + 1, { "gen_ai.agent.name": "middle" }),
          `{"v":1,"type":"start","pad":"${"x".repeat(TraceRecord.maxLineBytes)}"}`,
          "{not json",
          start("new1", "invoke_agent newest", now + 2, { "gen_ai.agent.name": "newest" })
        ].map((line) => ({ day, line }))
        for (const row of rows) yield* sql`INSERT INTO ${sql(TraceSink.table)} ${sql.insert(row)}`
        const small = yield* TraceStore.makeSqlSource({ maxRows: 4 })
        const first = yield* small.read
        assert.deepStrictEqual(
          first.runs.map((run) => run.spanId),
          ["new1", "mid1"]
        )
        assert.strictEqual(first.skipped, 2)
        // later reads fetch only newer rows
        const before = yield* small.fingerprint
        yield* sql`INSERT INTO ${sql(TraceSink.table)} ${sql.insert([{ day, line: start("n2", "invoke_agent later", now + 3) }])}`
        assert.notStrictEqual(yield* small.fingerprint, before)
        const second = yield* small.read
        assert.deepStrictEqual(
          second.runs.map((run) => run.spanId),
          ["n2", "new1", "mid1"]
        )
      })
    )

    it.effect(
      "--trace follows DATABASE_URL into the table unless VOLLEY_TRACE_DIR is set; a database it cannot use falls back to the folder with one stderr line",
      () =>
        Effect.gen(function* () {
          const server = yield* Postgres.Server
          const url = Redacted.value(server.url)
          const rowsNamed = (name: string) =>
            Effect.map(linesInTable, (rows) => rows.filter((row) => row.line.includes(`invoke_agent ${name}`)).length)
          // DATABASE_URL, no VOLLEY_TRACE_DIR: the table (where volley-traces reads by default), no folder
          const toTable = yield* traceChild("to-table", { DATABASE_URL: url })
          assert.strictEqual(toTable.code, 0)
          assert.strictEqual(toTable.stderr, "")
          assert.strictEqual(yield* rowsNamed("to-table"), 1, "its start line (end lines carry only the span id)")
          assert.deepStrictEqual(toTable.files, [])
          // VOLLEY_TRACE_DIR wins: the folder, nothing in the table
          const toDir = yield* traceChild("to-dir", { DATABASE_URL: url, VOLLEY_TRACE_DIR: "custom" })
          assert.strictEqual(toDir.code, 0)
          assert.strictEqual(yield* rowsNamed("to-dir"), 0)
          assert.isTrue(toDir.files.length === 1 && toDir.files[0]!.startsWith("custom/"), toDir.files.join())
          assert.include(toDir.text, "invoke_agent to-dir")
          // nothing listens on port 1: the default folder, and one line without the password
          const fallback = yield* traceChild("fallback", { DATABASE_URL: "postgres://volley:hunter2pw@127.0.0.1:1/x" })
          assert.strictEqual(fallback.code, 0)
          assert.strictEqual(yield* rowsNamed("fallback"), 0)
          assert.isTrue(fallback.files.length === 1 && fallback.files[0]!.startsWith(".volley/traces/"))
          assert.include(fallback.text, "invoke_agent fallback")
          const lines = fallback.stderr.trim().split("\n")
          assert.strictEqual(lines.length, 1, fallback.stderr)
          assert.match(
            lines[0] ?? "",
            /^volley: traces go to \.volley\/traces: the database in DATABASE_URL could not be used \(/
          )
          assert.notInclude(fallback.stderr, "hunter2pw")
        }),
      60_000
    )

    it.effect("volley-traces --database-url serves the table", () =>
      Effect.gen(function* () {
        const server = yield* Postgres.Server
        const sql = yield* SqlClient.SqlClient
        yield* TraceSink.migrate
        const line = start("bin1", "invoke_agent binny", Date.now(), { "gen_ai.agent.name": "binny" })
        yield* sql`INSERT INTO ${sql(TraceSink.table)} ${sql.insert({ day: new Date().toISOString().slice(0, 10), line })}`
        const { url: firstLine } = yield* startBin(["--port", "0", "--database-url", Redacted.value(server.url)])
        assert.match(firstLine, /^http:\/\/127\.0\.0\.1:\d+\/$/)
        const page = yield* fetchText(firstLine)
        assert.strictEqual(page.status, 200)
        assert.include(page.body, "binny")
      }).pipe(Effect.scoped)
    )
  }
)
