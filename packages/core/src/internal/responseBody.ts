/**
 * What both transports decide about a request and its response, as pure functions: the headers of
 * one attempt (`headersFor`), what a status and content type call for (`classify`), the typed
 * failure of a non-2xx answer (`statusFailure`), decoding a JSON body (`decodeJsonResponse`,
 * `jsonStreamStart`), and the failures of a broken or stalled stream (`streamFailure`). http.ts and
 * undici.ts only do I/O around these, so the two paths cannot drift apart.
 * Gotcha: header names are lower-cased here, once: undici would send two spellings of one name.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as SchemaIssue from "effect/SchemaIssue"
import {
  ResponseDecodeError,
  ResponseFailed,
  type ResponsesError,
  ResponseTooLarge,
  StreamProtocolError
} from "../ResponsesError.ts"
import * as ResponseAccumulator from "../ResponseAccumulator.ts"
import { decodeResponseUnsafe, type Response, type StreamEvent } from "../ResponsesSchema.ts"
import type * as RetryPolicy from "../RetryPolicy.ts"
import {
  type AttemptFailure,
  fromStatus,
  fromTransport,
  isRetryableCode,
  parseJsonOrUndefined,
  timeout
} from "./errors.ts"
import { decodeResponseFast } from "./fastDecode.ts"
import { exceedsDepth, maxJsonDepth } from "./jsonDepth.ts"
import { redactWith, truncateUtf8 } from "../Redaction.ts"
import { parseRetryAfter } from "./retryAfter.ts"
import type { DecodeOptions } from "./sse.ts"
import { type CallInput, type Endpoint, noMoreEvents, type StreamAttempt, type StreamStart } from "./transport.ts"

/**
 * The headers of one attempt (`resend` = 0 for the first HTTP attempt of the call), lower-cased:
 * static < accept < per-call < auth < attempt counter < idempotency key. The content type goes with
 * the body (each transport sets it), trace propagation with the attempt span.
 */
export const headersFor = (endpoint: Endpoint, input: CallInput, resend: number): Record<string, string> => {
  const headers: Record<string, string> = { ...endpoint.headers, accept: input.accept }
  if (input.headers !== undefined) Object.assign(headers, lowerCased(input.headers))
  if (endpoint.auth !== undefined) headers[endpoint.auth[0]] = Redacted.value(endpoint.auth[1])
  if (endpoint.attemptHeader !== undefined) headers[endpoint.attemptHeader] = String(resend)
  if (endpoint.idempotencyHeader !== undefined && input.idempotencyKey !== undefined) {
    headers[endpoint.idempotencyHeader] = input.idempotencyKey
  }
  return headers
}

/** `headers` with lower-cased names (a later spelling of a name wins). */
export const lowerCased = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in headers) out[name.toLowerCase()] = headers[name]!
  return out
}

/** What a response calls for: a status failure, a JSON body, an SSE body, or an unexpected content type. */
export type BodyKind = "status" | "json" | "sse" | "unexpected"

/** Classifies a response by its status and `content-type` header (`create` reads any 2xx body as JSON). */
export const classify = (status: number, contentType: string | undefined, streaming: boolean): BodyKind => {
  if (status < 200 || status >= 300) return "status"
  if (!streaming) return "json"
  const media = mediaType(contentType)
  return media === "text/event-stream" ? "sse" : media === "application/json" ? "json" : "unexpected"
}

/** The media type of a `content-type` header, lower-cased, without parameters ("" when absent). */
export const mediaType = (header: string | undefined): string => (header ?? "").split(";")[0]!.trim().toLowerCase()

/** The typed failure of a non-2xx response with `body` (what could be read of it) at `nowMs`. */
export const statusFailure = (
  endpoint: Endpoint,
  policy: RetryPolicy.RetryPolicy,
  status: number,
  header: (name: string) => string | undefined,
  body: string,
  nowMs: number
): AttemptFailure =>
  fromStatus({
    status,
    header,
    body,
    retryStatuses: policy.retryStatuses,
    needles: endpoint.needles,
    retryAfter: parseRetryAfter(header, nowMs)
  })

