/**
 * `pnpm soak` (run as `node --expose-gc soak/main.ts`): the long versions of F02 and F05 (docs/reliability.md)
 * and the cancellation-latency target, in real time over real loopback sockets. F02 runs
 * `SOAK_RUNS` (10 000) mixed-fault agent runs (the scenario of packages/agent/test/support/soak.ts),
 * the first tenth in sequence and the rest 100-way concurrent, with forced-GC heap figures at 1 000
 * and at the end, then checks for leaked sockets, timers, fibers, connections and listeners. F05
 * holds `SOAK_STREAMS` (1 000) streams for `SOAK_SECONDS` (60) with keepalive comments every 5 s
 * (stream-idle lowered to 15 s so that a keepalive that did not reset it would show). Cancellation:
 * 200 streams interrupted after 3 deltas; the server must see each socket close within 100 ms (p99).
 * Hostile (issue 13): `SOAK_HOSTILE_ROUNDS` (5) rounds of a `retry:` flood, 200 MiB JSON answers and
 * 100 000-deep nesting (hostileServer.ts), each with a typed outcome and a flat heap. `SOAK_PHASES`
 * (default `f02,cancellation,f05,hostile`) picks the phases.
 * The fake servers run in worker threads (serverWorker.ts, and core's keepalive worker), so the
 * heap figures and the cancellation timings are the client's own.
 * Prints one line per target (figure, limit, PASS/FAIL) and exits 1 on any miss. A scaled-down run
 * keeps every check except the heap growth, which needs the 1k → 10k span.
 */
import * as v8 from "node:v8"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { Tool, Toolkit } from "@volley/tools"
import { Worker } from "node:worker_threads"
import { assistant, oneRun, sleepyCounts, soakToolsLayer } from "../../packages/agent/test/support/soak.ts"
import { keepaliveServer } from "../../packages/core/test/support/keepalive.ts"
import { depth, floodBytes, type HostileStats, oversizeBytes } from "./hostileServer.ts"

const runs = Number(process.env.SOAK_RUNS ?? 10_000)
const streams = Number(process.env.SOAK_STREAMS ?? 1_000)
const seconds = Number(process.env.SOAK_SECONDS ?? 60)
const trials = 200
const hostileRounds = Number(process.env.SOAK_HOSTILE_ROUNDS ?? 5)
const phases = new Set((process.env.SOAK_PHASES ?? "f02,cancellation,f05,hostile").split(","))
const key = Redacted.make(`sk-volley-CANARY-soak-${Math.random().toString(36).slice(2)}`)
const MiB = 1024 * 1024

const gcFn = (globalThis as { gc?: () => void }).gc
if (gcFn === undefined) {
  process.stderr.write("soak: run with node --expose-gc (pnpm soak does)\n")
  process.exit(2)
}
const gc = gcFn
const heapAfterGc = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
const settle = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))
const resources = () => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  return { sockets: (counts.TCPSocketWrap ?? 0) + (counts.TCPWrap ?? 0), timers: counts.Timeout ?? 0 }
}

/** What the server worker reports. */
interface ServerStats {
  readonly live: number
  readonly requests: ReadonlyArray<{ readonly input: string; readonly connectionId: number }>
  readonly connections: ReadonlyArray<{ readonly id: number; readonly closedAt: number | undefined }>
}

/** Starts the fake server in a worker thread (serverWorker.ts) for the scope's lifetime. */
const serverWorker = <Stats = ServerStats>(scenario: "soak" | "cancellation" | "hostile") =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ worker: Worker; baseUrl: string }>((resolve) => {
          const worker = new Worker(new URL("./serverWorker.ts", import.meta.url), { workerData: { scenario } })
          worker.once("message", (message: { readonly baseUrl: string }) =>
            resolve({ worker, baseUrl: message.baseUrl })
          )
        })
    ),
    ({ worker }) => Effect.promise(() => worker.terminate())
  ).pipe(
    Effect.map(({ worker, baseUrl }) => ({
      baseUrl,
      stats: Effect.promise(
        () =>
          new Promise<Stats>((resolve) => {
            worker.once("message", resolve)
            worker.postMessage("stats")
          })
      )
    }))
  )

let failed = 0
const report = (name: string, figure: string, limit: string, ok: boolean) => {
  if (!ok) failed++
  process.stdout.write(
    `${name.padEnd(44)} ${figure.padStart(16)}   limit ${limit.padEnd(14)} ${ok ? "PASS" : "FAIL"}\n`
  )
}

