/**
 * The "done when": `npm run demo -- --trace "…"`, then `npm run traces`, shows the run. The
 * demo runs as its own process (volley-local, no key), tracing into a temporary folder through
 * `VOLLEY_TRACE_DIR`; the traces server then serves that folder.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TraceServer from "../src/TraceServer.ts"
import * as TraceStore from "../src/TraceStore.ts"

const demo = fileURLToPath(new URL("../../../examples/quickstart/main.ts", import.meta.url))

const runDemo = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(
    () =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [demo, ...args], {
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString("utf8")
        })
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8")
        })
        child.on("close", (code) => resolve({ code, stdout, stderr }))
      })
  )

describe("the demo with --trace", () => {
  it.live(
    "records the run, and the traces page shows it",
    () =>
      Effect.gen(function* () {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "volley-demo-trace-"))
        const untraced = yield* runDemo(["What's the weather in Paris?"], { VOLLEY_TRACE_DIR: dir })
        assert.strictEqual(untraced.code, 0, untraced.stderr)
        assert.deepStrictEqual(fs.readdirSync(dir), [], "nothing recorded without --trace")

        const ran = yield* runDemo(["--trace", "What's the weather in Paris?"], { VOLLEY_TRACE_DIR: dir })
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.include(ran.stdout, "Paris")
        assert.notInclude(ran.stdout + ran.stderr, "unknown option")
        const runs = yield* TraceStore.read(dir)
        assert.strictEqual(runs.runs.length, 1)
        const run = runs.runs[0]!
        const summary = TraceStore.summarise(run, Date.now())
        assert.strictEqual(summary.agent, "quickstart")
        assert.strictEqual(summary.stopReason, "Completed")
        assert.isTrue(
          run.children.some((step) => step.kind === "tool"),
          "a tool call was recorded"
        )
        assert.isTrue(
          run.children.some((step) => step.kind === "model"),
          "a model call was recorded"
        )

        const server = yield* TraceServer.make({ dir })
        const page = yield* Effect.promise(() => fetch(server.url).then((response) => response.text()))
        assert.include(page, `href="/run/${run.spanId}"`)
        assert.include(page, "quickstart")
      }).pipe(Effect.scoped),
    60_000
  )
})
