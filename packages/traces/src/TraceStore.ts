/**
 * Reads the sink's day files back into runs: every recorded span becomes a `Step` (agent, model call
 * or tool call) placed under its parent, and every step without a recorded parent is a run (a resumed
 * run joins the run it resumes by run id: `segmentsOf`). `makeSqlSource()` reads the Postgres table of
 * `TraceSink.layerSql` the same way (bounded by rows and bytes). Entry
 * points: `read(dir)` (one bounded pass over the folder), `build(records)` (pure, for tests) and
 * `summarise(run)` (the row of the runs list). Everything read from disk is bounded: the newest
 * `maxFiles` files, the last `maxFileBytes` of each, lines of at most `TraceRecord.maxLineBytes`,
 * `maxSteps` steps and `maxEventsPerStep` events. Gotcha: a step with no end line is "running"; a
 * process killed mid-run leaves such steps behind for good.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as TraceRecord from "./TraceRecord.ts"

/** Most day files read (the newest). */
export const maxFiles = 31

/** Most bytes read per file (its tail), 64 MiB. */
export const maxFileBytes = 64 * 1024 * 1024

/** Most steps kept over all files. */
export const maxSteps = 200_000

/** Most records kept per file. */
export const maxRecordsPerFile = 1_000_000

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
  /** A run paused for approval: the run that resumed it (same `volley.agent.run_id`), joined by `build`. */
  resumedBy?: Step | undefined
  /** A resumed run: the segment it continues (it is not a run of its own in `runs`). */
  resumes?: Step | undefined
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
  const roots: Array<Step> = []
  for (const step of bySpanId.values()) {
    const parent = step.parentId === undefined ? undefined : bySpanId.get(step.parentId)
    if (parent === undefined) roots.push(step)
    else parent.children.push(step)
  }
  for (const step of bySpanId.values()) step.children.sort((a, b) => a.start - b.start)
  const runs = joinResumed(roots)
  runs.sort((a, b) => b.start - a.start)
  return { runs, bySpanId, skipped }
}

/**
 * Joins each resumed run (`volley.agent.resumed_from`) to the latest earlier segment with that run id
 * (`volley.agent.run_id`), oldest first, so a run paused for approval and its resumes are one run:
 * the first segment stays in the list, the others hang off it by `resumedBy`.
 */
const joinResumed = (roots: ReadonlyArray<Step>): Array<Step> => {
  const runs: Array<Step> = []
  const lastSegment = new Map<string, Step>()
  for (const root of [...roots].sort((a, b) => a.start - b.start)) {
    const from = root.kind === "agent" ? stringAttribute(root, "volley.agent.resumed_from") : undefined
    const previous = from === undefined ? undefined : lastSegment.get(from)
    if (previous !== undefined && previous.resumedBy === undefined) {
      previous.resumedBy = root
      root.resumes = previous
    } else runs.push(root)
    const runId = root.kind === "agent" ? stringAttribute(root, "volley.agent.run_id") : undefined
    if (runId !== undefined) lastSegment.set(runId, root)
  }
  return runs
}

/** Most segments of one joined run (a run paused and resumed again and again). */
export const maxSegments = 64

/** The segments of a run, oldest first: the run and every resume joined to it. */
export const segmentsOf = (run: Step): ReadonlyArray<Step> => {
  const segments = [run]
  for (let next = run.resumedBy; next !== undefined && segments.length < maxSegments; next = next.resumedBy)
    segments.push(next)
  return segments
}

/** The first segment of the run a step's segment belongs to (the step itself when it was not resumed). */
export const headOf = (step: Step): Step => {
  let head = step
  for (let hops = 0; head.resumes !== undefined && hops < maxSegments; hops++) head = head.resumes
  return head
}

/** Reads `dir` once (bounded) and builds the runs; a missing folder has no runs. */
export const read = (dir: string): Effect.Effect<Runs> => makeReader(dir).read

/** A reader of `dir` that keeps what it decoded: each `read` decodes only the bytes appended since the last. */
export interface Reader {
  readonly read: Effect.Effect<Runs>
}

/** What a reader keeps per day file. */
interface FileState {
  /** Bytes of the file consumed so far. */
  offset: number
  /** Bytes after the last newline (a line still being written). */
  partial: Buffer
  /** The next line is the rest of a line not kept (the read started mid-line, or the line was too long). */
  dropFirst: boolean
  readonly records: Array<TraceRecord.TraceRecord>
  skipped: number
}

