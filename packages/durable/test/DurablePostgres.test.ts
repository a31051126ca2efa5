import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { DurablePostgres } from "@volley/durable"
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
})