// ---------------------------------------------------------------------------------------------
// F02: mixed-fault runs
// ---------------------------------------------------------------------------------------------

const f02 = Effect.gen(function* () {
  const warnings: Array<string> = []
  const onWarning = (warning: Error) => warnings.push(warning.name)
  process.on("warning", onWarning)
  const fibers = { started: 0, ended: 0 }
  const supervisor: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: () => {
      fibers.started++
    },
    recordFiberEnd: () => {
      fibers.ended++
    }
  }
  const server = yield* serverWorker("soak")
  yield* settle(50)
  const before = resources()
  const client = ResponsesClient.layerUndici({ baseUrl: server.baseUrl, apiKey: key })
  const heap: Array<number> = []
  let untyped = 0
  let completed = 0
  const check = (exit: Exit.Exit<unknown, unknown>) => {
    completed++
    if (Exit.isSuccess(exit)) return
    const error = Cause.squash(exit.cause) as { readonly _tag?: unknown }
    if (Cause.hasDies(exit.cause) || typeof error._tag !== "string") untyped++
  }
  // Measured after a macrotask: the fiber that ran the last chunk still references its result
  // until then, which is not a leak.
  const snapshot = (label: string) =>
    Effect.sync(() => {
      heap.push(heapAfterGc())
      if (process.env.SOAK_HEAPSNAPSHOT === "1") v8.writeHeapSnapshot(`soak-${label}.heapsnapshot`)
    })
  const sequential = Math.min(1_000, Math.floor(runs / 10))
  // 100-way concurrent, in chunks of 1 000 so that a chunk's exits (a failed run's error, with its
  // partial response and causes, weighs ~25 KiB) are dropped before the next chunk starts.
  const concurrent = (from: number, to: number) =>
    Effect.gen(function* () {
      for (let start = from; start < to; start += 1_000) {
        const end = Math.min(to, start + 1_000)
        const exits = yield* Effect.forEach(
          Array.from({ length: end - start }, (_, i) => start + i),
          (i) => Effect.exit(oneRun(i)),
          { concurrency: 100 }
        )
        exits.forEach(check)
      }
    })
  const { weak, pooled } = yield* Effect.gen(function* () {
    for (let i = 0; i < sequential; i++) check(yield* Effect.exit(oneRun(i)))
    if (runs >= 1_000) {
      yield* concurrent(sequential, 1_000)
      yield* settle(100)
      yield* snapshot("1k")
      yield* concurrent(1_000, runs)
      yield* settle(100)
      yield* snapshot(`${runs}`)
    } else yield* concurrent(sequential, runs)
    // One more finished run whose state nothing keeps: only a WeakRef points at it.
    const weak = yield* assistant.run("ok:weak").pipe(Effect.map((result) => new WeakRef(result.state)))
    yield* settle(1000)
    return { weak, pooled: (yield* server.stats).live }
  }).pipe(
    Effect.provideService(Metric.FiberRuntimeMetrics, supervisor),
    Effect.provide(Layer.mergeAll(client, soakToolsLayer), { local: true })
  )
  yield* settle(300)
  const closed = (yield* server.stats).live
  yield* settle(100)
  const after = resources()
  process.off("warning", onWarning)
  yield* settle(10)
  gc()
  yield* settle(10)
  gc()

  report(
    "F02 runs with a typed outcome",
    `${completed - untyped}/${completed}`,
    `${runs}/${runs}`,
    untyped === 0 && completed === runs
  )
  const growth = heap.length === 2 ? (heap[1]! - heap[0]!) / MiB : undefined
  if (growth === undefined) report("F02 heap growth 1k → 10k runs (MiB)", "n/a (scaled)", "≤ 10", true)
  else report("F02 heap growth 1k → 10k runs (MiB)", growth.toFixed(2), "≤ 10", growth <= 10)
  report("F02 server connections after 1 s idle", String(pooled), "≤ 100 (pool)", pooled <= 100)
  report("F02 server connections after client release", String(closed), "0", closed === 0)
  report(
    "F02 leaked sockets",
    String(Math.max(0, after.sockets - before.sockets)),
    "0",
    after.sockets <= before.sockets
  )
  report("F02 leaked timers", String(Math.max(0, after.timers - before.timers)), "0", after.timers <= before.timers)
  report("F02 live fibers", String(fibers.started - fibers.ended), "0", fibers.started === fibers.ended)
  const maxListeners = warnings.filter((name) => name === "MaxListenersExceededWarning").length
  report("F02 MaxListenersExceededWarning", String(maxListeners), "0", maxListeners === 0)
  report(
    "F02 tool timeouts interrupted",
    `${sleepyCounts.interrupted}/${sleepyCounts.started}`,
    "all",
    sleepyCounts.interrupted === sleepyCounts.started
  )
  report(
    "F02 finished run's state collected",
    weak.deref() === undefined ? "yes" : "no",
    "yes",
    weak.deref() === undefined
  )
}).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------
// F05: keepalive streams
// ---------------------------------------------------------------------------------------------

