/**
 * The soak's fake server, in a worker thread: its recorded requests and connection log live in the
 * worker's own heap, so they neither count in the client's heap figures nor share its event loop
 * (cancellation latency is then the client's, not the test server's). `workerData.scenario` picks
 * the script: `"soak"` (the F02 mixed-fault model), `"cancellation"` (one delta every 100 ms) or
 * `"hostile"` (hostileServer.ts: a `retry:` flood, oversize JSON, deep nesting). Posts `{ baseUrl }`
 * once listening, then answers every message with `{ live, requests, connections }` (hostile: its
 * `HostileStats`).
 */
import { parentPort, workerData } from "node:worker_threads"
import * as Effect from "effect/Effect"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import { soakModel } from "../../packages/agent/test/support/soak.ts"
import { startHostileServer } from "./hostileServer.ts"

const scenario = (workerData as { readonly scenario: "soak" | "cancellation" | "hostile" }).scenario
const words = Array.from({ length: 600 }, (_, i) => `w${i}`).join(" ")
const port = parentPort!

const scripted = () => {
  const fallback = scenario === "soak" ? soakModel() : M.withFault(M.message(words), { chunkDelay: "100 millis" })
  Effect.runFork(
    Effect.gen(function* () {
      const server = yield* ResponsesServer.make({ fallback })
      port.on("message", () => {
        Effect.runPromise(
          Effect.all({ live: server.liveConnections, requests: server.requests, connections: server.connectionLog })
        ).then(({ live, requests, connections }) =>
          port.postMessage({
            live,
            requests: requests.map((request) => ({
              input: typeof request.body?.input === "string" ? request.body.input : "",
              connectionId: request.connectionId
            })),
            connections: connections.map((entry) => ({ id: entry.id, closedAt: entry.closedAt }))
          })
        )
      })
      port.postMessage({ baseUrl: server.baseUrl })
      yield* Effect.never
    }).pipe(Effect.scoped)
  )
}

if (scenario === "hostile")
  startHostileServer().then(({ baseUrl, stats }) => {
    port.on("message", () => port.postMessage(stats()))
    port.postMessage({ baseUrl })
  })
else scripted()
