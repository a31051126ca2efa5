/**
 * F02 soak, fast tier (docs/reliability.md), in real time over real sockets: 500 agent runs, 100 in
 * sequence then 400 at 100-way concurrency, mixing successes, a 429 then a retry, interruptions
 * mid-stream (30 %), tool timeouts and malformed SSE. Afterwards nothing may be left behind: no
 * extra active sockets or timers (`process.getActiveResourcesInfo()`), the server's connections
 * fall to the pool and then to 0 once the client is released, no fiber started by a run is still
 * alive (counted by a test supervisor, `Metric.FiberRuntimeMetrics`), no
 * `MaxListenersExceededWarning`, and a finished run's state is garbage-collected (WeakRef).
 * The full 10 000-run version with the heap figure is `pnpm soak` (bench/soak/).
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import { ResponsesClient } from "@volley/core"
import { ResponsesServer } from "@volley/testing"
import { validatePairing } from "../src/internal/history.ts"
import { kindOf, oneRun, assistant, sleepyCounts, soakModel, soakToolsLayer } from "./support/soak.ts"
import { canaryKey, dropArtefact } from "./support/canary.ts"

// Test code only: forced GC for the WeakRef check (never used in packages/).
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

/** Counts fibers started and ended under it (Effect 4's runtime-metrics hook as a test supervisor). */
const makeSupervisor = () => {
  const counts = { started: 0, ended: 0 }
  const service: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: () => {
      counts.started++
    },
    recordFiberEnd: () => {
      counts.ended++
    }
  }
  return { counts, service }
}

const resources = () => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  return { sockets: (counts.TCPSocketWrap ?? 0) + (counts.TCPWrap ?? 0), timers: counts.Timeout ?? 0 }
}

const settle = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

describe("soak (fast tier)", () => {
  it.live(
    "F02 500 mixed-fault runs, sequential and 100-way concurrent: typed outcomes, no leaked sockets, timers, fibers or listeners; a finished run's state is collected",
    () =>
      Effect.gen(function* () {
        const warnings: Array<string> = []
        const onWarning = (warning: Error) => warnings.push(warning.name)
        process.on("warning", onWarning)
        const supervisor = makeSupervisor()
        const server = yield* ResponsesServer.make({ fallback: soakModel() })
        yield* settle(50)
        const before = resources()

        const client = ResponsesClient.layerUndici({ baseUrl: server.baseUrl, apiKey: Redacted.make(canaryKey) })
        const layer = Layer.mergeAll(client, soakToolsLayer)
        const { exits, weak, pooled } = yield* Effect.gen(function* () {
          const sequential = yield* Effect.forEach(
            Array.from({ length: 100 }, (_, i) => i),
            (i) => Effect.exit(oneRun(i))
          )
          const concurrent = yield* Effect.forEach(
            Array.from({ length: 400 }, (_, i) => i + 100),
            (i) => Effect.exit(oneRun(i)),
            { concurrency: 100 }
          )
          // One more finished run whose state nothing keeps: only a WeakRef points at it.
          const weak = yield* assistant.run("ok:weak").pipe(Effect.map((result) => new WeakRef(result.state)))
          // Within 1 s of idle the server sees at most the client's keep-alive pool (≤ the concurrency).
          yield* settle(1000)
          const pooled = yield* server.liveConnections
          return { exits: [...sequential, ...concurrent], weak, pooled }
        }).pipe(
          Effect.provideService(Metric.FiberRuntimeMetrics, supervisor.service),
          Effect.provide(layer, { local: true })
        )

        // Typed outcomes only; every history passes the pairing validator.
        const tags = new Map<string, number>()
        assert.strictEqual(exits.length, 500)
        exits.forEach((exit, i) => {
          if (Exit.isSuccess(exit)) {
            tags.set("success", (tags.get("success") ?? 0) + 1)
            return
          }
          assert.isFalse(Cause.hasDies(exit.cause), `defect in run ${i}`)
          const error = Cause.squash(exit.cause) as {
            readonly _tag?: string
            readonly history?: ReadonlyArray<never>
            readonly error?: { readonly _tag?: string }
          }
          dropArtefact(`F02 error ${i}`, `${String(error)}\n${JSON.stringify(error)}\n${Cause.pretty(exit.cause)}`)
          if (error._tag === "ModelError") assert.strictEqual(error.error?._tag, "StreamProtocolError")
          assert.isString(error._tag, `run ${i} failed with an untyped error`)
          tags.set(error._tag!, (tags.get(error._tag!) ?? 0) + 1)
          if (error.history !== undefined) assert.isUndefined(validatePairing(error.history))
        })
        const kinds = exits.map((_, i) => kindOf(i))
        assert.strictEqual(kinds.filter((k) => k === "interrupted").length, 150)
        // Every malformed stream failed with a typed error; every other run finished.
        assert.strictEqual(tags.get("ModelError"), 50, JSON.stringify([...tags]))
        assert.strictEqual(tags.get("success"), 450, JSON.stringify([...tags]))
        // 100 tool calls timed out and were interrupted (fed back to the model, the run went on).
        assert.strictEqual(sleepyCounts.started, 100)
        assert.strictEqual(sleepyCounts.interrupted, 100)

        assert.isAtMost(pooled, 100, "connections after 1 s idle")
        // Released client: every connection closes.
        yield* settle(200)
        assert.strictEqual(yield* server.liveConnections, 0, "server-side connections after the client closed")

        // Nothing started by a run is still alive.
        assert.strictEqual(supervisor.counts.started - supervisor.counts.ended, 0, "live fibers")
        assert.isAbove(supervisor.counts.started, 500)

        // No socket or timer left beyond what existed before the runs.
        yield* settle(100)
        const after = resources()
        assert.isAtMost(after.sockets, before.sockets, `sockets ${JSON.stringify({ before, after })}`)
        assert.isAtMost(after.timers, before.timers, `timers ${JSON.stringify({ before, after })}`)

        process.off("warning", onWarning)
        assert.notInclude(warnings, "MaxListenersExceededWarning")

        // A finished run's state can be collected (checked in a later macrotask, as WeakRefs require).
        yield* settle(10)
        gc()
        yield* settle(10)
        gc()
        assert.isUndefined(weak.deref(), "a finished run's state is still reachable")
      }).pipe(Effect.scoped),
    60_000
  )
})