/** A stream call answered with a whole JSON response (B12 leniency): its events, replayed. */
export const jsonStreamStart = (
  text: string,
  requestId: string | undefined,
  endpoint: Endpoint
): Effect.Effect<StreamStart, AttemptFailure> =>
  Effect.map(
    decodeJsonResponse(text, requestId, endpoint, true),
    (final): StreamStart => ({ first: synthesizeEvents(final), rest: noMoreEvents })
  )

/** A stream call answered with neither SSE nor JSON: `StreamProtocolError{UnexpectedContentType}` with an excerpt. */
export const unexpectedContentType = (
  contentType: string | undefined,
  body: string,
  requestId: string | undefined,
  endpoint: Endpoint
): AttemptFailure =>
  notRetryable(
    new StreamProtocolError({
      message: truncateUtf8(
        `expected text/event-stream, got ${truncateUtf8(mediaType(contentType) || "no content type", 100)}: ${truncateUtf8(redactWith(body, endpoint.needles), 200)}`,
        1024
      ),
      retryable: false,
      attempts: 1,
      causes: [],
      reason: "UnexpectedContentType",
      eventIndex: -1,
      ...(requestId === undefined ? {} : { requestId })
    })
  )

/** `ResponseTooLarge{body: "json"}` for a JSON body over `maxBytes` (not retryable: the same answer would come). */
export const jsonTooLarge = (maxBytes: number, requestId: string | undefined): AttemptFailure =>
  notRetryable(
    new ResponseTooLarge({
      message: `the JSON response body exceeded the maximum of ${maxBytes} bytes`,
      retryable: false,
      attempts: 1,
      causes: [],
      body: "json",
      maxBytes,
      ...(requestId === undefined ? {} : { requestId })
    })
  )

/** The SSE decoder options of one stream attempt, with the accumulator the decoder folds every event into. */
export const decoderOptions = (
  endpoint: Endpoint,
  { state, hooks }: StreamAttempt,
  requestId: string | undefined
): DecodeOptions & { readonly accumulator: ResponseAccumulator.ResponseAccumulator } => ({
  maxEventSize: endpoint.maxEventSize,
  maxStreamBytes: endpoint.maxStreamBytes,
  attempts: state.attempts + 1,
  ...(requestId === undefined ? {} : { requestId }),
  onRetryField: hooks.onRetryField,
  secrets: endpoint.needles,
  accumulator: ResponseAccumulator.make({ onMismatch: hooks.onMismatch, onWarning: hooks.onWarning })
})

/** Why an SSE body stopped giving events before its end. */
export type StreamStop =
  | { readonly _tag: "StreamIdle" }
  | { readonly _tag: "ContentIdle" }
  | { readonly _tag: "Broken"; readonly cause: unknown }

/** The failure of a stream that stalled or broke, with the partial response once events were delivered. */
export const streamFailure = (stop: StreamStop, endpoint: Endpoint, partial: Response | undefined): AttemptFailure => {
  const { streamIdleMs, contentIdleMs, connectMs } = endpoint.timeouts
  switch (stop._tag) {
    case "StreamIdle":
      return timeout("stream-idle", streamIdleMs, partial)
    case "ContentIdle":
      return timeout("content-idle", contentIdleMs ?? 0, partial)
    case "Broken":
      return fromTransport(stop.cause, "stream", connectMs, partial)
  }
}

/**
 * A `RangeError` while folding a stream (a string or array past what V8 can hold) is
 * `ResponseTooLarge{body: "stream"}` without a partial; anything else is a bug (`undefined`: it dies).
 */
export const outOfMemoryFailure = (defect: unknown, endpoint: Endpoint): AttemptFailure | undefined =>
  defect instanceof RangeError
    ? notRetryable(
        new ResponseTooLarge({
          message: "the stream grew beyond what this process can hold",
          retryable: false,
          attempts: 1,
          causes: [],
          body: "stream",
          maxBytes: endpoint.maxStreamBytes
        })
      )
    : undefined

