/**
 * `@volley/traces`: see every run. `TraceSink` records Volley's spans to local JSONL day files (or Postgres),
 * `TraceRecord` is that file format, `TraceStore` reads the files back into runs, and `TraceServer`
 * serves them as a local web page (`volley-traces`, `npm run traces`).
 */
/** The sink: a tracer that writes Volley's spans to `.volley/traces/YYYY-MM-DD.jsonl`. */
export * as TraceSink from "./TraceSink.ts"
/** The JSONL line format and its limits. */
export * as TraceRecord from "./TraceRecord.ts"
/** Reads the day files (or the Postgres table) back into runs (bounded). */
export * as TraceStore from "./TraceStore.ts"
/** The local web page of every run. */
export * as TraceServer from "./TraceServer.ts"
