/**
 * The run-trace sink: a `Tracer` that wraps the current one (so console or OTLP export keeps working)
 * and appends Volley's spans (`invoke_agent`, `chat`, `execute_tool`) and their events to one JSONL
 * file per UTC day under `dir` (default `.volley/traces`). Entry points: `layer(options)`,
 * `layerFromArgv(argv)` (on when `--trace` is present; into Postgres when `DATABASE_URL` is set and
 * `VOLLEY_TRACE_DIR` is not) and `argsWithoutTrace`. Writes never block a
 * span: lines are queued in memory (at most `maxPending`, the rest dropped and counted) and appended
 * every `flushInterval` and when the layer closes. Prompts, arguments and outputs are written only
 * when the run's `AgentKnobs.CaptureContent` is on (or `captureContent: true`); secrets never are.
 * `layerSql(options)` stores the same lines in the Postgres table `volley_trace_lines` instead (on the
 * `SqlClient` in context, e.g. `@volley/durable`'s `DurablePostgres` layers), one batched insert per flush.
 * Gotcha: provide this layer inside the OpenTelemetry layer (`Effect.provide(TraceSink.layer())`
 * first, then `Effect.provide(Tracing)`), or it wraps the default tracer instead of the OTel one.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Tracer from "effect/Tracer"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { AgentKnobs } from "@volley/agent"
import { Redaction } from "@volley/core"
import * as TraceRecord from "./TraceRecord.ts"

/** The sink's handle: where it writes, a flush on demand and how many lines it had to drop. */
export class TraceSink extends Context.Service<
  TraceSink,
  {
    /** The folder the day files are written to (absolute), or `postgres table volley_trace_lines`. */
    readonly dir: string
    /** Appends every queued line now. */
    readonly flush: Effect.Effect<void>
    /** Lines dropped because the queue was full or a write failed. */
    readonly dropped: Effect.Effect<number>
  }
>()("@volley/traces/TraceSink") {}

/** Options of the sink. */
export interface Options {
  /** Folder of the day files (default `.volley/traces`, relative to the working directory). */
  readonly dir?: string | undefined
  /** Record content even when the run's `CaptureContent` knob is off (default: follow the knob). */
  readonly captureContent?: boolean | undefined
  /** Values redacted from every line (API keys); key-shaped tokens are redacted regardless. */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
  /** How often queued lines are appended (default 100 ms). */
  readonly flushInterval?: Duration.Input | undefined
  /** Most lines queued between two flushes (default 10,000); more are dropped and counted. */
  readonly maxPending?: number | undefined
}

/** The default folder of the day files. */
export const defaultDir = ".volley/traces"

/** The flag that turns the sink on in the demo and the examples. */
export const flag = "--trace"

/** Span names the sink records (prefixes of Volley's GenAI spans). */
export const recordedPrefixes: ReadonlyArray<string> = ["invoke_agent ", "chat ", "execute_tool "]

/** Attributes that carry content (prompts, items, arguments, outputs): kept only when capturing. */
export const contentAttributes: ReadonlyArray<string> = [
  "gen_ai.input.messages",
  "gen_ai.output.messages",
  "gen_ai.system_instructions",
  "gen_ai.output.text",
  "gen_ai.tool.call.arguments",
  "gen_ai.tool.call.result"
]

/**
 * Where a flush puts its lines: `append` gets them grouped by UTC day (`YYYY-MM-DD`) and returns how
 * many it could not store (counted as dropped).
 */
export interface Storage {
  /** Shown as the sink's `dir`: the folder, or a description of the table. */
  readonly where: string
  /** Stores one flush's lines, by day; returns how many were lost. */
  readonly append: (byDay: ReadonlyMap<string, ReadonlyArray<string>>) => Effect.Effect<number>
}

/** The table of `layerSql`: `(id bigserial, day date, line text, created_at timestamptz)`. */
export const table = "volley_trace_lines"

/** Most rows in one `INSERT` of `layerSql` (a flush of more is split). */
export const maxRowsPerInsert = 1000