const f05 = Effect.gen(function* () {
  const server = yield* keepaliveServer({ everyMs: 5000, holdMs: seconds * 1000 })
  const layer = ResponsesClient.layerUndici({
    baseUrl: server.baseUrl,
    apiKey: key,
    timeouts: { streamIdleMs: 15_000 }
  })
  const results = yield* Effect.gen(function* () {
    const responses = yield* ResponsesClient.ResponsesClient
    const open = (from: number, count: number) =>
      Effect.forEach(
        Array.from({ length: count }, (_, i) => from + i),
        (i) => Effect.exit(Stream.runLast(responses.stream({ model: "m", input: `stream ${i}`, stream: true }))),
        { concurrency: "unbounded" }
      ).pipe(Effect.forkChild)
    const warmCount = Math.max(1, Math.floor(streams / 10))
    const warm = yield* open(0, warmCount)
    yield* settle(1500)
    const before = heapAfterGc()
    const rest = yield* open(warmCount, streams - warmCount)
    yield* settle(Math.min(3000, seconds * 500))
    const live = (yield* server.stats).live
    const perStream = (heapAfterGc() - before) / Math.max(1, streams - warmCount)
    const exits = [...(yield* Fiber.join(warm)), ...(yield* Fiber.join(rest))]
    return { exits, perStream, live, completed: (yield* server.stats).completed }
  }).pipe(Effect.provide(layer))
  const failures = results.exits.filter(Exit.isFailure)
  const timeouts = failures.filter((exit) => String(Cause.squash(exit.cause)).includes("stream-idle")).length
  report("F05 streams held open at once", String(results.live), `${streams}`, results.live === streams)
  report("F05 stream-idle timeouts", String(timeouts), "0", timeouts === 0)
  report(
    "F05 streams completed",
    `${results.exits.length - failures.length}/${streams}`,
    `${streams}/${streams}`,
    failures.length === 0 && results.completed === streams
  )
  report(
    "F05 heap per idle stream (KiB)",
    (results.perStream / 1024).toFixed(1),
    "≤ 64",
    results.perStream <= 64 * 1024
  )
}).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------
// cancellation latency
// ---------------------------------------------------------------------------------------------

const cancellation = Effect.gen(function* () {
  const server = yield* serverWorker("cancellation")
  const marks = new Map<string, number>()
  yield* Effect.gen(function* () {
    const responses = yield* ResponsesClient.ResponsesClient
    yield* Effect.forEach(
      Array.from({ length: trials }, (_, i) => `trial ${i}`),
      (input) => {
        let deltas = 0
        return responses.stream({ model: "m", input, stream: true }).pipe(
          Stream.takeWhile((event) => {
            if (event.type === "response.output_text.delta") deltas++
            if (deltas < 3) return true
            marks.set(input, Date.now())
            return false
          }),
          Stream.runDrain,
          Effect.exit
        )
      },
      { concurrency: 20 }
    )
  }).pipe(Effect.provide(ResponsesClient.layerUndici({ baseUrl: server.baseUrl, apiKey: key })))
  yield* settle(500)
  const { requests, connections } = yield* server.stats
  const log = new Map(connections.map((entry) => [entry.id, entry]))
  const latencies: Array<number> = []
  for (const request of requests) {
    const mark = marks.get(request.input)
    const closedAt = log.get(request.connectionId)?.closedAt
    latencies.push(mark === undefined || closedAt === undefined ? Number.POSITIVE_INFINITY : closedAt - mark)
  }
  latencies.sort((a, b) => a - b)
  const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1] ?? Number.POSITIVE_INFINITY
  report("cancellation: requests after interruption", String(requests.length - trials), "0", requests.length === trials)
  report("cancellation latency p99 (ms)", Number.isFinite(p99) ? p99.toFixed(0) : "never closed", "≤ 100", p99 <= 100)
}).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------
// hostile server (issue 13)
// ---------------------------------------------------------------------------------------------

