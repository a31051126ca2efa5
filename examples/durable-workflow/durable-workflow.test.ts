/**
 * The durable example as a user runs it: started, killed with SIGKILL while its tool runs, started
 * again with the same `--run-id`: the second process replays the stored model step, finishes the
 * run and prints the answer; a third start prints the stored answer at once.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { TraceServer, TraceStore } from "@volley/traces"
import { Effect } from "effect"
import { examplePath, runScript, startScript, waitForStderr } from "../shared/process.ts"

const parent = mkdtempSync(join(tmpdir(), "volley-durable-example-"))
chmodSync(parent, 0o755) // under root, Postgres runs as the `postgres` user and must reach it
const dataDir = join(parent, "postgres")
const traceDir = join(parent, "traces")
afterAll(() => {
  // a postmaster left behind by a failed test is stopped here
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0])
    if (pid > 0) process.kill(pid, "SIGKILL")
  } catch {}
  rmSync(parent, { recursive: true, force: true })
})

const main = examplePath("durable-workflow/main.ts")
const args = ["--run-id", "example-1", "--data-dir", dataDir, "--tool-delay-ms", "1500", "Weather in Oslo?"]
// the second run is traced: the traces page must show which steps came back from storage
const traced = { VOLLEY_TRACE_DIR: traceDir }

describe("durable-workflow", () => {
  it.live(
    "survives kill -9 mid-tool: the rerun replays the stored model step and finishes",
    () =>
      Effect.gen(function* () {
        const first = yield* startScript(main, args)
        // kill as soon as the first model step is stored (the tool then runs for 1.5 s)
        yield* waitForStderr(first, "✓ model/1 stored")
        yield* first.signal("SIGKILL")
        const killed = yield* first.ran
        assert.strictEqual(killed.code, null, killed.stderr)
        assert.notInclude(killed.stderr, "model/2")
        const second = yield* runScript(main, [...args, "--trace"], traced)
        assert.strictEqual(second.code, 0, second.stderr)
        assert.include(second.stderr, "↺ model/1 replayed from storage")
        assert.include(second.stderr, "✓ model/2 stored")
        assert.isAbove(second.stdout.trim().length, 0)
        // the traces page marks the stored model call as replayed; the new model call is not marked
        const runs = yield* TraceStore.read(traceDir)
        // one run: the executed steps nest under it although the engine ran them on its own fiber
        assert.deepStrictEqual(
          runs.runs.map((root) => root.name),
          ["invoke_agent quickstart"]
        )
        const run = runs.runs[0]!
        const steps = run.children.map((step) => [
          step.name.split(" ")[0],
          step.attributes["volley.durable.replayed"] === true
        ])
        assert.deepStrictEqual(steps.slice(0, 1), [["chat", true]])
        assert.deepStrictEqual(steps.at(-1), ["chat", false])
        const page = yield* Effect.scoped(
          Effect.gen(function* () {
            const server = yield* TraceServer.make({ dir: traceDir, port: 0 })
            return yield* Effect.promise(() =>
              fetch(`${server.url}run/${run.spanId}`).then((response) => response.text())
            )
          })
        )
        assert.strictEqual(page.match(/↺ replayed from storage/g)?.length, 1, page)
        const third = yield* runScript(main, args)
        assert.strictEqual(third.code, 0, third.stderr)
        assert.strictEqual(third.stdout, second.stdout)
        assert.notInclude(third.stderr, "stored")
      }),
    180_000
  )
})
