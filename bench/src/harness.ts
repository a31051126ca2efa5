/**
 * The driver harness: every contender's driver (`src/drivers/<name>.ts`) calls `runDriver(name, setup)`,
 * and the harness does the rest the same way for all of them: configure the bench server, warm up, run
 * N runs at the mode's concurrency per repeat, measure process CPU (user+sys), wall time, throughput,
 * peak RSS and heap, verify (final text exact, each tool called once per turn, exactly the expected valid
 * requests at the server) and print one JSON line per repeat on stdout.
 * The orchestrator (`main.ts`) passes the mode as `--config <json>`. Gotcha: a verification failure prints
 * `{"type":"error"}` and exits 1, so a fast but wrong driver can never produce a number.
 */
import { writeHeapSnapshot } from "node:v8"
import { finalText, type ToolName, timeResult, weatherResult } from "./scenario.ts"
import type { ServerStats } from "./server.ts"

/** One mode of the matrix, as the orchestrator passes it to a driver. */
export interface ModeConfig {
  /** The mode id, e.g. "json-c1". */
  readonly mode: string
  /** The bench server origin, e.g. "http://127.0.0.1:4010". */
  readonly origin: string
  readonly stream: boolean
  readonly concurrency: number
  readonly runs: number
  readonly warmup: number
  readonly repeats: number
  /** Model calls per run (2 = the standard run). */
  readonly turns: number
  readonly latencyMs: number
  readonly paceMs: number
  /** Sample RSS and heap every few milliseconds (memory mode). */
  readonly sampleMemory: boolean
}

/** One repeat's measurements, printed as a JSON line with `type: "batch"`. */
export interface BatchResult {
  readonly type: "batch"
  readonly driver: string
  readonly mode: string
  readonly repeat: number
  readonly runs: number
  readonly turns: number
  readonly cpuMsPerRun: number
  readonly userMs: number
  readonly systemMs: number
  readonly wallMs: number
  readonly runsPerSecond: number
  readonly peakRssBytes: number
  readonly peakHeapBytes: number
  readonly maxRssBytes: number
  readonly serverCpuMsPerRun: number
  /** TCP connections the server accepted during the batch (keep-alive reuse keeps this near concurrency). */
  readonly connections: number
}

/** Everything a driver needs to set up its client: where the server is and how to run the tools. */
export interface DriverContext {
  /** Base URL of the Responses API, e.g. "http://127.0.0.1:4010/v1". */
  readonly baseUrl: string
  readonly origin: string
  readonly apiKey: string
  readonly stream: boolean
  /** The tool implementations (count their calls and check their arguments). */
  readonly tools: { readonly [K in ToolName]: (args: unknown) => string }
}

/** Performs one full run of `turns` model calls and returns the final text. */
export type RunOnce = (turns: number) => Promise<string>

const toolCalls: Record<ToolName, number> = { get_weather: 0, get_time: 0 }
const toolErrors: Array<string> = []

const checkArgs = (tool: ToolName, args: unknown, key: string): string => {
  const value = typeof args === "object" && args !== null ? (args as Record<string, unknown>)[key] : undefined
  if (typeof value !== "string" || Object.keys(args as object).length !== 1) {
    toolErrors.push(`${tool} called with ${JSON.stringify(args)}`)
    return ""
  }
  toolCalls[tool]++
  return value
}

const tools: DriverContext["tools"] = {
  get_weather: (args) => weatherResult({ city: checkArgs("get_weather", args, "city") }),
  get_time: (args) => timeResult({ timezone: checkArgs("get_time", args, "timezone") })
}