const Charge = Tool.make("charge", {
  description: "Charges a card",
  parameters: Schema.Struct({ amount: Schema.Number }),
  success: Schema.String
})
const HostileTools = Toolkit.make(Charge)
const charges = { count: 0 }
const hostileToolsLayer = HostileTools.toLayer({
  charge: () =>
    Effect.sync(() => {
      charges.count++
      return "charged"
    })
})
const hostileAgent = Agent.make({ name: "hostile", model: "m", toolkit: HostileTools })

/** A run's outcome as one word: `completed`, the typed error's tag (an agent's model error as `ModelError(<tag>)`), or `defect`. */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "completed"
  if (Cause.hasDies(exit.cause)) return "defect"
  if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
  const error = Cause.squash(exit.cause) as { readonly _tag?: unknown; readonly error?: { readonly _tag?: unknown } }
  if (typeof error._tag !== "string") return "untyped"
  return error._tag === "ModelError" ? `ModelError(${String(error.error?._tag)})` : error._tag
}

/**
 * Heap figures while a case runs: `held`, the heap after a forced GC every 50 ms (what the client
 * keeps: a per-event accumulation shows here), `peak`, the heap used sampled every 5 ms without a GC
 * (garbage included), and the peak RSS.
 */
const sampleHeap = () => {
  let held = 0
  let peak = 0
  let rss = 0
  const sample = () => {
    peak = Math.max(peak, v8.getHeapStatistics().used_heap_size)
    rss = Math.max(rss, process.memoryUsage.rss())
  }
  let ticks = 0
  const timer = setInterval(() => {
    sample()
    if (++ticks % 10 === 0) held = Math.max(held, heapAfterGc())
  }, 5)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      return { held, peak, rss }
    }
  }
}

