/**
 * Runs an example's `main.ts` as a separate Node process, the way a user would, and collects its exit
 * code, stdout and stderr. Used by the examples' tests; the environment is minimal (`PATH`, `HOME`
 * plus what the test passes), so a developer's `HAOAI_API_KEY` never leaks into a test run.
 * Gotcha: resolves on `close`, after both pipes drained, so no output is lost at exit.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"

/** What a finished process left. */
export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The absolute path of `examples/<relative>`. */
export const examplePath = (relative: string): string => fileURLToPath(new URL(`../${relative}`, import.meta.url))

/** Runs `node <script> ...args` with `PATH`, `HOME` and `env`. */
export const runScript = (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<Ran> =>
  Effect.promise(
    () =>
      new Promise<Ran>((resolve) => {
        const child = spawn(process.execPath, [script, ...args], {
          env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
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
