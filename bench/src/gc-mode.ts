/**
 * How much a driver's young generation promotes, per process: `node src/gc-mode.ts [--driver volley]
 * [--samples 10] [--concurrency 64] [--runs 1280] [--json]` runs the driver's SSE batch (sse-c64's sizes: 256 warm-up
 * and 1,280 measured runs of two turns) in fresh processes pinned like `pnpm bench`, each with V8's
 * `--trace-gc-nvp`, and prints per process the bytes its scavenges promoted, their pause time and the
 * CPU ms per run. A diagnosis tool (issue 14): at sse-c64 the Volley driver settles in one of two GC
 * states, about 42 MiB or about 120 MiB promoted per process, and the CPU per run follows the state;
 * comparing two commits means comparing how often each lands in which state, not one figure.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { cpus } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import type { BatchResult, ModeConfig } from "./harness.ts"

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at >= 0 ? process.argv[at + 1] : undefined
}
const driver = option("--driver") ?? "volley"
const samples = Number(option("--samples") ?? 10)
const concurrency = Number(option("--concurrency") ?? 64)
const runs = Number(option("--runs") ?? 1280)
const pin = cpus().length >= 2 && existsSync("/usr/bin/taskset")
const pinned = (core: number, argv: ReadonlyArray<string>): [string, Array<string>] =>
  pin ? ["/usr/bin/taskset", ["-c", String(core), process.execPath, ...argv]] : [process.execPath, [...argv]]

/** One sample: what the scavenges of one driver process promoted, and its CPU per run. */
export interface GcSample {
  readonly promotedMiB: number
  readonly scavenges: number
  readonly scavengePauseMs: number
  readonly markCompacts: number
  readonly cpuMsPerRun: number
}

/** Sums `--trace-gc-nvp` lines (one per GC) and picks out the harness's JSON result line. */
export const summarise = (lines: ReadonlyArray<string>): GcSample => {
  let promoted = 0
  let scavenges = 0
  let pause = 0
  let markCompacts = 0
  let cpuMsPerRun = Number.NaN
  const field = (line: string, name: string) => Number(new RegExp(` ${name}=([0-9.]+)`).exec(line)?.[1] ?? 0)
  for (const line of lines) {
    if (line.startsWith("{")) {
      cpuMsPerRun = (JSON.parse(line) as BatchResult).cpuMsPerRun
    } else if (line.includes(" gc=s ")) {
      scavenges++
      promoted += field(line, "promoted")
      pause += field(line, "pause")
    } else if (/ gc=m/.test(line)) markCompacts++
  }
  return { promotedMiB: promoted / 1048576, scavenges, scavengePauseMs: pause, markCompacts, cpuMsPerRun }
}

const startServer = (): Promise<{ readonly origin: string; readonly stop: () => void }> =>
  new Promise((resolve, reject) => {
    const [command, argv] = pinned(0, [join(benchDir, "src/server.ts")])
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] })
    child.once("error", reject)
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const port = (JSON.parse(line) as { port: number }).port
      resolve({ origin: `http://127.0.0.1:${port}`, stop: () => child.kill() })
    })
  })

const sample = (config: ModeConfig): Promise<GcSample> =>
  new Promise((resolve, reject) => {
    const script = join(benchDir, "src/drivers", `${driver}.ts`)
    const flags = ["--max-old-space-size=4096", "--trace-gc-nvp"]
    const [command, argv] = pinned(1, [...flags, script, "--config", JSON.stringify(config)])
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] })
    const lines: Array<string> = []
    createInterface({ input: child.stdout! }).on("line", (line) => lines.push(line))
    child.once("error", reject)
    child.once("close", (code) =>
      code === 0 ? resolve(summarise(lines)) : reject(new Error(`${driver} exited with ${code}`))
    )
  })

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startServer()
  const config: ModeConfig = {
    mode: `sse-c${concurrency}`,
    origin: server.origin,
    stream: true,
    concurrency,
    runs,
    warmup: Math.round(runs / 5),
    repeats: 1,
    turns: 2,
    latencyMs: 0,
    paceMs: 0,
    sampleMemory: false
  }
  try {
    const results: Array<GcSample> = []
    for (let at = 0; at < samples; at++) {
      const result = await sample(config)
      results.push(result)
      if (!process.argv.includes("--json"))
        console.log(
          `${driver} #${at + 1}: promoted ${result.promotedMiB.toFixed(1)} MiB in ${result.scavenges} scavenges (${result.scavengePauseMs.toFixed(0)} ms paused), ${result.markCompacts} mark-compacts, CPU ${result.cpuMsPerRun.toFixed(3)} ms/run`
        )
    }
    if (process.argv.includes("--json")) console.log(JSON.stringify(results))
  } finally {
    server.stop()
  }
}
