/**
 * Durable streaming across processes: a child process runs a streaming durable run and publishes
 * its events through Postgres NOTIFY; this process (another process) follows the run by `runId`.
 * The child is killed with SIGKILL mid-stream of its second model call and started again: the
 * follower sees the partial tokens, `TurnRestarted`, the model call's tokens again and `RunEnd`; a
 * second follower that attaches after the kill sees the rest of the run.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type { AgentEvent } from "@volley/agent"
import { DurablePostgres, RunEvents } from "@volley/durable"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import { tempPostgres } from "./support/postgres.ts"

const childPath = join(dirname(fileURLToPath(import.meta.url)), "support", "streamChild.ts")
const words = Array.from({ length: 40 }, (_, n) => `w${n}`).join(" ")

// one add call, then a long answer streamed slowly (one SSE event per 60 ms: ~2.6 s of tokens)
const model = M.responder((request) => {
  const done = Array.isArray(request.input)
    ? request.input.filter((item) => item.type === "function_call_output").length
    : 0
  return done === 0
    ? M.functionCall("add", { a: 1, b: 1 }, { callId: "c1" })
    : { ...M.message(words), fault: { chunkDelay: "60 millis" } }
})

const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once("exit", (code) => resolve(code))
  })

const deltas = (events: ReadonlyArray<AgentEvent.AgentEvent>, turn: number) =>
  events.filter((event) => event._tag === "TextDelta" && event.turn === turn).length

describe("durable streaming across processes (embedded Postgres, LISTEN/NOTIFY)", () => {
  it.live(
    "kill -9 mid-stream: the rerun re-runs that model call after TurnRestarted; followers by runId see it live",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const dir = mkdtempSync(join(tmpdir(), "volley-stream-"))
          yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
          const log = join(dir, "log")
          const postgres = yield* Effect.orDie(tempPostgres)
          const server = yield* ResponsesServer.make({ fallback: model })
          const runId = "stream-kill-1"
          const children = new Set<ChildProcess>()
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              for (const child of children) child.kill("SIGKILL")
            })
          )
          const startChild = () => {
            const child = spawn(process.execPath, [childPath], {
              env: {
                ...process.env,
                DATABASE_URL: Redacted.value(postgres.url),
                VOLLEY_BASE_URL: server.baseUrl,
                RUN_ID: runId,
                LOG: log
              },
              stdio: ["ignore", "ignore", "pipe"]
            })
            children.add(child)
            return child
          }
          // the follower's own PgClient, open for the test's scope
          const services = yield* Layer.build(
            RunEvents.layerPostgres.pipe(Layer.provide(DurablePostgres.layer(postgres.url)))
          ).pipe(Effect.orDie)
          const bus = Context.get(services, RunEvents.RunEvents)
          // follower A: subscribed before the run starts
          const seenA: Array<AgentEvent.AgentEvent> = []
          let restartSeenAt = 0
          const liveA = yield* bus.subscribe(runId)
          const followerA = yield* Effect.forkChild(
            Stream.runForEach(RunEvents.untilRunEnd(liveA), (event) =>
              Effect.sync(() => {
                if (event._tag === "TurnRestarted") restartSeenAt = Date.now()
                seenA.push(event)
              })
            )
          )
          const first = startChild()
          // kill once a few tokens of the second model call went out live
          for (let waited = 0; waited < 1200 && deltas(seenA, 2) < 5; waited++) yield* Effect.sleep(25)
          assert.isAtLeast(deltas(seenA, 2), 5, readFileSync(log, "utf8"))
          const killedAt = Date.now()
          first.kill("SIGKILL")
          yield* Effect.promise(() => exited(first))
          const partial = deltas(seenA, 2)
          assert.isBelow(partial, 40)
          // follower B: attaches by runId after the kill, before the rerun
          const seenB: Array<AgentEvent.AgentEvent> = []
          const liveB = yield* bus.subscribe(runId)
          const followerB = yield* Effect.forkChild(
            Stream.runForEach(RunEvents.untilRunEnd(liveB), (event) => Effect.sync(() => seenB.push(event)))
          )
          const second = startChild()
          const code = yield* Effect.promise(() => exited(second))
          const text = readFileSync(log, "utf8")
          assert.strictEqual(code, 0, text)
          yield* Fiber.join(followerA).pipe(Effect.timeout("10 seconds"), Effect.orDie)
          yield* Fiber.join(followerB).pipe(Effect.timeout("10 seconds"), Effect.orDie)
          const restartA = seenA.findIndex((event) => event._tag === "TurnRestarted")
          assert.isAbove(restartA, 0)
          const restarted = seenA[restartA]
          assert.isTrue(
            restarted?._tag === "TurnRestarted" && restarted.turn === 2 && restarted.error === "RunnerRestarted"
          )
          // partial tokens before the restart, the whole answer after it
          assert.strictEqual(deltas(seenA.slice(0, restartA), 2), partial)
          const after = seenA
            .slice(restartA)
            .flatMap((event) => (event._tag === "TextDelta" && event.turn === 2 ? [event.delta] : []))
          assert.strictEqual(after.join(""), words)
          const end = seenA.at(-1)
          assert.isTrue(end?._tag === "RunEnd" && end.stopReason._tag === "Completed")
          // B saw the restart and the full answer too
          assert.include(
            seenB.map((event) => event._tag),
            "TurnRestarted"
          )
          assert.strictEqual(seenB.at(-1)?._tag, "RunEnd")
          // storage: model/1 and the tool replayed, model/2 re-run; the model server saw model/2 twice
          const lines = text.split("\n")
          assert.isTrue(
            lines.some((line) => line.endsWith("step model/1 true")),
            text
          )
          assert.isTrue(
            lines.some((line) => line.endsWith("step tool/1/c1 true")),
            text
          )
          assert.isTrue(
            lines.some((line) => line.endsWith("step model/2 false")),
            text
          )
          assert.isTrue(
            lines.some((line) => line.endsWith(`result ${words}`)),
            text
          )
          const requests = yield* server.requests
          assert.strictEqual(requests.length, 3)
          console.log(
            `durable streaming: killed after ${partial} of 40 tokens; TurnRestarted seen ${restartSeenAt - killedAt} ms after the kill (a new process started and replayed 2 steps); run done ${Date.now() - killedAt} ms after the kill`
          )
        })
      ),
    120_000
  )
})
