/**
 * One MCP server connection that reconnects: `client` gives the live client, connecting first when
 * there is none (the first call, or the call after the server died); `reset` drops a client that failed
 * so the next call starts a fresh one. Each connection lives in its own child of the layer's scope,
 * so closing the layer closes every connection and ends every server process it started.
 * Gotcha: connects are serialised; a call waits for a reconnect already under way instead of racing it.
 * A dropped connection is closed in the background, so the failed call does not wait for the process to end.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { McpClient, McpClientError } from "effect/ai"

/** A connection that reconnects on demand. */
export interface Reconnecting {
  /** The live client, connecting first when there is none. */
  readonly client: Effect.Effect<McpClient.McpClient, McpClientError.McpClientError>
  /** Drop this client (when it is still the live one) and end its process or session. */
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
    const lock = yield* Semaphore.make(1)
    const serially = Semaphore.withPermits(lock, 1)
    let current: { readonly client: McpClient.McpClient; readonly scope: Scope.Closeable } | undefined
    let count = 0
    const open = Effect.gen(function* () {
      const scope = yield* Scope.fork(parent)
      const exit = yield* Effect.exit(Scope.provide(connect, scope))
      if (Exit.isFailure(exit)) {
        yield* Scope.close(scope, exit)
        return yield* exit
      }
      count++
      current = { client: exit.value, scope }
      return exit.value
    })
    return {
      client: serially(Effect.suspend(() => (current === undefined ? open : Effect.succeed(current.client)))),
      reset: (client) =>
        serially(
          Effect.suspend(() => {
            if (current === undefined || current.client !== client) return Effect.void
            const scope = current.scope
            current = undefined
            // ending a server can take seconds (stdin closed, then SIGTERM, then SIGKILL): the failed call
            // returns at once while it ends in the background, still owned by the layer's scope
            return Effect.asVoid(Effect.forkIn(Effect.uninterruptible(Scope.close(scope, Exit.void)), parent))
          })
        ),
      connects: () => count
    } satisfies Reconnecting
  })
