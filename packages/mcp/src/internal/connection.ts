/**
 * One MCP server connection that reconnects: `client` gives the live client, connecting first when
 * there is none (the first call, or the call after the server died); `reset` drops a client that failed
 * so the next call starts a fresh one. Each connection lives in its own child of the layer's scope,
 * so closing the layer closes every connection and ends every server process it started.
 * Gotcha: a connect runs in its own fiber owned by the layer's scope, bounded by the connect timeout,
 * not by the call that started it: a call that times out while the server starts does not cancel the
 * start, and the calls after it share the same connect instead of starting another one each.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { McpClient, McpClientError } from "effect/ai"

/** A connection that reconnects on demand. */
export interface Reconnecting {
  /** The live client, connecting first when there is none (waiting for a connect under way). */
  readonly client: Effect.Effect<McpClient.McpClient, McpClientError.McpClientError>
  /** Drop this client (when it is still the live one) and end its process or session in the background. */
  readonly reset: (client: McpClient.McpClient) => Effect.Effect<void>
  /** How many connections were opened so far. */
  readonly connects: () => number
}

/** A reconnecting connection whose connections are scoped to the current scope. */
export const make = (
  connect: Effect.Effect<McpClient.McpClient, McpClientError.McpClientError, Scope.Scope>
): Effect.Effect<Reconnecting, never, Scope.Scope> =>
  Effect.gen(function* () {
    const parent = yield* Effect.scope
    let current: { readonly client: McpClient.McpClient; readonly scope: Scope.Closeable } | undefined
    let pending: Deferred.Deferred<McpClient.McpClient, McpClientError.McpClientError> | undefined
    let count = 0
    const open = (done: Deferred.Deferred<McpClient.McpClient, McpClientError.McpClientError>) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(parent)
        const exit = yield* Effect.exit(Scope.provide(connect, scope))
        pending = undefined
        if (Exit.isFailure(exit)) {
          yield* Scope.close(scope, exit)
        } else {
          count++
          current = { client: exit.value, scope }
        }
        yield* Deferred.done(done, exit)
      })
    const client = Effect.suspend(() => {
      if (current !== undefined) return Effect.succeed(current.client)
      if (pending === undefined) {
        const done = Deferred.makeUnsafe<McpClient.McpClient, McpClientError.McpClientError>()
        pending = done
        return Effect.andThen(Effect.forkIn(Effect.uninterruptible(open(done)), parent), Deferred.await(done))
      }
      return Deferred.await(pending)
    })
    const reset = (failed: McpClient.McpClient): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (current === undefined || current.client !== failed) return Effect.void
        const scope = current.scope
        current = undefined
        // ending a server can take seconds (stdin closed, then SIGTERM, then SIGKILL): the failed call
        // returns at once while it ends in the background, still owned by the layer's scope
        return Effect.asVoid(Effect.forkIn(Effect.uninterruptible(Scope.close(scope, Exit.void)), parent))
      })
    return { client, reset, connects: () => count } satisfies Reconnecting
  })
