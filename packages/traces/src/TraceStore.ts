/**
 * Reads the sink's day files back into runs: every recorded span becomes a `Step` (agent, model call
 * or tool call) placed under its parent, and every step without a recorded parent is a run. Entry
 * points: `read(dir)` (one bounded pass over the folder), `build(records)` (pure, for tests) and
 * `summarise(run)` (the row of the runs list). Everything read from disk is bounded: the newest
 * `maxFiles` files, the last `maxFileBytes` of each, lines of at most `TraceRecord.maxLineBytes`,
 * `maxSteps` steps and `maxEventsPerStep` events. Gotcha: a step with no end line is "running"; a
 * process killed mid-run leaves such steps behind for good.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as TraceRecord from "./TraceRecord.ts"

/** Most day files read (the newest). */
export const maxFiles = 31

/** Most bytes read per file (its tail), 64 MiB. */
export const maxFileBytes = 64 * 1024 * 1024

/** Most steps kept over all files. */
export const maxSteps = 200_000

/** Most events kept per step. */
export const maxEventsPerStep = 256

/** What a step is, from its span name. */
export type StepKind = "agent" | "model" | "tool" | "other"

/** One recorded span with its children (sorted by start time). */
export interface Step {
  readonly spanId: string
  readonly traceId: string
  readonly parentId: string | undefined
  readonly name: string
  readonly kind: StepKind
  readonly start: number
  end: number | undefined
  outcome: TraceRecord.SpanEnd["outcome"] | undefined
  error: { readonly tag: string; readonly message: string } | undefined
  firstEventTime: number | undefined
  attributes: Record<string, TraceRecord.SpanStart["attributes"][string]>
  readonly events: Array<TraceRecord.SpanEvent>
  readonly children: Array<Step>
}

/** All runs (root steps), newest first, and a lookup by span id. */
export interface Runs {
  readonly runs: ReadonlyArray<Step>
  readonly bySpanId: ReadonlyMap<string, Step>
  /** Lines skipped as malformed or oversized, and files beyond the limits. */
  readonly skipped: number
}

/** One row of the runs list. */
export interface Summary {
  readonly id: string
  readonly agent: string
  readonly model: string
  readonly start: number
  readonly durationMs: number | undefined
  readonly turns: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly stopReason: string
  readonly running: boolean
}

/** The kind of a span name. */
export const kindOf = (name: string): StepKind =>
  name.startsWith("invoke_agent ")
    ? "agent"
    : name.startsWith("chat ")
      ? "model"
      : name.startsWith("execute_tool ")
        ? "tool"
        : "other"

/** Builds the runs from records in file order. */
export const build = (records: Iterable<TraceRecord.TraceRecord>, skipped = 0): Runs => {
  const bySpanId = new Map<string, Step>()
  for (const record of records) {
    switch (record.type) {
      case "start": {
        if (bySpanId.size >= maxSteps || bySpanId.has(record.spanId)) break
        bySpanId.set(record.spanId, {
          spanId: record.spanId,
          traceId: record.traceId,
          parentId: record.parentId,
          name: record.name,
          kind: kindOf(record.name),
          start: record.time,
          end: undefined,
          outcome: undefined,
          error: undefined,
          firstEventTime: undefined,
          attributes: { ...record.attributes },
          events: [],
          children: []
        })
        break
      }
      case "event": {
        const step = bySpanId.get(record.spanId)
        if (step !== undefined && step.events.length < maxEventsPerStep) step.events.push(record)
        break
      }
      case "end": {
        const step = bySpanId.get(record.spanId)
        if (step === undefined) break
        step.end = record.time
        step.outcome = record.outcome
        step.error = record.error
        step.firstEventTime = record.firstEventTime
        step.attributes = { ...step.attributes, ...record.attributes }
        break
      }
    }
  }
  const runs: Array<Step> = []
  for (const step of bySpanId.values()) {
    const parent = step.parentId === undefined ? undefined : bySpanId.get(step.parentId)
    if (parent === undefined) runs.push(step)
    else parent.children.push(step)
  }
  for (const step of bySpanId.values()) step.children.sort((a, b) => a.start - b.start)
  runs.sort((a, b) => b.start - a.start)
  return { runs, bySpanId, skipped }
}

/** Reads `dir` (bounded) and builds the runs; a missing folder has no runs. */
export const read = (dir: string): Effect.Effect<Runs> =>
  Effect.gen(function* () {
    const names = yield* readdir(dir)
    const files = names.filter(TraceRecord.isTraceFileName).sort()
    const kept = files.slice(-maxFiles)
    const records: Array<TraceRecord.TraceRecord> = []
    let skipped = files.length - kept.length
    for (const name of kept) {
      const text = yield* readTail(path.join(dir, name))
      for (const line of text.split("\n")) {
        if (line.length === 0) continue
        const record = TraceRecord.decodeLine(line)
        if (record === undefined) skipped++
        else records.push(record)
      }
    }
    return build(records, skipped)
  })