/** Creates the `layerSql` table and its day index when missing. */
export const migrate: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
    id bigserial PRIMARY KEY,
    day date NOT NULL,
    line text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`
  yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_day`)} ON ${sql(table)} (day)`
})

/** Storage in one JSONL file per UTC day under `dir` (created when missing). */
export const fileStorage = (dir: string): Effect.Effect<Storage> =>
  Effect.callback<void>((resume) => {
    fs.mkdir(dir, { recursive: true }, () => resume(Effect.void))
  }).pipe(
    Effect.as({
      where: dir,
      append: (byDay) =>
        Effect.map(
          Effect.forEach(byDay, ([day, lines]) =>
            Effect.callback<number>((resume) => {
              fs.appendFile(path.join(dir, `${day}.jsonl`), `${lines.join("\n")}\n`, (error) => {
                resume(Effect.succeed(error === null ? 0 : lines.length))
              })
            })
          ),
          (lost) => lost.reduce((sum, n) => sum + n, 0)
        )
    })
  )

/** Storage in the `volley_trace_lines` table on the `SqlClient` in context (created when missing). */
export const sqlStorage: Effect.Effect<Storage, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* migrate
  return {
    where: `postgres table ${table}`,
    append: (byDay) => {
      const rows: Array<{ readonly day: string; readonly line: string }> = []
      for (const [day, lines] of byDay) for (const line of lines) rows.push({ day, line })
      const chunks: Array<Arr.NonEmptyReadonlyArray<(typeof rows)[number]>> = []
      for (let i = 0; i < rows.length; i += maxRowsPerInsert) {
        const chunk = rows.slice(i, i + maxRowsPerInsert)
        if (Arr.isReadonlyArrayNonEmpty(chunk)) chunks.push(chunk)
      }
      return Effect.map(
        Effect.forEach(chunks, (chunk) =>
          sql`INSERT INTO ${sql(table)} ${sql.insert(chunk)}`.pipe(
            Effect.as(0),
            Effect.catchCause(() => Effect.succeed(chunk.length))
          )
        ),
        (lost) => lost.reduce((sum, n) => sum + n, 0)
      )
    }
  } satisfies Storage
})

/** Builds the sink in the current scope and returns a tracer wrapping `inner`. */
export const make = Effect.fnUntraced(function* (inner: Tracer.Tracer, options: Options = {}) {
  const storage = yield* fileStorage(path.resolve(options.dir ?? defaultDir))
  return yield* makeWith(inner, storage, options)
})

/** Builds the sink on the given storage in the current scope and returns a tracer wrapping `inner`. */
export const makeWith = Effect.fnUntraced(function* (inner: Tracer.Tracer, storage: Storage, options: Options = {}) {
  const dir = storage.where
  const needles = Redaction.secretNeedles(
    (options.secrets ?? []).map((secret) => (typeof secret === "string" ? secret : Redacted.value(secret)))
  )
  const writer = makeWriter(storage, options.maxPending ?? 10_000)
  const interval = options.flushInterval ?? Duration.millis(100)
  yield* Effect.forkScoped(Effect.repeat(writer.flush, Schedule.spaced(interval)))
  yield* Effect.addFinalizer(() => writer.flush)
  const settings: Settings = { writer, needles, forceContent: options.captureContent === true, memo: new Map() }
  const tracer = wrapTracer(inner, settings)
  const sink = TraceSink.of({ dir, flush: writer.flush, dropped: Effect.sync(() => writer.dropped) })
  return { tracer, sink }
})

/** The sink around the current tracer: provides `Tracer.Tracer` (wrapped) and `TraceSink`. */
export const layer = (options: Options = {}): Layer.Layer<TraceSink> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const inner = yield* Tracer.Tracer
      const { tracer, sink } = yield* make(inner, options)
      return Context.make(TraceSink, sink).pipe(Context.add(Tracer.Tracer, tracer))
    })
  )

/**
 * The sink storing its lines in Postgres (table `volley_trace_lines`, created when missing) on the
 * `SqlClient` in context; `dir` is ignored. Same lines, redaction and limits as `layer`.
 */
export const layerSql = (options: Options = {}): Layer.Layer<TraceSink, SqlError, SqlClient.SqlClient> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const inner = yield* Tracer.Tracer
      const storage = yield* sqlStorage
      const { tracer, sink } = yield* makeWith(inner, storage, options)
      return Context.make(TraceSink, sink).pipe(Context.add(Tracer.Tracer, tracer))
    })
  )

/** True when `argv` asks for tracing (`--trace`). */
export const wantsTrace = (argv: ReadonlyArray<string>): boolean => argv.includes(flag)

/** `argv` without the `--trace` flag (for a program's own argument parser). */
export const argsWithoutTrace = (argv: ReadonlyArray<string>): Array<string> => argv.filter((arg) => arg !== flag)

/**
 * The sink when `argv` contains `--trace` (else an empty layer). With `DATABASE_URL` set and no
 * `VOLLEY_TRACE_DIR`, lines go to the Postgres table (`layerSql`), where `volley-traces` reads by
 * default; otherwise to `VOLLEY_TRACE_DIR` or `.volley/traces`. A database that cannot be used
 * (unreachable, no rights to create the table) falls back to the folder with one line on stderr
 * saying why. `HAOAI_API_KEY`, when set, is redacted by value.
 */
export const layerFromArgv = (argv: ReadonlyArray<string>): Layer.Layer<never> =>
  wantsTrace(argv)
    ? Layer.unwrap(
        Effect.gen(function* () {
          const dir = yield* Config.option(Config.String("VOLLEY_TRACE_DIR"))
          const databaseUrl = yield* Config.option(Config.Redacted("DATABASE_URL"))
          const key = yield* Config.option(Config.Redacted("HAOAI_API_KEY"))
          const options: Options = { secrets: Option.isSome(key) ? [key.value] : [] }
          const files = layer({ ...options, dir: Option.getOrElse(dir, () => defaultDir) })
          if (Option.isSome(dir) || Option.isNone(databaseUrl)) return files
          return layerSql(options).pipe(
            Layer.provide(pgClient(databaseUrl.value)),
            Layer.catchCause((cause) =>
              Layer.merge(
                files,
                Layer.effectDiscard(
                  Effect.sync(() =>
                    process.stderr.write(
                      `volley: traces go to ${defaultDir}: the database in DATABASE_URL could not be used (${databaseFailure(cause)})\n`
                    )
                  )
                )
              )
            )
          )
        }).pipe(Effect.orElseSucceed(() => layer()))
      )
    : Layer.empty

/** The trace database's client; `@effect/sql-pg` (and `pg`) load only when it is used. */
const pgClient = (url: Redacted.Redacted<string>) =>
  Layer.unwrap(
    Effect.map(
      Effect.promise(() => import("@effect/sql-pg")),
      ({ PgClient }) =>
        PgClient.layer({
          url,
          applicationName: "volley-trace-sink",
          // a database that does not answer costs the program at most this, then files
          connectTimeout: Duration.seconds(5),
          maxConnections: 2
        })
    )
  )

/** One line about why the trace database could not be used, without credentials. */
const databaseFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return Redaction.truncateUtf8(Redaction.redactCredentials(text.split("\n")[0] ?? ""), 300)
}

// ---------------------------------------------------------------------------------------------
// internals
// ---------------------------------------------------------------------------------------------

interface Settings {
  readonly writer: Writer
  readonly needles: ReadonlyArray<string>
  readonly forceContent: boolean
  /** Redacted forms of short strings seen before (at most 4,096, then cleared). */
  readonly memo: Map<string, string>
}

/** A line to write: built when flushed (a start line then carries the attributes set right after it). */
interface Pending {
  readonly time: number
  readonly build: () => string | undefined
}

interface Writer {
  readonly push: (pending: Pending) => void
  readonly flush: Effect.Effect<void>
  dropped: number
}

const makeWriter = (storage: Storage, maxPending: number): Writer => {
  let queue: Array<Pending> = []
  const writer: Writer = {
    dropped: 0,
    push: (pending) => {
      if (queue.length >= maxPending) writer.dropped++
      else queue.push(pending)
    },
    flush: Effect.suspend(() => {
      if (queue.length === 0) return Effect.void
      const batch = queue
      queue = []
      const byDay = new Map<string, Array<string>>()
      for (const pending of batch) {
        const line = pending.build()
        if (line === undefined) continue
        const day = TraceRecord.fileNameFor(pending.time).slice(0, 10)
        const lines = byDay.get(day)
        if (lines === undefined) byDay.set(day, [line])
        else lines.push(line)
      }
      if (byDay.size === 0) return Effect.void
      return Effect.map(storage.append(byDay), (lost) => {
        writer.dropped += lost
      })
    })
  }
  return writer
}

const isRecorded = (name: string): boolean => recordedPrefixes.some((prefix) => name.startsWith(prefix))

/** Recording spans by the inner span they wrap, to find a recorded ancestor through unrecorded spans. */
const recordedByInner = new WeakMap<Tracer.AnySpan, RecordingSpan>()

const unwrap = (span: Tracer.AnySpan): Tracer.AnySpan => (span instanceof RecordingSpan ? span.inner : span)

/** The nearest recorded ancestor's span id (at most 64 steps up). */
const recordedParentId = (parent: Option.Option<Tracer.AnySpan>): string | undefined => {
  let current = Option.getOrUndefined(parent)
  for (let depth = 0; current !== undefined && depth < 64; depth++) {
    if (current instanceof RecordingSpan) return current.spanId
    const recorded = recordedByInner.get(current)
    if (recorded !== undefined) return recorded.spanId
    current = current._tag === "Span" ? Option.getOrUndefined(current.parent) : undefined
  }
  return undefined
}

const wrapTracer = (inner: Tracer.Tracer, settings: Settings): Tracer.Tracer =>
  Tracer.make({
    span: (options) => {
      const parent = Option.map(options.parent, unwrap)
      const span = inner.span({ ...options, parent })
      if (!isRecorded(options.name)) return span
      const fiber = Fiber.getCurrent()
      const capture = settings.forceContent || fiber?.getRef(AgentKnobs.CaptureContent) === true
      const clock = fiber?.getRef(Clock.Clock)
      const recording = new RecordingSpan(span, options.parent, settings, capture, () =>
        clock === undefined ? Date.now() : toMillis(clock.currentTimeNanosUnsafe())
      )
      recordedByInner.set(span, recording)
      recording.start(recordedParentId(options.parent), options.startTime)
      return recording
    },
    ...(inner.context === undefined ? {} : { context: inner.context })
  })

const toMillis = (nanos: bigint): number => Number(nanos / 1000n) / 1000

/** A span that forwards everything to the inner span and records its start, events and end. */
class RecordingSpan implements Tracer.Span {
  readonly _tag = "Span"
  private readonly recorded = new Map<string, unknown>()
  private firstEventTime: number | undefined = undefined
  readonly inner: Tracer.Span
  readonly parent: Option.Option<Tracer.AnySpan>
  private readonly settings: Settings
  private readonly capture: boolean
  private readonly now: () => number
  constructor(
    inner: Tracer.Span,
    parent: Option.Option<Tracer.AnySpan>,
    settings: Settings,
    capture: boolean,
    now: () => number
  ) {
    this.inner = inner
    this.parent = parent
    this.settings = settings
    this.capture = capture
    this.now = now
  }
  get name() {
    return this.inner.name
  }
  get spanId() {
    return this.inner.spanId
  }
  get traceId() {
    return this.inner.traceId
  }
  get annotations() {
    return this.inner.annotations
  }
  get status() {
    return this.inner.status
  }
  get attributes() {
    return this.inner.attributes
  }
  get links() {
    return this.inner.links
  }
  get sampled() {
    return this.inner.sampled
  }
  get kind() {
    return this.inner.kind
  }
  // Lines are built when the writer flushes, off the span's caller: a span only queues a closure.
  start(parentId: string | undefined, startTime: bigint): void {
    const time = toMillis(startTime)
    this.settings.writer.push({
      time,
      build: () =>
        line({
          v: TraceRecord.version,
          type: "start",
          traceId: this.traceId,
          spanId: this.spanId,
          ...(parentId === undefined ? {} : { parentId }),
          name: redact(this.settings, this.name),
          time,
          attributes: this.attributesNow()
        })
    })
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.inner.end(endTime, exit)
    const time = toMillis(endTime)
    const outcome = outcomeOf(exit, this.settings)
    const firstEventTime = this.firstEventTime
    this.settings.writer.push({
      time,
      build: () =>
        line({
          v: TraceRecord.version,
          type: "end",
          traceId: this.traceId,
          spanId: this.spanId,
          time,
          ...outcome,
          ...(firstEventTime === undefined ? {} : { firstEventTime }),
          attributes: this.attributesNow()
        })
    })
  }
  attribute(key: string, value: unknown): void {
    this.inner.attribute(key, value)
    if (this.recorded.size < TraceRecord.maxAttributes || this.recorded.has(key)) this.recorded.set(key, value)
    if (key === "gen_ai.response.id" && this.firstEventTime === undefined) this.firstEventTime = this.now()
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.inner.event(name, startTime, attributes)
    const time = toMillis(startTime)
    const entries = Object.entries(attributes ?? {})
    this.settings.writer.push({
      time,
      build: () =>
        line({
          v: TraceRecord.version,
          type: "event",
          traceId: this.traceId,
          spanId: this.spanId,
          name: redact(this.settings, name),
          time,
          attributes: sanitise(entries, this.capture, this.settings)
        })
    })
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.inner.addLinks(links)
  }
  private attributesNow(): TraceRecord.SpanStart["attributes"] {
    return sanitise(this.recorded.entries(), this.capture, this.settings)
  }
}

/**
 * A record as one line of at most `maxLineBytes` (attributes dropped when over). Every string in it
 * was redacted where it was built (names, attribute keys and values, error messages); ids are hex.
 */
const line = (record: TraceRecord.TraceRecord): string => {
  const text = JSON.stringify(record)
  // a UTF-8 byte count is needed only when the line could be over (at most 3 bytes per UTF-16 unit)
  if (text.length * 3 <= TraceRecord.maxLineBytes || Buffer.byteLength(text, "utf8") <= TraceRecord.maxLineBytes)
    return text
  const slim = { ...record, attributes: { "volley.trace.attributes_dropped": true } }
  if ("error" in slim && slim.error !== undefined)
    slim.error = { tag: slim.error.tag, message: Redaction.truncateUtf8(slim.error.message, 1024) }
  return JSON.stringify(slim)
}

/** `Redaction.redactWith` with the sink's needles, memoised for short repeated strings (names, keys). */
const redact = (settings: Settings, text: string): string => {
  if (text.length > 128) return Redaction.redactWith(text, settings.needles)
  const known = settings.memo.get(text)
  if (known !== undefined) return known
  const redacted = Redaction.redactWith(text, settings.needles)
  if (settings.memo.size >= 4096) settings.memo.clear()
  settings.memo.set(text, redacted)
  return redacted
}

type Scalar = string | number | boolean

const scalarOf = (value: unknown, settings: Settings): Scalar | undefined => {
  switch (typeof value) {
    case "string":
      return Redaction.truncateUtf8(redact(settings, value), TraceRecord.maxValueBytes)
    case "number":
      return Number.isFinite(value) ? value : String(value)
    case "boolean":
      return value
    case "bigint":
      return value.toString()
    case "object":
      if (value === null) return undefined
      return Redaction.truncateUtf8(redact(settings, JSON.stringify(value) ?? ""), TraceRecord.maxValueBytes)
    default:
      return undefined
  }
}

/** Attributes as JSON scalars (or arrays of at most 64), redacted, without content unless `capture`. */
const sanitise = (
  entries: Iterable<readonly [string, unknown]>,
  capture: boolean,
  settings: Settings
): Record<string, TraceRecord.SpanStart["attributes"][string]> => {
  const out: Record<string, TraceRecord.SpanStart["attributes"][string]> = {}
  let count = 0
  for (const [key, value] of entries) {
    if (count >= TraceRecord.maxAttributes) break
    if (!capture && contentAttributes.includes(key)) continue
    const kept = Array.isArray(value)
      ? value.slice(0, 64).flatMap((item) => {
          const scalar = scalarOf(item, settings)
          return scalar === undefined ? [] : [scalar]
        })
      : scalarOf(value, settings)
    if (kept === undefined) continue
    out[redact(settings, key)] = kept
    count++
  }
  return out
}

/** The outcome of a span's exit: ok, interrupted, or the typed error's tag and redacted message. */
const outcomeOf = (
  exit: Exit.Exit<unknown, unknown>,
  settings: Settings
): { readonly outcome: "ok" | "error" | "interrupted"; readonly error?: { tag: string; message: string } } => {
  if (Exit.isSuccess(exit)) return { outcome: "ok" }
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isNone(failure)) {
    if (Cause.hasInterrupts(exit.cause)) return { outcome: "interrupted" }
    const defect = Cause.squash(exit.cause)
    return { outcome: "error", error: { tag: "Defect", message: messageOf(defect, settings.needles) } }
  }
  const error = failure.value
  const tag =
    typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
      ? error._tag
      : error instanceof Error
        ? error.name
        : "Error"
  return { outcome: "error", error: { tag: redact(settings, tag), message: messageOf(error, settings.needles) } }
}

const messageOf = (error: unknown, needles: ReadonlyArray<string>): string =>
  Redaction.truncateUtf8(
    Redaction.redactWith(error instanceof Error ? error.message : String(error), needles),
    Redaction.maxExcerptBytes
  )
