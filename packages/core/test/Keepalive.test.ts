/**
 * F05 keepalive streams, fast tier (docs/reliability.md), in real time over real sockets: 100
 * concurrent streams are held open for 10 s by `: keep-alive` comments every second while the
 * stream-idle timeout is lowered to 3 s. Comments are bytes, so they reset the idle timer: no
 * stream may time out, every one must complete, and an idle stream may cost at most 64 KiB of heap
 * (the marginal heap of 80 more idle streams after 20 warm ones, after a forced GC; the server
 * runs in a worker thread, so only the client is counted). The full version (1 000 streams for 60 s) is `pnpm soak`.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ResponsesClient from "../src/ResponsesClient.ts"
import { canaryKey } from "./support/fakeHttp.ts"
import { keepaliveServer } from "./support/keepalive.ts"

// Test code only: a forced GC makes the per-stream heap figure meaningful (never in packages/).
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void
const heapAfterGc = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const STREAMS = 100
const HOLD_MS = 10_000

describe("keepalive streams", () => {
  it.live(
    "F05 100 streams held 10 s by keepalive comments every 1 s, stream-idle 3 s: no idle timeout, all complete, ≤ 64 KiB heap per idle stream",
    () =>
      Effect.gen(function* () {
        const server = yield* keepaliveServer({ everyMs: 1000, holdMs: HOLD_MS })
        const client = yield* Layer.build(
          ResponsesClient.layerUndici({
            baseUrl: server.baseUrl,
            apiKey: Redacted.make(canaryKey),
            timeouts: { streamIdleMs: 3000 }
          })
        ).pipe(Effect.map((context) => Context.get(context, ResponsesClient.ResponsesClient)))
        const open = (from: number, count: number) =>
          Effect.forEach(
            Array.from({ length: count }, (_, i) => from + i),
            (i) =>
              Effect.exit(
                Stream.runCollect(client.stream({ model: "m", input: `stream ${i}`, stream: true })).pipe(
                  Effect.map((events) => events.at(-1)?.type)
                )
              ),
            { concurrency: "unbounded" }
          ).pipe(Effect.forkChild)
        // The first 20 streams pay the one-off costs (code loading, pools); the marginal cost of the
        // next 80 idle streams is the per-stream figure.
        const warm = yield* open(0, 20)
        yield* Effect.sleep("1500 millis")
        const before = heapAfterGc()
        const rest = yield* open(20, STREAMS - 20)
        yield* Effect.sleep("1500 millis")
        assert.strictEqual((yield* server.stats).live, STREAMS, "every stream is held open")
        const perStream = (heapAfterGc() - before) / (STREAMS - 20)
        const exits = [...(yield* Fiber.join(warm)), ...(yield* Fiber.join(rest))]
        const failures = exits.filter(Exit.isFailure)
        assert.strictEqual(failures.length, 0, `${failures.length} streams failed, e.g. ${String(failures[0])}`)
        assert.deepStrictEqual(
          [...new Set(exits.map((exit) => (Exit.isSuccess(exit) ? exit.value : undefined)))],
          ["response.completed"]
        )
        assert.strictEqual((yield* server.stats).completed, STREAMS)
        assert.isAtMost(perStream, 64 * 1024, `heap per idle stream: ${Math.round(perStream)} bytes`)
      }).pipe(Effect.scoped),
    30_000
  )
})