const control = async (origin: string, path: string, body?: unknown): Promise<unknown> => {
  const response = await fetch(`${origin}${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  })
  return response.json()
}

/** Runs `runs` runs with at most `concurrency` in flight; rejects on the first wrong final text. */
const runBatch = async (run: RunOnce, runs: number, concurrency: number, turns: number): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < runs) {
      next++
      const text = await run(turns)
      if (text !== finalText) {
        throw new Error(`final text differs: got ${JSON.stringify(text.slice(0, 120))}… (${text.length} chars)`)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, runs) }, worker))
}

const verify = (stats: ServerStats, config: ModeConfig, runs: number): string | undefined => {
  if (toolErrors.length > 0) return `tool argument errors: ${toolErrors.slice(0, 3).join("; ")}`
  const expectedCalls = runs * (config.turns - 1)
  for (const tool of ["get_weather", "get_time"] as const) {
    if (toolCalls[tool] !== expectedCalls) return `${tool} called ${toolCalls[tool]} times, expected ${expectedCalls}`
  }
  if (stats.failures > 0) return `server rejected ${stats.failures} requests: ${stats.firstFailures.join(" | ")}`
  if (stats.requests !== runs * config.turns) {
    return `server saw ${stats.requests} requests, expected ${runs * config.turns}`
  }
  for (let turn = 1; turn <= config.turns; turn++) {
    if (stats.byTurn[turn] !== runs)
      return `server saw ${stats.byTurn[turn] ?? 0} requests for turn ${turn}, expected ${runs}`
  }
  if (config.stream && stats.streamed !== stats.requests)
    return `only ${stats.streamed} of ${stats.requests} requests streamed`
  if (!config.stream && stats.streamed !== 0) return `${stats.streamed} requests streamed in a JSON mode`
  return undefined
}

const resetCounters = () => {
  toolCalls.get_weather = 0
  toolCalls.get_time = 0
  toolErrors.length = 0
}

const fail = (driver: string, config: ModeConfig | undefined, message: string): never => {
  process.stdout.write(`${JSON.stringify({ type: "error", driver, mode: config?.mode, message })}\n`)
  process.exit(1)
}

const parseConfig = (): ModeConfig => {
  const at = process.argv.indexOf("--config")
  const text = at >= 0 ? process.argv[at + 1] : undefined
  if (text === undefined) throw new Error("usage: node src/drivers/<name>.ts --config '<ModeConfig JSON>'")
  return JSON.parse(text) as ModeConfig
}

/** Entry point of every driver process: sets up the contender, then warms up, measures and verifies. */
export const runDriver = async (driver: string, setup: (context: DriverContext) => RunOnce | Promise<RunOnce>) => {
  let config: ModeConfig | undefined
  try {
    config = parseConfig()
    const serverConfig = { latencyMs: config.latencyMs, paceMs: config.paceMs }
    await control(config.origin, "/__config", serverConfig)
    const run = await setup({
      baseUrl: `${config.origin}/v1`,
      origin: config.origin,
      apiKey: "sk-bench-not-a-real-key",
      stream: config.stream,
      tools
    })
    if (config.warmup > 0) await runBatch(run, config.warmup, config.concurrency, config.turns)
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      await control(config.origin, "/__config", serverConfig)
      resetCounters()
      const result = await measure(driver, config, run, repeat)
      const stats = (await control(config.origin, "/__stats")) as ServerStats
      const failure = verify(stats, config, config.runs)
      if (failure !== undefined) fail(driver, config, failure)
      const line: BatchResult = {
        ...result,
        serverCpuMsPerRun: (stats.cpuUserMs + stats.cpuSystemMs) / config.runs,
        connections: stats.connections
      }
      process.stdout.write(`${JSON.stringify(line)}\n`)
    }
    process.exit(0)
  } catch (error) {
    const cause =
      error instanceof Error
        ? `${error.message}${error.cause ? ` (cause: ${String(error.cause)})` : ""}`
        : String(error)
    fail(driver, config, cause)
  }
}

const measure = async (
  driver: string,
  config: ModeConfig,
  run: RunOnce,
  repeat: number
): Promise<Omit<BatchResult, "serverCpuMsPerRun" | "connections">> => {
  let peakRss = process.memoryUsage.rss()
  let peakHeap = process.memoryUsage().heapUsed
  let snapshotAt =
    process.env.BENCH_HEAP_SNAPSHOT_BYTES === undefined ? undefined : Number(process.env.BENCH_HEAP_SNAPSHOT_BYTES)
  const sampler = setInterval(
    () => {
      const rss = process.memoryUsage.rss()
      if (rss > peakRss) peakRss = rss
      if (config.sampleMemory) {
        const heap = process.memoryUsage().heapUsed
        if (heap > peakHeap) peakHeap = heap
        if (snapshotAt !== undefined && heap > snapshotAt) {
          // Diagnosis only (BENCH_HEAP_SNAPSHOT_BYTES): one heap snapshot once the heap passes the threshold.
          snapshotAt = undefined
          process.stderr.write(`heap snapshot: ${writeHeapSnapshot()}\n`)
        }
      }
    },
    config.sampleMemory ? 5 : 100
  )
  const cpu = process.cpuUsage()
  const started = performance.now()
  await runBatch(run, config.runs, config.concurrency, config.turns)
  const wallMs = performance.now() - started
  const used = process.cpuUsage(cpu)
  clearInterval(sampler)
  const userMs = used.user / 1000
  const systemMs = used.system / 1000
  return {
    type: "batch",
    driver,
    mode: config.mode,
    repeat,
    runs: config.runs,
    turns: config.turns,
    cpuMsPerRun: (userMs + systemMs) / config.runs,
    userMs,
    systemMs,
    wallMs,
    runsPerSecond: (config.runs * 1000) / wallMs,
    peakRssBytes: Math.max(peakRss, process.memoryUsage.rss()),
    peakHeapBytes: peakHeap,
    maxRssBytes: process.resourceUsage().maxRSS * 1024
  }
}
