/**
 * Every way a Responses call can fail, as serialisable Schema tagged errors named as in
 * docs/reliability.md, Typed outcomes: transport and HTTP errors, stream errors, response failures and decode errors.
 * Each carries `retryable`, the number of HTTP `attempts`, one `causes` entry per failed attempt and
 * the `requestId` when the server sent one. `ResponsesError` is the union the client fails with.
 * Gotcha: no error ever holds headers, a secret or more than a 1 KiB redacted excerpt of a body;
 * build messages with `excerpt` from `Redaction.ts`, never from raw bodies.
 */
import * as Schema from "effect/Schema"
import { Response } from "./ResponsesSchema.ts"

/** One failed attempt, summarised (no headers, no body beyond the redacted excerpt). */
export const AttemptCause = Schema.Struct({
  attempt: Schema.Number,
  tag: Schema.String,
  status: Schema.optionalKey(Schema.Number),
  message: Schema.String
})
/** One failed attempt, summarised. */
export type AttemptCause = typeof AttemptCause.Type

const common = {
  /** Human-readable, redacted, at most 1 KiB. */
  message: Schema.String,
  /** Whether retrying the same request could succeed. */
  retryable: Schema.Boolean,
  /** HTTP attempts made for this logical call (1 = no retry). */
  attempts: Schema.Number,
  /** One entry per failed attempt, oldest first. */
  causes: Schema.Array(AttemptCause),
  /** `x-request-id` of the last attempt, when the server sent one. */
  requestId: Schema.optionalKey(Schema.String)
}

/** The connection failed: refused, reset, or closed before headers (or mid-stream: `phase: "stream"`). */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", {
  ...common,
  phase: Schema.Literals(["connect", "send", "headers", "stream"]),
  /** What was received before a mid-stream break. */
  partial: Schema.optionalKey(Response)
}) {}

/** A timer fired: connect, headers, body, stream-idle, content-idle or the total deadline. */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  ...common,
  phase: Schema.Literals(["connect", "headers", "body", "stream-idle", "content-idle", "total"]),
  /** The timeout that fired, in milliseconds. */
  timeoutMs: Schema.Number,
  partial: Schema.optionalKey(Response)
}) {}

/** A 429 that is not a quota error, after retries (or at once when Retry-After exceeds the ceiling). */
export class RateLimitError extends Schema.TaggedError<RateLimitError>()("RateLimitError", {
  ...common,
  status: Schema.Number,
  /** The delay the server advertised, in milliseconds. */
  retryAfter: Schema.optionalKey(Schema.Number)
}) {}

/** A 429 whose type or code is `insufficient_quota`: retrying cannot help. */
export class QuotaExhaustedError extends Schema.TaggedError<QuotaExhaustedError>()("QuotaExhaustedError", {
  ...common,
  status: Schema.Number
}) {}

/** 401 (`InvalidKey`) or 403 (`InsufficientPermissions`). */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", {
  ...common,
  status: Schema.Number,
  kind: Schema.Literals(["InvalidKey", "InsufficientPermissions"])
}) {}

/** 400, 404, 422, or a 409 once its retries are spent: the request itself is wrong. */
export class InvalidRequestError extends Schema.TaggedError<InvalidRequestError>()("InvalidRequestError", {
  ...common,
  status: Schema.Number,
  code: Schema.optionalKey(Schema.String),
  param: Schema.optionalKey(Schema.String)
}) {}

/** A 5xx from the provider. Not retryable for 501, 505+ and under `x-should-retry: false`. */
export class InternalProviderError extends Schema.TaggedError<InternalProviderError>()("InternalProviderError", {
  ...common,
  status: Schema.Number
}) {}

/** Why a stream broke the protocol (B05–B08, B12, C08, D08). */
export const StreamProtocolReason = Schema.Literals([
  "ForgedSentinel",
  "InvalidJson",
  "MissingType",
  "InvalidEvent",
  "UnexpectedContentType",
  "UnexpectedStatus",
  "DuplicateCallId",
  "UnknownOutputIndex",
  "ItemIdMismatch",
  "DuplicateItem"
])
/** Why a stream broke the protocol. */
export type StreamProtocolReason = typeof StreamProtocolReason.Type

