/**
 * Turns what one HTTP attempt produced (a status with a bounded body, a transport failure, a timer)
 * into the typed errors of `ResponsesError.ts`, and decides whether that attempt may be retried.
 * Entry points: `fromStatus`, `fromTransport`, `timeout`, `withAttempts` (stamps the final
 * `attempts` / `causes` on the error of the last attempt) and `causeOf` (one `causes[]` entry).
 * Gotcha: nothing here ever copies headers or more than a redacted 1 KiB excerpt of a body onto an
 * error; messages are built from our own words plus `redact.excerpt`, never from raw server text.
 */
import {
  type AttemptCause,
  AuthenticationError,
  InternalProviderError,
  InvalidRequestError,
  NetworkError,
  QuotaExhaustedError,
  RateLimitError,
  RequestTimeout,
  type ResponsesError
} from "../ResponsesError.ts"
import type { Response } from "../ResponsesSchema.ts"
import { maxExcerptBytes, redactDeep, redactWith, truncateUtf8 } from "../Redaction.ts"
import type { RetryAfter } from "./retryAfter.ts"

/** The error of one failed attempt, before the final `attempts` / `causes` are known. */
export interface AttemptFailure {
  /** The typed error this attempt alone would produce (`attempts: 1`, no causes). */
  readonly error: ResponsesError
  /** Whether the retry loop may try again (the error's own `retryable`, after `x-should-retry`). */
  readonly retryable: boolean
  /** The delay the server advertised, when it did. */
  readonly retryAfter?: RetryAfter | undefined
}

/** What `fromStatus` needs about a non-2xx response. */
export interface StatusInput {
  readonly status: number
  /** Reads one response header (lower-case name). */
  readonly header: (name: string) => string | undefined
  /** At most 64 KiB of the body, decoded as UTF-8. */
  readonly body: string
  /** Statuses the retry policy retries (408, 409, 429, 500, 502, 503, 504 by default). */
  readonly retryStatuses: ReadonlyArray<number>
  /** Prepared secret needles (`redact.secretNeedles`). */
  readonly needles: ReadonlyArray<string>
  readonly retryAfter?: RetryAfter | undefined
}

/** Parsed fields of an error body; every field is optional and only ever a string. */
export interface ErrorBody {
  readonly message?: string | undefined
  readonly type?: string | undefined
  readonly code?: string | undefined
  readonly param?: string | undefined
}

/** Reads `{"error":{message,type,code,param}}`, `{"error":"text"}` or `{"message":…}`; never throws. */
export const parseErrorBody = (body: string): ErrorBody => {
  const json = parseJsonOrUndefined(body)
  if (typeof json !== "object" || json === null) return {}
  const record = json as Record<string, unknown>
  const inner = record.error
  if (typeof inner === "string") return { message: inner }
  const source = typeof inner === "object" && inner !== null ? (inner as Record<string, unknown>) : record
  return {
    message: stringOf(source.message),
    type: stringOf(source.type),
    code: stringOf(source.code) ?? (typeof source.code === "number" ? String(source.code) : undefined),
    param: stringOf(source.param)
  }
}

/** The typed error for a non-2xx status (docs/reliability.md, Typed outcomes) and whether it may be retried. */
export const fromStatus = (input: StatusInput): AttemptFailure => {
  const { status, needles } = input
  const parsed = parseErrorBody(input.body)
  const detail = parsed.message ?? input.body.trim()
  const message = truncateUtf8(
    redactWith(detail === "" ? `HTTP ${status}` : `HTTP ${status}: ${detail}`, needles),
    maxExcerptBytes
  )
  const common = {
    message,
    attempts: 1,
    causes: [] as ReadonlyArray<AttemptCause>,
    ...optionalRequestId(requestIdOf(input.header("x-request-id"), needles))
  }
  const shouldRetry = input.header("x-should-retry")?.trim().toLowerCase()
  const override = shouldRetry === "true" ? true : shouldRetry === "false" ? false : undefined
  const listed = input.retryStatuses.includes(status)
  const retryable = (base: boolean) => override ?? base
  const redactedField = (value: string | undefined) =>
    value === undefined ? {} : { value: truncateUtf8(redactWith(value, needles), 256) }
  const code = redactedField(parsed.code).value
  const param = redactedField(parsed.param).value
  const codeFields = { ...(code === undefined ? {} : { code }), ...(param === undefined ? {} : { param }) }

  let error: ResponsesError
  if (status >= 300 && status < 400) {
    error = new InvalidRequestError({
      ...common,
      message: redactWith(`HTTP ${status}: redirect not followed (POST requests never follow redirects)`, needles),
      retryable: retryable(false),
      status,
      code: "redirect_not_followed"
    })
  } else if (status === 401 || status === 403) {
    error = new AuthenticationError({
      ...common,
      retryable: retryable(false),
      status,
      kind: status === 401 ? "InvalidKey" : "InsufficientPermissions"
    })
  } else if (status === 429 && (parsed.type === "insufficient_quota" || parsed.code === "insufficient_quota")) {
    error = new QuotaExhaustedError({ ...common, retryable: retryable(false), status })
  } else if (status === 429) {
    const retryAfter = input.retryAfter === undefined ? {} : { retryAfter: input.retryAfter.delayMs }
    error = new RateLimitError({ ...common, retryable: retryable(true), status, ...retryAfter })
  } else if (status >= 500 || status === 408) {
    error = new InternalProviderError({ ...common, retryable: retryable(listed), status })
  } else {
    error = new InvalidRequestError({ ...common, retryable: retryable(listed), status, ...codeFields })
  }
  return { error, retryable: error.retryable, retryAfter: input.retryAfter }
}