/**
 * An incremental reader: per file, the decoded records and the offset read up to. A file that shrank
 * is read again from the start; one that grew by more than `maxFileBytes` (a limit tests may lower)
 * since the last read is read from its last `maxFileBytes` (earlier records dropped), like a first
 * read of a large file. A line still being written waits for its newline.
 */
export const makeReader = (dir: string, limits?: { readonly maxFileBytes?: number | undefined }): Reader => {
  const maxBytes = limits?.maxFileBytes ?? maxFileBytes
  const files = new Map<string, FileState>()
  const readFile = (name: string) =>
    Effect.gen(function* () {
      const file = path.join(dir, name)
      const size = (yield* statOf(file))?.size ?? 0
      let state = files.get(name)
      if (state === undefined || size < state.offset || size - state.offset > maxBytes) {
        const offset = Math.max(0, size - maxBytes)
        state = { offset, partial: Buffer.alloc(0), dropFirst: offset > 0, records: [], skipped: 0 }
        files.set(name, state)
      }
      if (size === state.offset) return state
      const bytes = yield* readRange(file, state.offset, size)
      state.offset += bytes.length
      const chunk = state.partial.length === 0 ? bytes : Buffer.concat([state.partial, bytes])
      // a newline byte never occurs inside a multi-byte UTF-8 character: cutting there is safe
      const lastNewline = chunk.lastIndexOf(0x0a)
      const lines = lastNewline < 0 ? [] : chunk.subarray(0, lastNewline).toString("utf8").split("\n")
      state.partial = lastNewline < 0 ? chunk : chunk.subarray(lastNewline + 1)
      if (lines.length > 0 && state.dropFirst) {
        lines.shift()
        state.dropFirst = false
      }
      if (state.partial.length > TraceRecord.maxLineBytes) {
        state.partial = Buffer.alloc(0)
        state.dropFirst = true
        state.skipped++
      }
      for (const line of lines) {
        if (line.length === 0) continue
        const record = TraceRecord.decodeLine(line)
        if (record === undefined || state.records.length >= maxRecordsPerFile) state.skipped++
        else state.records.push(record)
      }
      return state
    })
  return {
    read: Effect.gen(function* () {
      const names = (yield* readdir(dir)).filter(TraceRecord.isTraceFileName).sort()
      const kept = names.slice(-maxFiles)
      for (const name of files.keys()) if (!kept.includes(name)) files.delete(name)
      const states: Array<FileState> = []
      for (const name of kept) states.push(yield* readFile(name))
      const skipped = states.reduce((sum, state) => sum + state.skipped, names.length - kept.length)
      return build(
        states.flatMap((state) => state.records),
        skipped
      )
    })
  }
}

/** Where the server reads runs from: a folder of day files or the Postgres table. */
export interface Source {
  /** The folder, or a description of the table. */
  readonly where: string
  /** Changes whenever new lines were stored (cheap; polled by the server). */
  readonly fingerprint: Effect.Effect<string>
  /** The runs (incremental: only what was stored since the last read is decoded). */
  readonly read: Effect.Effect<Runs>
}

/** The day files under `dir`, read incrementally. */
export const fileSource = (dir: string): Source => ({
  where: dir,
  fingerprint: fingerprint(dir),
  read: makeReader(dir).read
})

/** Most rows of the SQL table kept in memory (the newest). */
export const maxRows = 200_000

/** Most rows fetched by one query of the SQL reader (a read pages through more). */
export const pageRows = 2_000

/** Most bytes of lines kept in memory by the SQL reader (the newest), 256 MiB. */
export const maxSqlBytes = 256 * 1024 * 1024

/**
 * The `volley_trace_lines` table (see `TraceSink.layerSql`) on the `SqlClient` in context, read
 * incrementally by id: the first read starts at the newest `maxRows` rows of the last `maxFiles` days,
 * later reads fetch only newer rows, `pageRows` at a time. Kept rows are capped by count (`maxRows`)
 * and bytes (`maxSqlBytes`), oldest dropped first; a line over `TraceRecord.maxLineBytes` is not
 * fetched (counted as skipped). A failing query keeps what was read before.
 */