/** The bytes or events break the protocol; `eventIndex` is the 0-based index of the offending event. */
export class StreamProtocolError extends Schema.TaggedError<StreamProtocolError>()("StreamProtocolError", {
  ...common,
  reason: StreamProtocolReason,
  eventIndex: Schema.Number,
  partial: Schema.optionalKey(Response)
}) {}

/** One SSE event exceeded the maximum event size. */
export class EventTooLarge extends Schema.TaggedError<EventTooLarge>()("EventTooLarge", {
  ...common,
  maxEventSize: Schema.Number
}) {}

/**
 * The response outgrew a byte cap: all the bytes of one SSE stream (`body: "stream"`, `maxStreamBytes`,
 * 64 MiB) or one JSON body (`body: "json"`, `maxJsonBytes`, 32 MiB). Also what a stream ends with when
 * the process cannot hold what arrived (a V8 `RangeError` while folding it). Not retryable.
 */
export class ResponseTooLarge extends Schema.TaggedError<ResponseTooLarge>()("ResponseTooLarge", {
  ...common,
  body: Schema.Literals(["stream", "json"]),
  /** The cap that was exceeded, in bytes. */
  maxBytes: Schema.Number,
  /** What was received before the cap (streams only). */
  partial: Schema.optionalKey(Response)
}) {}

/** The stream ended (clean EOF or `[DONE]`) without a terminal response event. */
export class StreamTruncated extends Schema.TaggedError<StreamTruncated>()("StreamTruncated", {
  ...common,
  partial: Response
}) {}

/** `response.failed` (even with `error: null`), an `error` event, or a non-streaming `status: "failed"`. */
export class ResponseFailed extends Schema.TaggedError<ResponseFailed>()("ResponseFailed", {
  ...common,
  code: Schema.optionalKey(Schema.String),
  responseId: Schema.optionalKey(Schema.String),
  partial: Schema.optionalKey(Response)
}) {}

/** A known item, event or response did not match its schema; `path` names where. */
export class ResponseDecodeError extends Schema.TaggedError<ResponseDecodeError>()("ResponseDecodeError", {
  ...common,
  path: Schema.String
}) {}

/** The client was configured in a way that would be unsafe or cannot work (e.g. a key over plain http). */
export class InvalidConfiguration extends Schema.TaggedError<InvalidConfiguration>()("InvalidConfiguration", {
  message: Schema.String,
  retryable: Schema.Boolean
}) {}

/** Every error `ResponsesClient` fails with. */
export type ResponsesError =
  | NetworkError
  | RequestTimeout
  | RateLimitError
  | QuotaExhaustedError
  | AuthenticationError
  | InvalidRequestError
  | InternalProviderError
  | StreamProtocolError
  | EventTooLarge
  | ResponseTooLarge
  | StreamTruncated
  | ResponseFailed
  | ResponseDecodeError

/** The schema of `ResponsesError` (a union of every class above), e.g. for a field that holds one. */
export const ResponsesErrorSchema = Schema.Union([
  NetworkError,
  RequestTimeout,
  RateLimitError,
  QuotaExhaustedError,
  AuthenticationError,
  InvalidRequestError,
  InternalProviderError,
  StreamProtocolError,
  EventTooLarge,
  ResponseTooLarge,
  StreamTruncated,
  ResponseFailed,
  ResponseDecodeError
])

/** The tags of `ResponsesError`, for exhaustive checks. */
export const responsesErrorTags = [
  "NetworkError",
  "RequestTimeout",
  "RateLimitError",
  "QuotaExhaustedError",
  "AuthenticationError",
  "InvalidRequestError",
  "InternalProviderError",
  "StreamProtocolError",
  "EventTooLarge",
  "ResponseTooLarge",
  "StreamTruncated",
  "ResponseFailed",
  "ResponseDecodeError"
] as const

const tagSet: ReadonlySet<string> = new Set(responsesErrorTags)

/** True for any `ResponsesError`. */
export const isResponsesError = (u: unknown): u is ResponsesError =>
  typeof u === "object" && u !== null && tagSet.has((u as { _tag?: unknown })._tag as string)
