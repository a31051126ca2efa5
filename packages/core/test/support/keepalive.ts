/**
 * F05 support: a keepalive SSE server on 127.0.0.1 running in a worker thread (keepaliveWorker.mjs),
 * so the client's heap figure does not include the server. Every answer is a stream held open by
 * `: keep-alive` comments every `everyMs` for `holdMs`, then completed. Shared by the fast-tier test
 * (test/Keepalive.test.ts) and the full soak harness (bench/soak/).
 */
import { Worker } from "node:worker_threads"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** The running server. */
export interface KeepaliveServer {
  readonly baseUrl: string
  /** Connections open now, and streams written to the end. */
  readonly stats: Effect.Effect<{ readonly live: number; readonly completed: number }>
}

/** Starts the worker for the scope's lifetime. */
export const keepaliveServer = (options: {
  readonly everyMs: number
  readonly holdMs: number
}): Effect.Effect<KeepaliveServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ worker: Worker; port: number }>((resolve) => {
          const worker = new Worker(new URL("./keepaliveWorker.mjs", import.meta.url), { workerData: options })
          worker.once("message", (message: { readonly port: number }) => resolve({ worker, port: message.port }))
        })
    ),
    ({ worker }) => Effect.promise(() => worker.terminate())
  ).pipe(
    Effect.map(({ worker, port }) => ({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      stats: Effect.promise(
        () =>
          new Promise<{ readonly live: number; readonly completed: number }>((resolve) => {
            worker.once("message", resolve)
            worker.postMessage("stats")
          })
      )
    }))
  )