/** Where a transport failure happened. */
export type NetworkPhase = "connect" | "send" | "headers" | "stream"

const connectCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EADDRNOTAVAIL",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED"
])
const sendCodes: ReadonlySet<string> = new Set(["EPIPE", "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH"])
const connectTimeoutCodes: ReadonlySet<string> = new Set(["UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"])

/** The first `code` found on an error or its `cause` chain (undici and fetch nest them). */
export const errorCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** A transport failure (`HttpClientError` cause) as `NetworkError` or a connect `RequestTimeout`. */
export const fromTransport = (
  cause: unknown,
  phaseHint: NetworkPhase,
  connectTimeoutMs: number,
  partial?: Response
): AttemptFailure => {
  const code = errorCode(cause)
  const common = { retryable: true, attempts: 1, causes: [] as ReadonlyArray<AttemptCause> }
  if (code !== undefined && connectTimeoutCodes.has(code) && phaseHint !== "stream") {
    const error = new RequestTimeout({
      ...common,
      message: `connect timeout: no connection within ${connectTimeoutMs} ms`,
      phase: "connect",
      timeoutMs: connectTimeoutMs
    })
    return { error, retryable: true }
  }
  const phase: NetworkPhase =
    phaseHint === "stream"
      ? "stream"
      : code !== undefined && connectCodes.has(code)
        ? "connect"
        : code !== undefined && sendCodes.has(code)
          ? "send"
          : phaseHint
  const what =
    phase === "connect"
      ? "could not connect"
      : phase === "send"
        ? "failed while sending the request"
        : phase === "headers"
          ? "connection closed before the response headers"
          : "connection lost mid-stream"
  const error = new NetworkError({
    ...common,
    message: `network error: ${what}${code === undefined ? "" : ` (${safeCode(code)})`}`,
    phase,
    ...(partial === undefined ? {} : { partial })
  })
  return { error, retryable: true }
}

/** Which timer fired. */
export type TimeoutPhase = "connect" | "headers" | "body" | "stream-idle" | "content-idle" | "total"

/** A `RequestTimeout` for the timer that fired. Total deadlines are not retried; the others are. */
export const timeout = (phase: TimeoutPhase, timeoutMs: number, partial?: Response): AttemptFailure => {
  const retryable = phase !== "total"
  const error = new RequestTimeout({
    message: `${phase} timeout after ${timeoutMs} ms`,
    retryable,
    attempts: 1,
    causes: [],
    phase,
    timeoutMs,
    ...(partial === undefined ? {} : { partial })
  })
  return { error, retryable }
}

/** One `causes[]` entry for a failed attempt (1-based `attempt`). */
export const causeOf = (error: ResponsesError, attempt: number): AttemptCause => {
  const status = "status" in error && typeof error.status === "number" ? { status: error.status } : {}
  return { attempt, tag: error._tag, ...status, message: error.message }
}

/**
 * A copy of `error` carrying the final attempt count, causes and request id. Every server-supplied
 * string on it (message, request id, code, param, path, response id, the causes' messages, and its
 * `partial` response, where an echoed key can hide in an error message or output) is redacted with
 * `needles`: this is the one door every error of the client leaves by (G01).
 */
export const withAttempts = <E extends ResponsesError>(
  error: E,
  attempts: number,
  causes: ReadonlyArray<AttemptCause>,
  requestId?: string | undefined,
  needles: ReadonlyArray<string> = []
): E => {
  const { _tag, ...fields } = error as E & { readonly _tag: string; readonly partial?: unknown }
  const Constructor = error.constructor as new (fields: object) => E
  const id = error.requestId ?? requestId
  const partial = (fields as { readonly partial?: unknown }).partial
  const strings: Record<string, string> = {}
  for (const key of redactedFields) {
    const value = (fields as Record<string, unknown>)[key]
    if (typeof value === "string") strings[key] = redactWith(value, needles)
  }
  return new Constructor({
    ...fields,
    ...strings,
    message: redactWith(error.message, needles),
    attempts,
    causes: causes.map((cause) => ({ ...cause, message: redactWith(cause.message, needles) })),
    ...(id === undefined ? {} : { requestId: redactWith(id, needles) }),
    ...(partial === undefined ? {} : { partial: redactDeep(partial, needles) })
  })
}

/** String fields of a `ResponsesError` that can carry server text. */
const redactedFields = ["code", "param", "path", "responseId"] as const

/** Error codes of a failed response (`status: "failed"`, `response.failed`, an `error` event) worth retrying. */
export const retryableResponseCodes: ReadonlyArray<string> = [
  "server_error",
  "server_is_overloaded",
  "internal_error",
  "rate_limit_exceeded",
  "rate_limit_error",
  "too_many_requests"
]

const retryableCodeSet: ReadonlySet<string> = new Set(retryableResponseCodes)

/** Whether a failed response with `code` may succeed when sent again (one list for the JSON and SSE paths). */
export const isRetryableCode = (code: string | undefined): boolean => code !== undefined && retryableCodeSet.has(code)

/** The `x-request-id` as it may appear on an error or span: redacted (servers echo headers) and at most 200 bytes. */
export const requestIdOf = (value: string | undefined, needles: ReadonlyArray<string>): string | undefined =>
  value === undefined || value === "" ? undefined : truncateUtf8(redactWith(value, needles), 200)

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

const stringOf = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

const optionalRequestId = (value: string | undefined): { requestId?: string } =>
  value === undefined ? {} : { requestId: value }

// Error codes are short identifiers; anything else is not echoed.
const safeCode = (code: string): string => (/^[A-Z0-9_]{1,40}$/.test(code) ? code : "unknown")

/** `JSON.parse` as a value: a boundary with a throwing API, so it is the one place that catches. */
export const parseJsonOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
