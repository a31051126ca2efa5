/**
 * A process that starts the embedded Postgres on `DATA_DIR`, prints `ready <port> <pid>` and waits
 * to be killed: the test kills it with SIGKILL, which leaves the postmaster running (an orphan).
 */
import * as Effect from "effect/Effect"
import * as DurablePostgres from "../../src/DurablePostgres.ts"

Effect.runFork(
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* DurablePostgres.startEmbedded({ dataDir: process.env.DATA_DIR ?? "" })
      process.stdout.write(`ready ${server.port} ${server.pid ?? 0}\n`)
      yield* Effect.never
    })
  )
)
