import { spawn } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as DurablePostgres from "../src/DurablePostgres.ts"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"

const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("DurablePostgres", () => {
  it.live(
    "starts a real Postgres, keeps its data across restarts, stops it with the scope",
    () =>
      Effect.gen(function* () {
        const parent = mkdtempSync(join(tmpdir(), "volley-pg-"))
        chmodSync(parent, 0o755) // under root, Postgres runs as the \`postgres\` user and must reach the directory
        const dataDir = join(parent, "postgres")
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(join(dataDir, ".."), { recursive: true, force: true }))
        )
        const first = yield* Effect.scoped(
          Effect.gen(function* () {
            const server = yield* DurablePostgres.startEmbedded({ dataDir })
            assert.isTrue(alive(server.pid))
            yield* Effect.gen(function* () {
              const sql = yield* SqlClient.SqlClient
              yield* sql`CREATE TABLE kept (n int)`
              yield* sql`INSERT INTO kept VALUES (42)`
            }).pipe(Effect.provide(DurablePostgres.layer(server.url)))
            return server
          })
        )
        assert.isFalse(alive(first.pid), "the postmaster is stopped when the scope closes")
        // second start: same data directory, another port, reached through DATABASE_URL
        const rows = yield* Effect.scoped(
          Effect.gen(function* () {
            const server = yield* DurablePostgres.startEmbedded({ dataDir })
            const provider = ConfigProvider.fromUnknown({ DATABASE_URL: Redacted.value(server.url) })
            return yield* Effect.gen(function* () {
              const sql = yield* SqlClient.SqlClient
              return yield* sql<{ readonly n: number }>`SELECT n FROM kept`
            }).pipe(Effect.provide(DurablePostgres.layerConfig().pipe(Layer.provide(ConfigProvider.layer(provider)))))
          })
        )
        assert.deepStrictEqual(
          rows.map((row) => row.n),
          [42]
        )
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "adopts the postmaster a killed process left running on its data directory, and stops it with the scope",
    () =>
      Effect.gen(function* () {
        const parent = mkdtempSync(join(tmpdir(), "volley-pg-"))
        chmodSync(parent, 0o755)
        const dataDir = join(parent, "postgres")
        const child = spawn(process.execPath, [join(import.meta.dirname, "support", "pgChild.ts")], {
          env: { ...process.env, DATA_DIR: dataDir },
          stdio: ["ignore", "pipe", "inherit"]
        })
        const [port, pid] = yield* Effect.promise(
          () =>
            new Promise<[number, number]>((resolve) => {
              let text = ""
              child.stdout.on("data", (chunk: Buffer) => {
                text += chunk.toString("utf8")
                const match = /ready (\d+) (\d+)/.exec(text)
                if (match !== null) resolve([Number(match[1]), Number(match[2])])
              })
            })
        )
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (alive(pid)) process.kill(pid, "SIGKILL")
            rmSync(parent, { recursive: true, force: true })
          })
        )
        child.kill("SIGKILL")
        yield* Effect.promise(() => new Promise((resolve) => child.once("exit", resolve)))
        assert.isTrue(alive(pid), "kill -9 of the owner leaves the postmaster running")
        const adopted = yield* Effect.scoped(
          Effect.gen(function* () {
            const server = yield* DurablePostgres.startEmbedded({ dataDir })
            assert.strictEqual(server.port, port)
            assert.strictEqual(server.pid, pid)
            const rows = yield* Effect.gen(function* () {
              const sql = yield* SqlClient.SqlClient
              return yield* sql<{ readonly one: number }>`SELECT 1 AS one`
            }).pipe(Effect.provide(DurablePostgres.layer(server.url)))
            return rows[0]?.one
          })
        )
        assert.strictEqual(adopted, 1)
        assert.isFalse(alive(pid), "the adopted postmaster is stopped with the scope")
      }).pipe(Effect.scoped),
    120_000
  )

  it.live("layerConfig fails with a ConfigError when DATABASE_URL is missing", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.provide(
          Effect.service(SqlClient.SqlClient),
          DurablePostgres.layerConfig().pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))
        )
      )
      assert.isTrue(exit._tag === "Failure")
      assert.include(String(exit), "DATABASE_URL")
    })
  )

  it.live.skipIf(process.getuid?.() !== 0)(
    "under root, a data directory the postgres user cannot reach fails at once with Permissions, naming it",
    () =>
      Effect.gen(function* () {
        const parent = mkdtempSync(join(tmpdir(), "volley-pg-private-")) // mode 0700: no o+x
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(parent, { recursive: true, force: true })))
        const started = Date.now()
        const exit = yield* Effect.exit(
          Effect.scoped(DurablePostgres.startEmbedded({ dataDir: join(parent, "data", "postgres") }))
        )
        assert.isBelow(Date.now() - started, 5_000)
        assert.isTrue(exit._tag === "Failure")
        const error = exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : undefined
        assert.strictEqual(error?._tag, "Some")
        const value = (error as { readonly value: DurablePostgres.DurablePostgresError }).value
        assert.strictEqual(value.reason, "Permissions")
        assert.include(value.message, parent)
        assert.include(value.message, "chmod o+x")
      }),
    20_000
  )
})
