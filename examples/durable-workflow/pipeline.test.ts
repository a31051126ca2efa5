/**
 * The durable multi-agent pipeline as a user runs it, against a scripted server standing in for the
 * API: the primary model always answers 503, so every agent call falls back to `backup`; the
 * reviewer rejects the first draft. The program is killed with SIGKILL during its durable sleep and
 * again while it waits for approval; `--approve` from another process decides; the next run
 * finishes. No step's model call is made twice (counted at the server).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import type { ResponsesSchema } from "@volley/core"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import { Effect } from "effect"
import { examplePath, runScript, type Started, startScript, waitForStderr } from "../shared/process.ts"

const parent = mkdtempSync(join(tmpdir(), "volley-pipeline-"))
chmodSync(parent, 0o755) // under root, Postgres runs as the `postgres` user and must reach it
const dataDir = join(parent, "postgres")
afterAll(() => {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0])
    if (pid > 0) process.kill(pid, "SIGKILL")
  } catch {}
  rmSync(parent, { recursive: true, force: true })
})

const firstText = (request: ResponsesSchema.CreateRequest): string => {
  const first = Array.isArray(request.input) ? request.input[0] : undefined
  return first !== undefined && first.type === "message" && typeof first.content === "string" ? first.content : ""
}

const model = M.responder((request) => {
  if (request.model !== "backup") return M.withFault(M.message("unavailable"), { status: 503 })
  const input = firstText(request)
  if (input.startsWith("Research")) return M.message("Fact one. Fact two. Fact three.")
  if (input.startsWith("Draft")) return M.message("Draft v1.")
  if (input.startsWith("Rewrite")) return M.message("Draft v2.")
  return M.message(input.includes("Draft v2") ? "APPROVED" : "REVISE: say it twice")
})

const main = examplePath("durable-workflow/pipeline.ts")
const base = ["--run-id", "pipe-1", "--data-dir", dataDir]
const key = `sk-volley-CANARY-${Math.random().toString(36).slice(2, 12)}`

const waitFor = (started: Started, text: string) => waitForStderr(started, text, 60_000)

describe("durable-workflow pipeline", () => {
  it.live(
    "research → draft → review (rewritten once) on the fallback model, a durable sleep and an approval survive two kills",
    () =>
      Effect.gen(function* () {
        const server = yield* ResponsesServer.ResponsesServer
        const env = { HAOAI_BASE_URL: server.baseUrl, HAOAI_API_KEY: key }
        const run = [...base, "--sleep-ms", "3000", "--fallback-model", "backup", "Durable agents"]
        // 1: killed during the durable sleep
        const first = yield* startScript(main, run, env)
        yield* waitFor(first, "cooling off")
        yield* first.signal("SIGKILL")
        const one = yield* first.ran
        assert.strictEqual(one.code, null, one.stderr)
        assert.include(one.stderr, "✓ review/2 stored")
        // 2: replays every stored step, finishes the sleep, then waits for approval: killed there
        const second = yield* startScript(main, run, env)
        yield* waitFor(second, "waiting for approval")
        yield* second.signal("SIGKILL")
        const two = yield* second.ran
        for (const name of ["research", "draft/1", "review/1", "draft/2", "review/2"])
          assert.include(two.stderr, `↺ ${name} replayed from storage`)
        assert.notInclude(two.stderr, "stored\n")
        assert.include(two.stderr, "waiting for approval")
        // 3: the decision, from another process
        const approve = yield* runScript(main, [...base, "--approve"], env)
        assert.strictEqual(approve.code, 0, approve.stderr)
        assert.include(approve.stderr, "recorded: approve")
        // 4: the run finishes with the rewritten draft
        const last = yield* runScript(main, run, env)
        assert.strictEqual(last.code, 0, last.stderr)
        assert.include(last.stdout, "Draft v2.")
        assert.include(last.stdout, "rounds: 2")
        assert.notInclude(last.stdout + last.stderr, key)
        // every step asked the backup model once: nothing ran twice across the kills
        const requests = yield* server.requests
        const backup = requests.filter((request) => (request.body as { model?: string }).model === "backup")
        assert.strictEqual(backup.length, 5)
        assert.isAbove(requests.length - backup.length, 0, "the primary model was tried first")
      }).pipe(Effect.provide(ResponsesServer.layer({ fallback: model }))),
    180_000
  )
})