const hostile = Effect.gen(function* () {
  const server = yield* serverWorker<HostileStats>("hostile")
  const MiBs = (bytes: number) => `${Math.round(bytes / MiB)} MiB`
  const withClient = <A, E>(use: (responses: ResponsesClient.ResponsesClient["Service"]) => Effect.Effect<A, E>) =>
    Effect.gen(function* () {
      return yield* use(yield* ResponsesClient.ResponsesClient)
    })
  const cases: ReadonlyArray<{
    readonly name: string
    readonly expected: string
    readonly run: Effect.Effect<
      unknown,
      unknown,
      ResponsesClient.ResponsesClient | Layer.Success<typeof hostileToolsLayer>
    >
  }> = [
    {
      name: `retry-field flood (${MiBs(floodBytes)} of retry: lines)`,
      expected: "ResponseTooLarge",
      run: withClient((responses) =>
        Stream.runDrain(responses.stream({ model: "m", input: "retry-flood", stream: true }))
      )
    },
    {
      name: `oversize JSON to create (${MiBs(oversizeBytes)}, chunked)`,
      expected: "ResponseTooLarge",
      run: withClient((responses) => responses.create({ model: "m", input: "json-oversize" }))
    },
    {
      name: `oversize JSON answer to stream (${MiBs(oversizeBytes)})`,
      expected: "ResponseTooLarge",
      run: withClient((responses) =>
        Stream.runDrain(responses.stream({ model: "m", input: "json-on-stream", stream: true }))
      )
    },
    {
      name: `tool arguments nested ${depth} deep`,
      expected: "completed",
      run: hostileAgent.run("deep-arguments")
    },
    {
      name: `output item nested ${depth} deep`,
      expected: "ModelError(ResponseDecodeError)",
      run: hostileAgent.run("deep-item")
    }
  ]
  const outcomes = cases.map(() => new Map<string, number>())
  const heldHeap = cases.map(() => 0)
  const peakHeap = cases.map(() => 0)
  const peakRss = cases.map(() => 0)
  const afterRound: Array<number> = []
  const firstMiss: Array<string | undefined> = cases.map(() => undefined)
  const baseline = heapAfterGc()
  const rssBefore = process.memoryUsage.rss()
  const started = Date.now()
  yield* Effect.gen(function* () {
    for (let round = 0; round < hostileRounds; round++) {
      for (const [i, hostileCase] of cases.entries()) {
        const sampler = sampleHeap()
        const exit = yield* hostileCase.run.pipe(Effect.timeout("60 seconds"), Effect.exit)
        const peak = sampler.stop()
        heldHeap[i] = Math.max(heldHeap[i]!, peak.held - baseline)
        peakHeap[i] = Math.max(peakHeap[i]!, peak.peak - baseline)
        peakRss[i] = Math.max(peakRss[i]!, peak.rss)
        const outcome = outcomeOf(exit)
        if (outcome !== hostileCase.expected && Exit.isFailure(exit))
          firstMiss[i] ??= String(Cause.squash(exit.cause)).slice(0, 160)
        outcomes[i]!.set(outcome, (outcomes[i]!.get(outcome) ?? 0) + 1)
      }
      yield* settle(50)
      afterRound.push(heapAfterGc())
    }
  }).pipe(
    Effect.provide(
      Layer.mergeAll(ResponsesClient.layerUndici({ baseUrl: server.baseUrl, apiKey: key }), hostileToolsLayer),
      { local: true }
    )
  )
  const stats = yield* server.stats
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  process.stdout.write(
    `hostile: ${hostileRounds} rounds of ${cases.length} cases in ${seconds} s; heap after GC before the phase ${(baseline / MiB).toFixed(1)} MiB, RSS ${(rssBefore / MiB).toFixed(0)} MiB\n`
  )
  for (const [i, hostileCase] of cases.entries()) {
    const seen = [...outcomes[i]!.entries()].map(([outcome, n]) => `${outcome}×${n}`).join(" ")
    const ok = outcomes[i]!.size === 1 && outcomes[i]!.get(hostileCase.expected) === hostileRounds
    report(`hostile ${hostileCase.name}`, seen, hostileCase.expected, ok)
    if (firstMiss[i] !== undefined) process.stdout.write(`  (first miss: ${JSON.stringify(firstMiss[i])})\n`)
    report(
      "  heap held mid-case, after GC (MiB over base)",
      (heldHeap[i]! / MiB).toFixed(1),
      "≤ 16",
      heldHeap[i]! <= 16 * MiB
    )
    // Young-generation garbage alone reaches ~50 MiB between scavenges; a 200 MiB body read whole or
    // a retry-field accumulation goes far past 128.
    report(
      "  peak heap used, no GC (MiB over base)",
      (peakHeap[i]! / MiB).toFixed(1),
      "≤ 128",
      peakHeap[i]! <= 128 * MiB
    )
    process.stdout.write(
      `  ${"(peak RSS with the server worker, MiB)".padEnd(44)} ${(peakRss[i]! / MiB).toFixed(0).padStart(16)}\n`
    )
  }
  report("hostile charge ran (too-deep arguments or item)", String(charges.count), "0", charges.count === 0)
  const fedBack = stats.outputs.filter((output) => output.length > 0).length
  report(
    "hostile too-deep arguments fed back to the model",
    `${fedBack}/${hostileRounds}`,
    `${hostileRounds}/${hostileRounds}`,
    fedBack === hostileRounds
  )
  if (stats.outputs[0] !== undefined)
    process.stdout.write(`  (fed back: ${JSON.stringify(stats.outputs[0].slice(0, 120))})\n`)
  const growth = afterRound.length >= 2 ? (afterRound[afterRound.length - 1]! - afterRound[0]!) / MiB : 0
  report(
    `hostile heap after GC, round 1 → ${hostileRounds} (MiB)`,
    `${(afterRound[0]! / MiB).toFixed(1)} → ${(afterRound[afterRound.length - 1]! / MiB).toFixed(1)}`,
    "growth ≤ 2",
    growth <= 2
  )
}).pipe(Effect.scoped)

const main = Effect.gen(function* () {
  process.stdout.write(
    `soak: SOAK_RUNS=${runs} SOAK_STREAMS=${streams} SOAK_SECONDS=${seconds}, ${trials} cancellation trials, SOAK_HOSTILE_ROUNDS=${hostileRounds}, SOAK_PHASES=${[...phases].join(",")}\n`
  )
  if (phases.has("f02")) yield* f02
  if (phases.has("cancellation")) yield* cancellation
  if (phases.has("f05")) yield* f05
  if (phases.has("hostile")) yield* hostile
})

await Effect.runPromise(main)
process.stdout.write(failed === 0 ? "soak: all targets met\n" : `soak: ${failed} target(s) missed\n`)
process.exit(failed === 0 ? 0 : 1)
