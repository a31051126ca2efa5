/**
 * A throw-away embedded Postgres for one test file (as `@volley/durable`'s tests start theirs): a
 * fresh data directory under a 0755 temp parent (readable by the `postgres` user when running as
 * root), deleted with the scope. `layer` provides a `SqlClient` on it.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DurablePostgres } from "@volley/durable"

/** The running embedded server (its URL, for the `volley-traces` command). */
export class Server extends Context.Service<Server, DurablePostgres.EmbeddedServer>()("test/Server") {}

/** Starts Postgres for the scope; the data directory is removed afterwards. */
export const tempPostgres = Effect.gen(function* () {
  const parent = mkdtempSync(join(tmpdir(), "volley-traces-pg-"))
  chmodSync(parent, 0o755)
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(parent, { recursive: true, force: true })))
  return yield* DurablePostgres.startEmbedded({ dataDir: join(parent, "postgres"), ephemeral: true })
})

/** The embedded server and a `SqlClient` on it, for one test file. */
export const layer = Layer.unwrap(
  Effect.map(tempPostgres, (server) => Layer.merge(DurablePostgres.layer(server.url), Layer.succeed(Server, server)))
)
