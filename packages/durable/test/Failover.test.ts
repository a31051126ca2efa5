import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { DurableAgent, DurableEngine, DurablePostgres } from "@volley/durable"
import { ResponsesServer } from "@volley/testing"
import { adder, script } from "./support/agent.ts"
import { tempPostgres } from "./support/postgres.ts"

const lines = (file: string) => {
  let text = ""
  try {
    text = readFileSync(file, "utf8")
  } catch {}
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => line.split(" "))
}

describe("two runners (NodeClusterSocket) on one Postgres", () => {
  it.live(
    "one runner is killed mid-tool; the other takes its runs over within seconds and finishes them, no completed step runs again",
    () =>
      Effect.gen(function* () {
        const postgres = yield* tempPostgres
        const dir = postgres.dataDir.replace(/postgres$/, "")
        const server = yield* ResponsesServer.make({ fallback: script() })
        const children: Array<ChildProcess> = []
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            for (const child of children) child.kill("SIGKILL")
          })
        )
        const ports = [yield* DurablePostgres.freePort, yield* DurablePostgres.freePort]
        const logs = ports.map((_, index) => join(dir, `runner-${index}.log`))
        for (const [index, port] of ports.entries()) {
          writeFileSync(logs[index]!, "")
          children.push(
            spawn(process.execPath, [join(import.meta.dirname, "support", "runner.ts")], {
              env: {
                ...process.env,
                DATABASE_URL: Redacted.value(postgres.url),
                VOLLEY_BASE_URL: server.baseUrl,
                RUNNER_PORT: String(port),
                TOOL_DELAY_MS: "700",
                LOG: logs[index]!
              },
              stdio: ["ignore", "ignore", "inherit"]
            })
          )
        }
        for (let waited = 0; waited < 300; waited++) {
          if (logs.every((log) => lines(log).some((line) => line[1] === "ready"))) break
          yield* Effect.sleep(100)
        }
        // a client-only node submits six runs of 3 tool steps
        const runIds = Array.from({ length: 6 }, (_, index) => `fo-${index + 1}`)
        const client = DurableEngine.layerCluster({ clientOnly: true })
        const flow = DurableAgent.workflow(adder)
        const results = yield* Effect.gen(function* () {
          const executions = yield* Effect.forEach(runIds, (runId) => DurableAgent.start(adder, "steps=3", { runId }))
          // kill the first runner that has a tool call in flight
          let killedAt = 0
          let victim = -1
          for (let waited = 0; waited < 1200 && killedAt === 0; waited++) {
            victim = logs.findIndex((log) => lines(log).some((line) => line[1] === "tool"))
            if (victim >= 0) {
              children[victim]!.kill("SIGKILL")
              killedAt = Date.now()
            } else yield* Effect.sleep(25)
          }
          assert.isAbove(killedAt, 0, "no runner took a run")
          const done = new Map<string, number>()
          for (let waited = 0; waited < 600 && done.size < executions.length; waited++) {
            for (const [index, executionId] of executions.entries()) {
              if (done.has(runIds[index]!)) continue
              const result = yield* flow.poll(executionId)
              if (Option.isSome(result) && result.value._tag === "Complete") done.set(runIds[index]!, Date.now())
            }
            yield* Effect.sleep(100)
          }
          return { killedAt, victim, done }
        }).pipe(Effect.provide(client), Effect.provide(DurablePostgres.layer(postgres.url)))
        assert.strictEqual(results.done.size, runIds.length, "every run completed")
        // the killed runner's runs: when did the survivor store their first step, and finish them
        const first = lines(logs[results.victim]!)
        const second = lines(logs[1 - results.victim]!)
        const owned = new Set(first.filter((line) => line[1] === "step").map((line) => line[5]))
        const takeover = second
          .filter((line) => line[1] === "step" && owned.has(line[5]) && Number(line[0]) > results.killedAt)
          .map((line) => Number(line[0]))
        assert.isAbove(owned.size, 0)
        assert.isAbove(takeover.length, 0)
        // per run: the first step the survivor stored for it after the kill (a replay or a new step)
        const takeoverMs = Math.max(
          ...[...owned].map(
            (runId) =>
              Math.min(
                ...second
                  .filter((line) => line[1] === "step" && line[5] === runId && Number(line[0]) > results.killedAt)
                  .map((line) => Number(line[0]))
              ) - results.killedAt
          )
        )
        const finishedMs = Math.max(...[...owned].map((runId) => results.done.get(runId ?? "") ?? 0)) - results.killedAt
        console.log(
          `failover: every one of the killed runner's ${owned.size} runs had a step on the survivor within ${takeoverMs} ms of the kill; all finished ${finishedMs} ms after it`
        )
        // about 3.5 s on an idle machine (the target is 5 s); the bound leaves room for a loaded CI machine
        assert.isBelow(takeoverMs, 15_000)
        // no completed step ran again: each step stored (executed, not replayed) once across both runners
        // a step line: time, "step", name, key, replayed, runId
        const executed = [...first, ...second].filter((line) => line[1] === "step" && line[4] === "false")
        const keys = executed.map((line) => line[3])
        assert.strictEqual(new Set(keys).size, keys.length, "a completed step was executed twice")
      }).pipe(Effect.scoped),
    120_000
  )
})
