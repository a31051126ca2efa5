/**
 * `node src/durable-load.ts [--runs N] [--turns T]`: N concurrent durable runs (default 1,000) of the
 * bench agent against the bench server (`src/server.ts`, its own process) on one embedded Postgres
 * (`@volley/durable`, a throw-away data directory). It first makes the same N runs without the
 * durable layer, then durably, and prints one JSON line: throughput, p50/p99 of the per-step
 * overhead (durable run time minus the median plain run time, over the run's steps), and the
 * Postgres rows and bytes the durable runs left per step. Gotcha: every run is in flight at once,
 * so run times include queueing; the overhead compares runs under the same load.
 */
import { spawn } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { ResponsesClient } from "@volley/core"
import { DurableAgent, DurableEngine, DurablePostgres } from "@volley/durable"
import { Effect, Layer, Redacted } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { prompt, timeResult, weatherResult } from "./scenario.ts"
import { agent, Tools } from "./volleyAgent.ts"

const args = process.argv.slice(2)
const option = (name: string) => {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}
const runs = Number(option("--runs") ?? 1000)
const serialRuns = Number(option("--serial-runs") ?? 50)
const turns = Number(option("--turns") ?? 2)

const server = spawn(process.execPath, ["src/server.ts"], { stdio: ["ignore", "pipe", "inherit"] })
const port = await new Promise<number>((resolve) =>
  createInterface({ input: server.stdout! }).once("line", (line) =>
    resolve((JSON.parse(line) as { port: number }).port)
  )
)
const origin = `http://127.0.0.1:${port}`
await fetch(`${origin}/__config`, { method: "POST", body: JSON.stringify({ latencyMs: 0, paceMs: 0 }) })

const Base = Layer.mergeAll(
  ResponsesClient.layerUndici({ baseUrl: `${origin}/v1`, apiKey: Redacted.make("bench") }),
  Tools.toLayer({
    get_weather: (input) => Effect.sync(() => weatherResult(input)),
    get_time: (input) => Effect.sync(() => timeResult(input))
  })
)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** Runs `one(i)` for every i at once; returns the wall time and each run's time. */
const batch = <E, R>(
  one: (i: number) => Effect.Effect<unknown, E, R>,
  count = runs,
  concurrency: number | "unbounded" = "unbounded"
) =>
  Effect.gen(function* () {
    const started = performance.now()
    const times = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) =>
        Effect.gen(function* () {
          const t0 = performance.now()
          yield* one(i)
          return performance.now() - t0
        }),
      { concurrency }
    )
    return { wallMs: performance.now() - started, times: [...times].sort((a, b) => a - b) }
  })

const dir = mkdtempSync(join(tmpdir(), "volley-durable-load-"))
chmodSync(dir, 0o755)

const program = Effect.gen(function* () {
  const plain = yield* batch(() => agent.run(prompt(turns))).pipe(Effect.provide(Base))
  // one at a time: the per-step cost of storing, without queueing
  const plainSerial = yield* batch(() => agent.run(prompt(turns)), serialRuns, 1).pipe(Effect.provide(Base))
  const postgres = yield* DurablePostgres.startEmbedded({ dataDir: join(dir, "postgres"), ephemeral: true })
  let stored = 0
  const Durable = DurableAgent.layer(agent, { onStep: () => Effect.sync(() => void stored++) }).pipe(
    Layer.provideMerge(Layer.mergeAll(Base, DurableEngine.layerPostgres())),
    Layer.provideMerge(DurablePostgres.layer(postgres.url))
  )
  return yield* Effect.gen(function* () {
    const durableSerial = yield* batch(
      (i) => DurableAgent.run(agent, prompt(turns), { runId: `serial-${i}` }),
      serialRuns,
      1
    )
    const serialSteps = stored
    stored = 0
    const durable = yield* batch((i) => DurableAgent.run(agent, prompt(turns), { runId: `load-${i}` }))
    const sql = yield* SqlClient.SqlClient
    const names = yield* sql<{ readonly name: string; readonly bytes: number }>`
      SELECT relname AS name, pg_total_relation_size(relid)::bigint AS bytes FROM pg_stat_user_tables ORDER BY relname`
    const tables = yield* Effect.forEach(names, (table) =>
      Effect.map(sql<{ readonly rows: number }>`SELECT count(*)::int AS rows FROM ${sql(table.name)}`, (counted) => ({
        ...table,
        rows: Number(counted[0]?.rows ?? 0)
      }))
    )
    const dataBytes = yield* sql<{ readonly bytes: number }>`
      SELECT coalesce(sum(pg_column_size(m.*)), 0)::bigint AS bytes FROM cluster_messages m`
    const replyBytes = yield* sql<{ readonly bytes: number }>`
      SELECT coalesce(sum(pg_column_size(r.*)), 0)::bigint AS bytes FROM cluster_replies r`
    const median = percentile(plain.times, 50)
    const steps = stored
    const stepsPerRun = steps / runs
    // the rows hold the serial runs too
    const allSteps = steps + serialSteps
    const overhead = durable.times.map((t) => Math.max(0, t - median) / stepsPerRun).sort((a, b) => a - b)
    const rows = tables.reduce((sum, table) => sum + Number(table.rows), 0)
    return {
      runs,
      stepsPerRun,
      plain: {
        wallMs: Math.round(plain.wallMs),
        runsPerSecond: Math.round((runs / plain.wallMs) * 1000),
        p50Ms: median
      },
      durable: {
        wallMs: Math.round(durable.wallMs),
        runsPerSecond: Math.round((runs / durable.wallMs) * 10000) / 10,
        stepsPerSecond: Math.round((steps / durable.wallMs) * 1000),
        p50Ms: Math.round(percentile(durable.times, 50)),
        p99Ms: Math.round(percentile(durable.times, 99))
      },
      serial: (() => {
        const perRun = serialSteps / serialRuns
        const base = percentile(plainSerial.times, 50)
        const over = durableSerial.times.map((t) => Math.max(0, t - base) / perRun).sort((a, b) => a - b)
        return {
          runs: serialRuns,
          plainP50Ms: Math.round(base * 10) / 10,
          durableP50Ms: Math.round(percentile(durableSerial.times, 50) * 10) / 10,
          overheadPerStepMs: {
            p50: Math.round(percentile(over, 50) * 10) / 10,
            p99: Math.round(percentile(over, 99) * 10) / 10
          }
        }
      })(),
      overheadPerStepMs: {
        p50: Math.round(percentile(overhead, 50) * 10) / 10,
        p99: Math.round(percentile(overhead, 99) * 10) / 10
      },
      postgres: {
        rowsPerStep: Math.round((rows / allSteps) * 100) / 100,
        tableBytesPerStep: Math.round(tables.reduce((sum, table) => sum + Number(table.bytes), 0) / allSteps),
        messageAndReplyBytesPerStep: Math.round(
          (Number(dataBytes[0]?.bytes ?? 0) + Number(replyBytes[0]?.bytes ?? 0)) / allSteps
        ),
        tables: tables.map((table) => ({ name: table.name, rows: Number(table.rows), bytes: Number(table.bytes) }))
      }
    }
  }).pipe(Effect.provide(Durable))
})

const exit = await Effect.runPromiseExit(Effect.scoped(program))
server.kill()
rmSync(dir, { recursive: true, force: true })
if (exit._tag === "Failure") {
  process.stderr.write(`${String(exit.cause)}\n`)
  process.exit(1)
}
process.stdout.write(`${JSON.stringify(exit.value)}\n`)
process.exit(0)
