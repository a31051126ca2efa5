/**
 * The trace file format: one JSON object per line (JSONL), one file per UTC day (`YYYY-MM-DD.jsonl`).
 * A span writes a `SpanStart` line when it opens, a `SpanEvent` line per span event and a `SpanEnd`
 * line with its final attributes and outcome; times are epoch milliseconds (fractions kept). Entry
 * points: the `TraceRecord` schema, `decodeLine` (bounded: oversized or malformed lines are skipped,
 * never fatal) and the limits every writer and reader shares. Gotcha: a span that was still open when
 * its process died has a start and no end; readers show it as "running" until its file stops growing.
 */
import * as Schema from "effect/Schema"

/** Largest line written or read, in UTF-8 bytes (64 KiB); a longer line is cut down or skipped. */
export const maxLineBytes = 64 * 1024

/** Largest string attribute value kept, in UTF-8 bytes (8 KiB, the size `CaptureContent` records). */
export const maxValueBytes = 8 * 1024

/** Most attributes kept per span or event (the rest are dropped and counted). */
export const maxAttributes = 64

/** Version of the line format (`v` on every line). */
export const version = 1

/** Attribute values after sanitising: JSON scalars or arrays of them. */
export const AttributeValue = Schema.Union([
  Schema.String,
  Schema.Number,
  Schema.Boolean,
  Schema.Array(Schema.Union([Schema.String, Schema.Number, Schema.Boolean]))
])

/** A span's or event's attributes. */
export const Attributes = Schema.Record(Schema.String, AttributeValue)

/** A span opened (`parentId` is the nearest recorded ancestor). */
export const SpanStart = Schema.Struct({
  v: Schema.Number,
  type: Schema.Literal("start"),
  traceId: Schema.String,
  spanId: Schema.String,
  parentId: Schema.optionalKey(Schema.String),
  name: Schema.String,
  time: Schema.Number,
  attributes: Attributes
})
/** A span opened. */
export type SpanStart = typeof SpanStart.Type

/** A span event (a retry, a stream `retry:` field, a mismatch…). */
export const SpanEvent = Schema.Struct({
  v: Schema.Number,
  type: Schema.Literal("event"),
  traceId: Schema.String,
  spanId: Schema.String,
  name: Schema.String,
  time: Schema.Number,
  attributes: Attributes
})
/** A span event. */
export type SpanEvent = typeof SpanEvent.Type

/** How a span ended. */
export const Outcome = Schema.Literals(["ok", "error", "interrupted"])

/** A span's typed failure: the error's `_tag` and its (redacted, bounded) message. */
export const SpanError = Schema.Struct({ tag: Schema.String, message: Schema.String })

/** A span closed, with its final attributes. `firstEventTime`: when the model's first event arrived. */
export const SpanEnd = Schema.Struct({
  v: Schema.Number,
  type: Schema.Literal("end"),
  traceId: Schema.String,
  spanId: Schema.String,
  time: Schema.Number,
  outcome: Outcome,
  error: Schema.optionalKey(SpanError),
  firstEventTime: Schema.optionalKey(Schema.Number),
  attributes: Attributes
})
/** A span closed. */
export type SpanEnd = typeof SpanEnd.Type

/** One line of a trace file. */
export const TraceRecord = Schema.Union([SpanStart, SpanEvent, SpanEnd])
/** One line of a trace file. */
export type TraceRecord = typeof TraceRecord.Type

const decodeJson = Schema.decodeUnknownOption(Schema.fromJsonString(TraceRecord))

/** One line decoded, or `undefined` when it is too long, not JSON, or not a record. */
export const decodeLine = (line: string): TraceRecord | undefined => {
  if (line.length === 0 || Buffer.byteLength(line, "utf8") > maxLineBytes) return undefined
  const decoded = decodeJson(line)
  return decoded._tag === "Some" ? decoded.value : undefined
}

/** The file name for records written at `epochMs`: `YYYY-MM-DD.jsonl` (UTC). */
export const fileNameFor = (epochMs: number): string => `${new Date(epochMs).toISOString().slice(0, 10)}.jsonl`

/** True for a trace file name (`YYYY-MM-DD.jsonl`). */
export const isTraceFileName = (name: string): boolean => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(name)
