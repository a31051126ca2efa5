/**
 * `pnpm bench`: the orchestrator. It starts the bench server in its own process (pinned to core 0 with
 * `taskset` when available), then runs every driver in every mode, each in a fresh process pinned to core 1,
 * collects the JSON lines, prints the table (CPU ms per run and ratio to the undici loop) and writes
 * `bench/results/latest.{json,md}` (quick runs: `quick.*`; runs filtered by driver or mode: `partial.*`).
 * Flags: `--quick` (few runs: the CI correctness check), `--drivers a,b`, `--modes x,y`, `--repeats N`,
 * `--no-pin`, `--cpu-prof <driver>` (profiles into `results/profiles/`), `--render <results.json>` (re-render only).
 * Gotcha: it exits 1 when any driver failed verification, after printing everything else.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import type { BatchResult, ModeConfig } from "./harness.ts"
import { type Cell, render } from "./report.ts"

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const resultsDir = join(benchDir, "results")

/** Every contender, in table order; `undici` is the reference for ratios. */
export const allDrivers = ["undici", "openai", "agents", "aisdk"] as const

interface ModeSpec extends Omit<ModeConfig, "origin" | "mode"> {
  readonly id: string
  readonly kind: "throughput" | "memory" | "scaling"
}

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string) => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}
const quick = flag("--quick")

const modes = (): ReadonlyArray<ModeSpec> => {
  const n = (full: number, small: number) => (quick ? small : full)
  const repeats = Number(option("--repeats") ?? n(5, 1))
  const base = { latencyMs: 0, paceMs: 0, sampleMemory: false, turns: 2, repeats }
  const list: Array<ModeSpec> = [
    { ...base, id: "json-c1", kind: "throughput", stream: false, concurrency: 1, runs: n(300, 10), warmup: n(200, 5) },
    {
      ...base,
      id: "json-c64",
      kind: "throughput",
      stream: false,
      concurrency: 64,
      runs: n(1280, 64),
      warmup: n(256, 16)
    },
    { ...base, id: "sse-c1", kind: "throughput", stream: true, concurrency: 1, runs: n(300, 10), warmup: n(200, 5) },
    {
      ...base,
      id: "sse-c64",
      kind: "throughput",
      stream: true,
      concurrency: 64,
      runs: n(1280, 64),
      warmup: n(256, 16)
    },
    {
      ...base,
      id: "sse-paced-c16",
      kind: "throughput",
      stream: true,
      concurrency: 16,
      runs: n(320, 32),
      warmup: n(32, 16),
      paceMs: 1,
      repeats: Math.min(repeats, 3)
    },
    {
      ...base,
      id: `memory-${n(2000, 200)}`,
      kind: "memory",
      stream: true,
      concurrency: n(2000, 200),
      runs: n(2000, 200),
      warmup: n(200, 20),
      latencyMs: 200,
      sampleMemory: true,
      repeats: Math.min(repeats, 3)
    }
  ]
  for (const turns of quick ? [1, 10, 50] : [1, 10, 50, 100]) {
    const runs = Math.max(quick ? 2 : 10, Math.round((quick ? 20 : 600) / turns))
    list.push({
      ...base,
      id: `scaling-t${turns}`,
      kind: "scaling",
      stream: false,
      concurrency: 1,
      runs,
      warmup: Math.max(2, Math.round(runs / 4)),
      turns,
      repeats: Math.min(repeats, 3)
    })
  }
  const only = option("--modes")?.split(",")
  // `--runs N`: N measured runs per repeat in every mode (e.g. a longer batch for a steadier profile)
  const runs = option("--runs")
  const sized = runs === undefined ? list : list.map((mode) => ({ ...mode, runs: Number(runs) }))
  return only === undefined ? sized : sized.filter((mode) => only.includes(mode.id) || only.includes(mode.kind))
}