/** Decodes a JSON response body; `failed` / non-final statuses become typed errors. */
export const decodeJsonResponse = (
  text: string,
  requestId: string | undefined,
  endpoint: Endpoint,
  streaming = false
): Effect.Effect<Response, AttemptFailure> => {
  const id = requestId === undefined ? {} : { requestId }
  const decodeError = (message: string, path: string) =>
    Effect.fail(
      notRetryable(new ResponseDecodeError({ message, retryable: false, attempts: 1, causes: [], path, ...id }))
    )
  const json = parseJsonOrUndefined(text)
  if (json === undefined) return decodeError("response body is not valid JSON", "(root)")
  // refused before any recursive walk (the history's JSON.stringify) sees it
  if (exceedsDepth(json)) return decodeError(`response nests deeper than ${maxJsonDepth} levels`, "(nesting)")
  const decoded = decodeResponse(json)
  if (typeof decoded === "string") return decodeError(`response does not match the schema at ${decoded}`, decoded)
  const status = decoded.status
  if (status === "failed") {
    const code = decoded.error?.code ?? undefined
    const message = decoded.error?.message ?? "response failed"
    return Effect.fail(
      notRetryable(
        new ResponseFailed({
          message: truncateUtf8(redactWith(`response failed: ${message}`, endpoint.needles), 1024),
          retryable: isRetryableCode(code),
          attempts: 1,
          causes: [],
          ...(code === undefined ? {} : { code: truncateUtf8(code, 256) }),
          responseId: decoded.id,
          partial: decoded,
          ...id
        })
      )
    )
  }
  if (status === "in_progress" || status === "queued" || status === "cancelled") {
    return Effect.fail(
      notRetryable(
        new StreamProtocolError({
          message: `unexpected response status "${status}" for a ${streaming ? "streamed" : "non-streaming"} call`,
          retryable: false,
          attempts: 1,
          causes: [],
          reason: "UnexpectedStatus",
          eventIndex: -1,
          partial: decoded,
          ...id
        })
      )
    )
  }
  return Effect.succeed(decoded)
}

/** The events a streaming call would have produced for a complete JSON response (B12). */
export const synthesizeEvents = (final: Response): ReadonlyArray<StreamEvent> => {
  const output = final.output ?? []
  const events: Array<StreamEvent> = [
    { type: "response.created", response: { ...final, status: "in_progress", output: [] } } as StreamEvent
  ]
  output.forEach((item, index) => {
    events.push({ type: "response.output_item.added", output_index: index, item } as StreamEvent)
    events.push({ type: "response.output_item.done", output_index: index, item } as StreamEvent)
  })
  const terminal = final.status === "incomplete" ? "response.incomplete" : "response.completed"
  events.push({ type: terminal, response: final } as StreamEvent)
  return events
}

/** The path of the first issue of a schema error, as `output[0].id` (`(root)` for none, `(unknown)` for no issue). */
export const issuePath = (error: unknown): string => {
  const issue = (error as { readonly issue?: SchemaIssue.Issue } | undefined)?.issue
  if (issue === undefined) return "(unknown)"
  const path = standardFormatter(issue).issues[0]?.path
  if (path === undefined || path.length === 0) return "(root)"
  let out = ""
  for (const segment of path) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

/** An attempt failure the retry loop must not retry. */
export const notRetryable = (error: ResponsesError): AttemptFailure => ({ error, retryable: false })

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** `decodeResponseUnsafe` as a value: the decoded response, or the path of the first issue. */
const decodeResponse = (json: unknown): Response | string => {
  const fast = decodeResponseFast(json)
  if (fast !== undefined) return fast
  try {
    return decodeResponseUnsafe(json)
  } catch (error) {
    return issuePath(error)
  }
}
