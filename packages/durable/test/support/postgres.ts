/**
 * A throw-away embedded Postgres for one test: a fresh data directory under the OS temp dir
 * (readable by the `postgres` user when running as root), deleted with the scope.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { DurablePostgres } from "@volley/durable"

/** Starts Postgres for the scope; the data directory is removed afterwards. */
export const tempPostgres = Effect.gen(function* () {
  const parent = mkdtempSync(join(tmpdir(), "volley-pg-"))
  chmodSync(parent, 0o755)
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(parent, { recursive: true, force: true })))
  return yield* DurablePostgres.startEmbedded({ dataDir: join(parent, "postgres"), ephemeral: true })
})