export const makeSqlSource = (limits?: {
  readonly maxRows?: number | undefined
}): Effect.Effect<Source, never, SqlClient.SqlClient> =>
  Effect.map(Effect.service(SqlClient.SqlClient), (sql) => {
    const table = "volley_trace_lines"
    const rowCap = limits?.maxRows ?? maxRows
    let lastId = -1n
    let kept: Array<{ readonly record: TraceRecord.TraceRecord; readonly bytes: number }> = []
    let keptBytes = 0
    let skipped = 0
    const since = sql`day >= (current_date - ${maxFiles}::int)`
    const start = Effect.gen(function* () {
      if (lastId >= 0n) return
      const rows = yield* sql<{ readonly id: string }>`SELECT id::text AS id FROM ${sql(table)}
        WHERE ${since} ORDER BY id DESC OFFSET ${rowCap} LIMIT 1`
      lastId = rows.length === 0 ? 0n : BigInt(rows[0]!.id)
    })
    const fetchPage = (after: bigint) =>
      sql<{ readonly id: string; readonly line: string | null }>`SELECT id::text AS id,
          CASE WHEN octet_length(line) <= ${TraceRecord.maxLineBytes} THEN line END AS line
        FROM ${sql(table)} WHERE id > ${after.toString()}::bigint AND ${since} ORDER BY id LIMIT ${pageRows}`
    const readNew = Effect.gen(function* () {
      yield* start
      for (let pages = 0; pages < Math.ceil(rowCap / pageRows) + 1; pages++) {
        const rows = yield* fetchPage(lastId)
        for (const row of rows) {
          lastId = BigInt(row.id)
          const record = row.line === null ? undefined : TraceRecord.decodeLine(row.line)
          if (record === undefined) {
            skipped++
            continue
          }
          const bytes = row.line!.length
          kept.push({ record, bytes })
          keptBytes += bytes
        }
        if (rows.length < pageRows) break
      }
      let drop = 0
      while (drop < kept.length && (kept.length - drop > rowCap || keptBytes > maxSqlBytes)) {
        keptBytes -= kept[drop]!.bytes
        drop++
      }
      if (drop > 0) kept = kept.slice(drop)
    })
    return {
      where: `postgres table ${table}`,
      fingerprint: sql<{ readonly id: string | null }>`SELECT max(id)::text AS id FROM ${sql(table)}`.pipe(
        Effect.map((rows) => rows[0]?.id ?? "none"),
        Effect.catchCause(() => Effect.succeed("unavailable"))
      ),
      read: readNew.pipe(
        Effect.catchCause(() => Effect.void),
        Effect.map(() =>
          build(
            kept.map((entry) => entry.record),
            skipped
          )
        )
      )
    } satisfies Source
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
  runs.runs.some((run) => {
    const last = segmentsOf(run).at(-1)!
    return last.end === undefined && now - last.start < 3_600_000
  })

/**
 * The runs-list row of a run. A joined run (paused, then resumed) spans its first segment's start to
 * its last segment's end; turns, tokens and the stop reason are the last segment's (a resumed run
 * carries the totals of the run so far).
 */
export const summarise = (run: Step, now: number): Summary => {
  const last = segmentsOf(run).at(-1)!
  const usage = usageOf(last)
  const model = stringAttribute(run, "gen_ai.request.model") ?? ""
  const turns =
    numberAttribute(last, "volley.agent.turns") ??
    last.children.filter((child) => child.kind === "model").length - restartedCalls(last).size
  return {
    id: run.spanId,
    agent: stringAttribute(run, "gen_ai.agent.name") ?? run.name,
    model,
    start: run.start,
    durationMs: (last.end ?? now) - run.start,
    turns,
    inputTokens: usage.input,
    outputTokens: usage.output,
    stopReason: stopReasonOf(last),
    running: last.end === undefined
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

/** Bytes `[start, end)` of a file (fewer when it shrank meanwhile; none when it cannot be read). */
const readRange = (file: string, start: number, end: number): Effect.Effect<Buffer> =>
  Effect.callback<Buffer>((resume) => {
    fs.open(file, "r", (openError, fd) => {
      if (openError !== null) return resume(Effect.succeed(Buffer.alloc(0)))
      const buffer = Buffer.alloc(Math.max(0, end - start))
      fs.read(fd, buffer, 0, buffer.length, start, (readError, bytesRead) => {
        fs.close(fd, () => resume(Effect.succeed(readError === null ? buffer.subarray(0, bytesRead) : Buffer.alloc(0))))
      })
    })
  })
