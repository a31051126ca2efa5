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

const linesInTable = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<{ readonly day: string; readonly line: string }>`SELECT day::text AS day, line FROM ${sql(
    TraceSink.table
  )} ORDER BY id`
})

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
