/**
 * Runs an example's `main.ts` as a separate Node process, the way a user would, and collects its exit
 * code, stdout and stderr. Used by the examples' tests; the environment is minimal (`PATH`, `HOME`
 * plus what the test passes), so a developer's `HAOAI_API_KEY` never leaks into a test run.
 * `runScript` runs one to its end; `startScript` also lets a test send it a signal mid-run, and
 * `waitForStderr` waits until it has printed a line (e.g. a stored step, before a kill).
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

/** A started example process: `ran` resolves once it exits and both pipes drained. */
export interface Started {
  /** Sends a signal (e.g. `"SIGINT"`, what Ctrl-C sends) to the process. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** The output so far. */
  readonly output: Effect.Effect<{ readonly stdout: string; readonly stderr: string }>
  /** The exit code and the whole output. */
  readonly ran: Effect.Effect<Ran>
}

/** Polls `started`'s stderr every 25 ms until it includes `text`, for at most `timeoutMs`; then returns either way. */
export const waitForStderr = (started: Started, text: string, timeoutMs = 30_000): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let waited = 0; waited < timeoutMs; waited += 25) {
      if ((yield* started.output).stderr.includes(text)) return
      yield* Effect.sleep(25)
    }
  })

/** Starts `node <script> ...args` with `PATH`, `HOME` and `env`; stdin is closed. */
export const startScript = (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<Started> =>
  Effect.sync(() => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    // Decoded whole, so a multi-byte character split across two chunks survives.
    const text = () => ({
      stdout: Buffer.concat(stdout).toString("utf8"),
      stderr: Buffer.concat(stderr).toString("utf8")
    })
    const closed = new Promise<Ran>((resolve) => child.on("close", (code) => resolve({ code, ...text() })))
    return {
      signal: (signal) =>
        Effect.sync(() => {
          child.kill(signal)
        }),
      output: Effect.sync(text),
      ran: Effect.promise(() => closed)
    }
  })

/** Runs `node <script> ...args` with `PATH`, `HOME` and `env` to its end. */
export const runScript = (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<Ran> => Effect.flatMap(startScript(script, args, env), (started) => started.ran)