const hasTaskset = !flag("--no-pin") && cpus().length >= 2 && existsSync("/usr/bin/taskset")
const pinned = (core: number, command: string, argv: ReadonlyArray<string>): [string, Array<string>] =>
  hasTaskset ? ["/usr/bin/taskset", ["-c", String(core), command, ...argv]] : [command, [...argv]]

const startServer = (): Promise<{ readonly origin: string; readonly child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const [command, argv] = pinned(0, process.execPath, [join(benchDir, "src/server.ts")])
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] })
    child.once("error", reject)
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const message = JSON.parse(line) as { port: number }
      resolve({ origin: `http://127.0.0.1:${message.port}`, child })
    })
  })

interface DriverOutcome {
  readonly batches: ReadonlyArray<BatchResult>
  readonly error?: string
}

const runDriverProcess = (driver: string, config: ModeConfig, profile: boolean): Promise<DriverOutcome> =>
  new Promise((resolve) => {
    const nodeFlags = ["--max-old-space-size=4096"]
    if (profile) nodeFlags.push("--cpu-prof", `--cpu-prof-dir=${join(resultsDir, "profiles")}`)
    const script = join(benchDir, "src/drivers", `${driver}.ts`)
    const [command, argv] = pinned(1, process.execPath, [...nodeFlags, script, "--config", JSON.stringify(config)])
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] })
    const batches: Array<BatchResult> = []
    let error: string | undefined
    let stderr = ""
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const message = JSON.parse(line) as BatchResult | { type: "error"; message: string }
      if (message.type === "batch") batches.push(message)
      else error = message.message
    })
    child.on("close", (code) => {
      if (code !== 0 && error === undefined) error = `exit ${code}: ${stderr.trim().split("\n").slice(-3).join(" ")}`
      resolve(error === undefined ? { batches } : { batches, error })
    })
  })

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const summarise = (driver: string, mode: ModeSpec, outcome: DriverOutcome): Cell => {
  const { batches } = outcome
  const cpu = batches.map((batch) => batch.cpuMsPerRun)
  const pick = (f: (batch: BatchResult) => number) => (batches.length === 0 ? Number.NaN : median(batches.map(f)))
  return {
    driver,
    mode: mode.id,
    kind: mode.kind,
    turns: mode.turns,
    stream: mode.stream,
    concurrency: mode.concurrency,
    runs: mode.runs,
    repeats: batches.length,
    cpuMsPerRun: pick((batch) => batch.cpuMsPerRun),
    cpuMsMin: batches.length === 0 ? Number.NaN : Math.min(...cpu),
    cpuMsMax: batches.length === 0 ? Number.NaN : Math.max(...cpu),
    wallMs: pick((batch) => batch.wallMs),
    runsPerSecond: pick((batch) => batch.runsPerSecond),
    peakRssBytes: pick((batch) => batch.peakRssBytes),
    peakHeapBytes: pick((batch) => batch.peakHeapBytes),
    serverCpuMsPerRun: pick((batch) => batch.serverCpuMsPerRun),
    ...(outcome.error === undefined ? {} : { error: outcome.error })
  }
}

const versionOf = (name: string): string => {
  const file = join(benchDir, "node_modules", name, "package.json")
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : "n/a"
}

const gitCommit = (): string => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: benchDir }).toString().trim()
  } catch {
    return "unknown"
  }
}

/** `--render <results.json>`: re-renders latest.md and the README block from saved results, without running. */
const renderSaved = (file: string) => {
  const saved = JSON.parse(readFileSync(file, "utf8")) as {
    machine: Record<string, string | number | boolean>
    versions: Record<string, string>
    cells: Array<Cell>
  }
  const drivers = [...new Set(saved.cells.map((cell) => cell.driver))]
  const report = render({ ...saved, drivers })
  process.stdout.write(`${report.terminal}\n`)
  writeFileSync(join(resultsDir, "latest.md"), report.markdown)
  updateReadme(report.markdown)
}