/** A cheap fingerprint of the folder (names, sizes, times) to tell whether anything changed. */
export const fingerprint = (dir: string): Effect.Effect<string> =>
  Effect.gen(function* () {
    const names = (yield* readdir(dir)).filter(TraceRecord.isTraceFileName).sort().slice(-maxFiles)
    const parts: Array<string> = []
    for (const name of names) {
      const stat = yield* statOf(path.join(dir, name))
      parts.push(`${name}:${stat?.size ?? 0}:${stat?.mtimeMs ?? 0}`)
    }
    return parts.join("|")
  })

/** Token usage of a step: its own attributes (an agent's include its sub-agents'). */
export const usageOf = (step: Step): { readonly input: number; readonly output: number } => ({
  input: numberAttribute(step, "gen_ai.usage.input_tokens") ?? 0,
  output: numberAttribute(step, "gen_ai.usage.output_tokens") ?? 0
})

/** A number attribute, or `undefined`. */
export const numberAttribute = (step: Step, key: string): number | undefined => {
  const value = step.attributes[key]
  return typeof value === "number" ? value : undefined
}

/** A string attribute, or `undefined`. */
export const stringAttribute = (step: Step, key: string): string | undefined => {
  const value = step.attributes[key]
  return typeof value === "string" ? value : undefined
}

/** The stop reason shown for a step: the agent's, else the error tag, else Running / Interrupted / Completed. */
export const stopReasonOf = (step: Step): string => {
  if (step.end === undefined) return "Running"
  const reason = stringAttribute(step, "volley.agent.stop_reason")
  if (reason !== undefined) return reason
  if (step.error !== undefined) return step.error.tag
  if (step.outcome === "interrupted") return "Interrupted"
  return "Completed"
}

/** Model calls of an agent step that failed and were followed by another call: restarted turns. */
export const restartedCalls = (agent: Step): ReadonlySet<string> => {
  const calls = agent.children.filter((child) => child.kind === "model")
  const restarted = new Set<string>()
  calls.forEach((call, index) => {
    if (call.outcome === "error" && index < calls.length - 1) restarted.add(call.spanId)
  })
  return restarted
}

/** Steps that are tool calls: tools, and sub-agents (which run as tool calls of their parent). */
const isCall = (step: Step): boolean => step.kind === "tool" || step.kind === "agent"

/** How many sibling tool calls (sub-agents included) overlap `step` in time: calls run in parallel. */
export const overlapping = (step: Step, siblings: ReadonlyArray<Step>): number => {
  const end = step.end ?? Number.POSITIVE_INFINITY
  let count = 0
  for (const other of siblings) {
    if (other === step || !isCall(other) || !isCall(step)) continue
    const otherEnd = other.end ?? Number.POSITIVE_INFINITY
    if (other.start < end && step.start < otherEnd) count++
  }
  return count
}

/** True when a run that started within the last hour has no end yet (a live page keeps ticking). */
export const hasRecentRun = (runs: Runs, now: number): boolean =>
  runs.runs.some((run) => run.end === undefined && now - run.start < 3_600_000)

/** The runs-list row of a run. */
export const summarise = (run: Step, now: number): Summary => {
  const usage = usageOf(run)
  const model = stringAttribute(run, "gen_ai.request.model") ?? ""
  const turns =
    numberAttribute(run, "volley.agent.turns") ??
    run.children.filter((child) => child.kind === "model").length - restartedCalls(run).size
  return {
    id: run.spanId,
    agent: stringAttribute(run, "gen_ai.agent.name") ?? run.name,
    model,
    start: run.start,
    durationMs: (run.end ?? now) - run.start,
    turns,
    inputTokens: usage.input,
    outputTokens: usage.output,
    stopReason: stopReasonOf(run),
    running: run.end === undefined
  }
}

const readdir = (dir: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.callback<ReadonlyArray<string>>((resume) => {
    fs.readdir(dir, (error, names) => resume(Effect.succeed(error === null ? names : [])))
  })

const statOf = (file: string): Effect.Effect<fs.Stats | undefined> =>
  Effect.callback<fs.Stats | undefined>((resume) => {
    fs.stat(file, (error, stat) => resume(Effect.succeed(error === null ? stat : undefined)))
  })

/** The last `maxFileBytes` of a file as text; a cut first line is dropped. */
const readTail = (file: string): Effect.Effect<string> =>
  Effect.callback<string>((resume) => {
    fs.open(file, "r", (openError, fd) => {
      if (openError !== null) return resume(Effect.succeed(""))
      fs.fstat(fd, (statError, stat) => {
        if (statError !== null) return fs.close(fd, () => resume(Effect.succeed("")))
        const length = Math.min(stat.size, maxFileBytes)
        const position = stat.size - length
        const buffer = Buffer.alloc(length)
        fs.read(fd, buffer, 0, length, position, (readError, bytesRead) => {
          fs.close(fd, () => {
            if (readError !== null) return resume(Effect.succeed(""))
            const text = buffer.subarray(0, bytesRead).toString("utf8")
            resume(Effect.succeed(position === 0 ? text : text.slice(text.indexOf("\n") + 1)))
          })
        })
      })
    })
  })