const main = async () => {
  const saved = option("--render")
  if (saved !== undefined) return renderSaved(saved)
  const drivers = option("--drivers")?.split(",") ?? availableDrivers()
  const profiled = option("--cpu-prof")
  const selected = modes()
  const server = await startServer()
  const cells: Array<Cell> = []
  try {
    for (const mode of selected) {
      // Repeats are interleaved across drivers (one process per driver per repeat), so a burst of noise from
      // other work on the machine lands on every contender instead of on one driver's whole column.
      const { id, kind: _kind, repeats, ...rest } = mode
      const config: ModeConfig = { ...rest, repeats: 1, mode: id, origin: server.origin }
      const outcomes = new Map<string, { batches: Array<BatchResult>; error?: string }>(
        drivers.map((driver) => [driver, { batches: [] }])
      )
      for (let repeat = 0; repeat < repeats; repeat++) {
        for (const driver of drivers) {
          const collected = outcomes.get(driver)!
          if (collected.error !== undefined) continue
          const outcome = await runDriverProcess(driver, config, profiled === driver && repeat === 0)
          collected.batches.push(...outcome.batches.map((batch) => ({ ...batch, repeat })))
          if (outcome.error !== undefined) collected.error = outcome.error
        }
      }
      for (const driver of drivers) {
        const cell = summarise(driver, mode, outcomes.get(driver)!)
        cells.push(cell)
        const status = cell.error === undefined ? `${cell.cpuMsPerRun.toFixed(3)} ms/run` : `FAILED: ${cell.error}`
        process.stderr.write(`[bench] ${mode.id.padEnd(16)} ${driver.padEnd(8)} ${status}\n`)
      }
    }
  } finally {
    server.child.kill()
  }
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    pinned: hasTaskset,
    commit: gitCommit(),
    date: new Date().toISOString(),
    quick
  }
  const versions = Object.fromEntries(
    ["openai", "@openai/agents", "ai", "@ai-sdk/openai", "undici", "zod", "effect"].map((name) => [
      name,
      versionOf(name)
    ])
  )
  const report = render({ machine, versions, cells, drivers })
  process.stdout.write(`${report.terminal}\n`)
  // Only the whole matrix replaces the committed latest.*; quick and filtered runs get their own (ignored) files.
  const name = quick
    ? "quick"
    : option("--drivers") !== undefined || option("--modes") !== undefined
      ? "partial"
      : "latest"
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify({ machine, versions, cells }, null, 2)}\n`)
  writeFileSync(join(resultsDir, `${name}.md`), report.markdown)
  process.stderr.write(`[bench] wrote results/${name}.{json,md}\n`)
  if (name === "latest") updateReadme(report.markdown)
  const failed = cells.filter((cell) => cell.error !== undefined)
  if (failed.length > 0) {
    process.stderr.write(`[bench] ${failed.length} driver runs failed verification\n`)
    process.exit(1)
  }
}

/** Replaces the generated block of bench/README.md (between the `latest:start`/`latest:end` markers). */
const updateReadme = (markdown: string) => {
  const file = join(benchDir, "README.md")
  if (!existsSync(file)) return
  const text = readFileSync(file, "utf8")
  const start = text.indexOf("<!-- latest:start -->")
  const end = text.indexOf("<!-- latest:end -->")
  if (start < 0 || end < start) return
  const block = markdown.replaceAll("### ", "#### ")
  writeFileSync(file, `${text.slice(0, start)}<!-- latest:start -->\n\n${block}\n${text.slice(end)}`)
  process.stderr.write("[bench] updated the results block of README.md\n")
}

/** The drivers that exist on disk, in table order (a contender whose driver is absent is left out). */
const availableDrivers = (): Array<string> =>
  [...allDrivers, "volley"].filter((name) => existsSync(join(benchDir, "src/drivers", `${name}.ts`)))

await main()
