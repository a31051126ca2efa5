/**
 * The HTTP machinery behind `ResponsesClient`: building one request per attempt (auth, attempt
 * counter, idempotency key, redacted query parameters), running it under the headers timer, reading
 * at most 64 KiB of an error body, the retry loop (`retrying`) driven by `RetryPolicy.decide`, and
 * the per-attempt bodies of `create` (`createAttempt`) and `stream` (`streamAttempt`).
 * Gotcha: `streamAttempt` succeeds only once the first chunk of events is in hand, so a stream that
 * breaks before anything reached the consumer is retried like a failed request; after that, the
 * remaining pull is returned to the caller and no failure is ever retried.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Pull from "effect/Pull"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as ResponseAccumulator from "../ResponseAccumulator.ts"
import type { AttemptCause, ResponsesError } from "../ResponsesError.ts"
import { ResponseDecodeError, ResponseFailed, ResponseTooLarge, StreamProtocolError } from "../ResponsesError.ts"
import { decodeResponseUnsafe, type Response, type StreamEvent } from "../ResponsesSchema.ts"
import * as RetryPolicy from "../RetryPolicy.ts"
import {
  type AttemptFailure,
  causeOf,
  fromStatus,
  fromTransport,
  type NetworkPhase,
  isRetryableCode,
  parseJsonOrUndefined,
  requestIdOf,
  timeout,
  withAttempts
} from "./errors.ts"
import { decodeResponseFast } from "./fastDecode.ts"
import { exceedsDepth, maxJsonDepth } from "./jsonDepth.ts"
import { redactWith, truncateUtf8 } from "./redact.ts"
import { parseRetryAfter } from "./retryAfter.ts"
import { decodeEvents } from "./sse.ts"

/** Timer settings in milliseconds (docs/reliability.md, Defaults). `undefined` = off. */
export interface Timeouts {
  /** TCP/TLS connect (enforced by the transport: `layerConfig` configures undici with it). */
  readonly connectMs: number
  /** Until the response headers; for JSON calls it also covers reading the body. */
  readonly headersMs: number
  /** Longest gap with no bytes at all on a stream (comments and keepalives reset it). */
  readonly streamIdleMs: number
  /** Longest gap between content events (keepalives do not reset it). */
  readonly contentIdleMs: number | undefined
  /** Deadline for the whole call, retries and stream included. */
  readonly totalMs: number | undefined
}

/** Everything an attempt needs, prepared once when the client is built. */
export interface Endpoint {
  /** `{baseUrl}/responses` without its query string. */
  readonly url: string
  /** Query parameters of the base URL, all treated as secrets. */
  readonly urlParams: ReadonlyArray<readonly [string, Redacted.Redacted<string>]>
  /** Header carrying the key, with the full value (e.g. `authorization: Bearer …`). */
  readonly auth: readonly [name: string, value: Redacted.Redacted<string>] | undefined
  /** Extra static headers. */
  readonly headers: Readonly<Record<string, string>>
  /** Header names never to show anywhere (the redacted list, docs/reliability.md, plus the auth header). */
  readonly redactedHeaderNames: ReadonlyArray<string>
  /** Prepared secret needles for `redactWith`. */
  readonly needles: ReadonlyArray<string>
  /** Attempt counter header name, or `undefined` to send none. */
  readonly attemptHeader: string | undefined
  /** Idempotency key header name, or `undefined` when off. */
  readonly idempotencyHeader: string | undefined
  readonly timeouts: Timeouts
  /** Largest SSE event, in bytes. */
  readonly maxEventSize: number
  /** Largest total of bytes one SSE stream may send. */
  readonly maxStreamBytes: number
  /** Largest JSON body (`create`, or a JSON answer to a stream request). */
  readonly maxJsonBytes: number
}

/** At most this much of an error body is read (64 KiB). */
export const maxErrorBodyBytes = 64 * 1024

/** What one logical call shares between its attempts. */
export interface CallState {
  /** HTTP attempts made so far, across layers (starts at `previousAttempts`). */
  attempts: number
  /** One entry per failed attempt of this call. */
  readonly causes: Array<AttemptCause>
  /** `x-request-id` of the latest response. */
  requestId: string | undefined
  /** Secret needles, redacted from the `partial` response a final error carries. */
  readonly needles: ReadonlyArray<string>
}

/** Per-call inputs of an attempt. */
export interface CallInput {
  /** The JSON body, encoded once per logical call. */
  readonly body: string
  readonly accept: string
  readonly idempotencyKey: string | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
}

/**
 * How one attempt is carried out: over any `HttpClient` (`httpClientTransport`, below) or straight
 * on undici (undici.ts, what `layerUndici` uses). Both share the error mapping, decoder and contract.
 */
export interface Transport {
  /** One attempt of `create`: the decoded response, or the attempt's typed failure. */
  readonly create: (
    policy: RetryPolicy.RetryPolicy,
    input: CallInput,
    resend: number,
    parent: Tracer.Span
  ) => Effect.Effect<Response, AttemptFailure>
  /** One attempt of `stream`; resources live in the `Scope`, which the caller closes when it fails. */
  readonly stream: (
    policy: RetryPolicy.RetryPolicy,
    input: CallInput,
    resend: number,
    state: CallState,
    hooks: StreamHooks,
    parent: Tracer.Span
  ) => Effect.Effect<StreamStart, AttemptFailure, Scope.Scope>
}

/** The transport over an Effect `HttpClient` (request builder, client spans, Effect timers: TestClock-driven). */
export const httpClientTransport = (client: HttpClient.HttpClient, endpoint: Endpoint): Transport => ({
  // HttpClient opens its client span from the context: the call's span becomes the parent there
  create: (policy, input, resend, parent) =>
    Effect.scoped(createAttempt(client, endpoint, policy, input, resend)).pipe(
      Effect.annotateSpans("http.request.resend_count", resend),
      Effect.withParentSpan(parent, noStackTrace)
    ),
  stream: (policy, input, resend, state, hooks, parent) =>
    streamAttempt(client, endpoint, policy, input, resend, state, hooks).pipe(
      Effect.annotateSpans("http.request.resend_count", resend),
      Effect.withParentSpan(parent, noStackTrace)
    )
})

const noStackTrace: Tracer.TraceOptions = { captureStackTrace: false }

/** Builds the request of one attempt (`resend` = 0 for the first HTTP attempt of the logical call). */
export const buildRequest = (
  endpoint: Endpoint,
  input: CallInput,
  resend: number
): HttpClientRequest.HttpClientRequest => {
  let request = HttpClientRequest.post(endpoint.url).pipe(
    HttpClientRequest.setUrlParams(endpoint.urlParams),
    HttpClientRequest.setHeaders(endpoint.headers),
    HttpClientRequest.setHeader("accept", input.accept),
    HttpClientRequest.bodyText(input.body, "application/json")
  )
  if (input.headers !== undefined) request = HttpClientRequest.setHeaders(request, input.headers)
  if (endpoint.auth !== undefined) {
    request = HttpClientRequest.setHeader(request, endpoint.auth[0], redactedValue(endpoint.auth[1]))
  }
  if (endpoint.attemptHeader !== undefined) {
    request = HttpClientRequest.setHeader(request, endpoint.attemptHeader, String(resend))
  }
  if (endpoint.idempotencyHeader !== undefined && input.idempotencyKey !== undefined) {
    request = HttpClientRequest.setHeader(request, endpoint.idempotencyHeader, input.idempotencyKey)
  }
  return request
}

/**
 * Runs `attempt` until it succeeds or `RetryPolicy.decide` stops, sleeping between attempts with
 * `Effect.sleep` (TestClock-driven) and recording each retry as a span event. Fails with the last
 * attempt's error, stamped with the total `attempts` and one `causes` entry per failed attempt.
 */
export const retrying = <A, R>(
  state: CallState,
  policy: RetryPolicy.RetryPolicy,
  span: Tracer.Span | undefined,
  attempt: (resend: number) => Effect.Effect<A, AttemptFailure, R>
): Effect.Effect<A, ResponsesError, R> => {
  // A recursive match rather than a generator loop: the first attempt's success is one step.
  const next: Effect.Effect<A, ResponsesError, R> = Effect.suspend(() =>
    Effect.matchCauseEffect(attempt(state.attempts), {
      onSuccess: (value) => {
        state.attempts += 1
        return Effect.succeed(value)
      },
      onFailure: (cause) => {
        state.attempts += 1
        const failure = Cause.findErrorOption(cause)
        if (failure._tag === "None") return Effect.failCause(cause as Cause.Cause<never>)
        return afterFailure(state, policy, span, failure.value, next)
      }
    })
  )
  return next
}

/** Records a failed attempt and either stops with the final error or waits and runs `next`. */
const afterFailure = <A, R>(
  state: CallState,
  policy: RetryPolicy.RetryPolicy,
  span: Tracer.Span | undefined,
  failure: AttemptFailure,
  next: Effect.Effect<A, ResponsesError, R>
): Effect.Effect<A, ResponsesError, R> =>
  Effect.gen(function* () {
    const { error, retryable, retryAfter } = failure
    if (error.requestId !== undefined) state.requestId = error.requestId
    state.causes.push(causeOf(error, state.attempts))
    const u = yield* Random.next
    const decision = RetryPolicy.decide(policy, { retryable, attempts: state.attempts, retryAfter }, u)
    if (decision._tag === "Stop") return yield* Effect.fail(finalError(state, error))
    if (span !== undefined) {
      const now = yield* Clock.currentTimeNanos
      span.event("volley.retry", now, {
        "volley.retry.attempt": state.attempts,
        "volley.retry.delay_ms": Math.round(decision.delayMs),
        "volley.retry.source": decision.source,
        "volley.retry.error": error._tag,
        ...(retryAfter === undefined ? {} : { "volley.retry_after.ms": retryAfter.delayMs })
      })
    }
    yield* Effect.logDebug("volley: retrying the Responses request").pipe(
      Effect.annotateLogs({
        attempt: state.attempts,
        delayMs: Math.round(decision.delayMs),
        source: decision.source,
        error: error._tag,
        // messages are built redacted (errors.ts), so they are safe to log
        message: error.message
      })
    )
    yield* Effect.sleep(decision.delayMs)
    return yield* next
  })

/** The error of the last attempt with the call's attempts, causes and request id. */
export const finalError = <E extends ResponsesError>(state: CallState, error: E): E =>
  withAttempts(error, state.attempts, state.causes, state.requestId, state.needles)

/** A failure of a stream after its attempt succeeded: that attempt's cause is added to the causes. */
export const finalStreamError = <E extends ResponsesError>(state: CallState, error: E): E =>
  withAttempts(error, state.attempts, [...state.causes, causeOf(error, state.attempts)], state.requestId, state.needles)

/**
 * Executes one request: the headers timer covers `execute` and, for JSON calls, whatever `onResponse`
 * reads. A status outside 2xx becomes the typed error of `fromStatus` (body read up to 64 KiB).
 */
const execute = <A>(
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  policy: RetryPolicy.RetryPolicy,
  request: HttpClientRequest.HttpClientRequest,
  onResponse: (
    response: HttpClientResponse.HttpClientResponse,
    requestId: string | undefined
  ) => Effect.Effect<A, AttemptFailure, Scope.Scope>,
  coverBody: boolean
): Effect.Effect<A, AttemptFailure, Scope.Scope> =>
  Effect.suspend(() => {
    let phase: "headers" | "body" = "headers"
    const timeoutMs = endpoint.timeouts.headersMs
    const onTimeout = () => Effect.fail(timeout(phase, timeoutMs))
    const head = client.execute(request).pipe(
      Effect.mapError((error) => transportFailure(error, "headers", endpoint)),
      Effect.updateService(Headers.CurrentRedactedNames, (names) => [...names, ...endpoint.redactedHeaderNames]),
      manualRedirects
    )
    const handle = (response: HttpClientResponse.HttpClientResponse) =>
      Effect.gen(function* () {
        phase = "body"
        const requestId = requestIdOf(headerOf(response, "x-request-id"), endpoint.needles)
        if (response.status >= 200 && response.status < 300) return yield* onResponse(response, requestId)
        const body = yield* readBounded(response, maxErrorBodyBytes).pipe(
          Effect.catch(() => Effect.succeed("")),
          // a JSON call's timer already covers this read; a stream's must not hang on a stalled error body
          coverBody ? identity : Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.succeed("") })
        )
        const now = yield* Clock.currentTimeMillis
        return yield* Effect.fail(
          fromStatus({
            status: response.status,
            header: (name) => headerOf(response, name),
            body,
            retryStatuses: policy.retryStatuses,
            needles: endpoint.needles,
            retryAfter: parseRetryAfter((name) => headerOf(response, name), now)
          })
        )
      })
    if (coverBody) {
      return Effect.flatMap(head, handle).pipe(Effect.timeoutOrElse({ duration: timeoutMs, orElse: onTimeout }))
    }
    return head.pipe(Effect.timeoutOrElse({ duration: timeoutMs, orElse: onTimeout }), Effect.flatMap(handle))
  })

/** One attempt of `create`: the decoded response, or the attempt's typed failure. */
export const createAttempt = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  policy: RetryPolicy.RetryPolicy,
  input: CallInput,
  resend: number
): Effect.Effect<Response, AttemptFailure, Scope.Scope> =>
  execute(
    client,
    endpoint,
    policy,
    buildRequest(endpoint, input, resend),
    (response, requestId) =>
      readJson(response, endpoint, requestId).pipe(
        Effect.flatMap((text) => decodeJsonResponse(text, requestId, endpoint))
      ),
    true
  )

/** A stream attempt that got its first events: the rest is pulled by the consumer, never retried. */
export interface StreamStart {
  readonly first: ReadonlyArray<StreamEvent>
  /** Pulls the next non-empty batch; fails with `Cause.Done` after the last one. */
  readonly rest: Pull.Pull<ReadonlyArray<StreamEvent>, ResponsesError>
}

/** The `rest` of a stream that has nothing more to give. */
export const noMoreEvents: Pull.Pull<ReadonlyArray<StreamEvent>, ResponsesError> = Cause.done()

/** Hooks of a stream attempt (span events; each bounded by the client). */
export interface StreamHooks {
  readonly onRetryField: (ms: number) => void
  readonly onMismatch: (info: ResponseAccumulator.ArgumentsMismatch) => void
  readonly onWarning: (warning: ResponseAccumulator.StreamWarning) => void
}

/**
 * One attempt of `stream`. SSE bodies go through `decodeEvents`; a JSON body is accepted as the
 * final response and replayed as events (B12 leniency); any other content type is a
 * `StreamProtocolError{UnexpectedContentType}`. Resources live in `scope`, which the caller closes
 * when the attempt fails.
 */
export const streamAttempt = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  policy: RetryPolicy.RetryPolicy,
  input: CallInput,
  resend: number,
  state: CallState,
  hooks: StreamHooks
): Effect.Effect<StreamStart, AttemptFailure, Scope.Scope> =>
  execute(
    client,
    endpoint,
    policy,
    buildRequest(endpoint, input, resend),
    (response, requestId) => {
      const contentType = mediaType(headerOf(response, "content-type"))
      if (contentType === "text/event-stream") return startSse(response, requestId, endpoint, state, hooks)
      if (contentType === "application/json") {
        return readJson(response, endpoint, requestId).pipe(
          Effect.timeoutOrElse({
            duration: endpoint.timeouts.headersMs,
            orElse: () => Effect.fail(timeout("body", endpoint.timeouts.headersMs))
          }),
          Effect.flatMap((text) => jsonStreamStart(text, requestId, endpoint))
        )
      }
      return readBounded(response, 1024).pipe(
        Effect.catch(() => Effect.succeed("")),
        Effect.timeoutOrElse({ duration: endpoint.timeouts.headersMs, orElse: () => Effect.succeed("") }),
        Effect.flatMap((body) => Effect.fail(unexpectedContentType(contentType, body, requestId, endpoint)))
      )
    },
    false
  )

/** The media type of a `content-type` header, lower-cased, without parameters ("" when absent). */
export const mediaType = (header: string | undefined): string => (header ?? "").split(";")[0]!.trim().toLowerCase()

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
  contentType: string,
  body: string,
  requestId: string | undefined,
  endpoint: Endpoint
): AttemptFailure =>
  notRetryable(
    new StreamProtocolError({
      message: truncateUtf8(
        `expected text/event-stream, got ${truncateUtf8(contentType || "no content type", 100)}: ${truncateUtf8(redactWith(body, endpoint.needles), 200)}`,
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

// Markers for failures of the byte stream, mapped to typed errors once the partial is known.
class BodyIdle {
  readonly _tag = "BodyIdle"
}
class BodyBroken {
  readonly _tag = "BodyBroken"
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

const startSse = (
  response: HttpClientResponse.HttpClientResponse,
  requestId: string | undefined,
  endpoint: Endpoint,
  state: CallState,
  hooks: StreamHooks
): Effect.Effect<StreamStart, AttemptFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { streamIdleMs, contentIdleMs } = endpoint.timeouts
    // shared with the decoder, which folds every event into it once: we only read the snapshot
    const accumulator = ResponseAccumulator.make({ onMismatch: hooks.onMismatch, onWarning: hooks.onWarning })
    let delivered = 0
    const bytes = response.stream.pipe(
      Stream.mapError((error): BodyIdle | BodyBroken => new BodyBroken(error.reason)),
      Stream.timeoutOrElse({ duration: streamIdleMs, orElse: () => Stream.fail<BodyIdle | BodyBroken>(new BodyIdle()) })
    )
    let events: Stream.Stream<StreamEvent, unknown> = bytes.pipe(
      decodeEvents({
        maxEventSize: endpoint.maxEventSize,
        maxStreamBytes: endpoint.maxStreamBytes,
        attempts: state.attempts + 1,
        ...(requestId === undefined ? {} : { requestId }),
        onRetryField: hooks.onRetryField,
        secrets: endpoint.needles,
        accumulator
      }),
      Stream.mapArray((chunk) => {
        delivered += chunk.length
        return chunk
      })
    )
    if (contentIdleMs !== undefined) events = withContentIdle(events, contentIdleMs)
    const toFailure = (error: unknown): AttemptFailure => {
      const partial = delivered > 0 ? accumulator.snapshot() : undefined
      if (error instanceof BodyIdle) return timeout("stream-idle", streamIdleMs, partial)
      if (error instanceof ContentIdle) return timeout("content-idle", contentIdleMs ?? 0, partial)
      if (error instanceof BodyBroken) return fromTransport(error.cause, "stream", endpoint.timeouts.connectMs, partial)
      const typed = error as ResponsesError
      return { error: typed, retryable: false }
    }
    const scope = yield* Scope.Scope
    const pull = yield* Stream.toPull(events).pipe(Scope.provide(scope))
    const first = yield* pull.pipe(
      Pull.catchDone(() => Effect.succeed([] as ReadonlyArray<StreamEvent>)),
      Effect.mapError(toFailure)
    )
    const rest = pull.pipe(
      Effect.mapError((error) => (Cause.isDone(error) ? error : toFailure(error).error))
    ) as Pull.Pull<ReadonlyArray<StreamEvent>, ResponsesError>
    return { first, rest }
  })

class ContentIdle {
  readonly _tag = "ContentIdle"
}

/** Fails with `ContentIdle` when no content event (anything but `keepalive`) arrives in time. */
const withContentIdle = <E, R>(
  events: Stream.Stream<StreamEvent, E, R>,
  limitMs: number
): Stream.Stream<StreamEvent, E | ContentIdle, R> =>
  Stream.transformPull(events, (pull) =>
    Effect.map(Clock.currentTimeMillis, (start) => {
      let last = start
      return Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const chunk = yield* pull.pipe(
          Effect.timeoutOrElse({
            duration: Math.max(0, last + limitMs - now),
            orElse: () => Effect.fail(new ContentIdle())
          })
        )
        // keepalives are handed on, but only content moves the deadline
        if (chunk.some((event) => event.type !== "keepalive")) last = yield* Clock.currentTimeMillis
        return chunk
      })
    })
  )

/** Reads at most `limit` bytes of a body as UTF-8 text, then stops (the rest is never read). */
export const readBounded = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<string, HttpClientError.HttpClientError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const pull = yield* Stream.toPull(response.stream)
      const all = new Uint8Array(limit)
      let size = 0
      while (size < limit) {
        const chunks = yield* pull.pipe(Pull.catchDone(() => Effect.succeed(undefined)))
        if (chunks === undefined) break
        for (const chunk of chunks) {
          const kept = chunk.subarray(0, limit - size)
          all.set(kept, size)
          size += kept.byteLength
          if (size >= limit) break
        }
      }
      // `stream: true` drops a character cut at the limit instead of emitting U+FFFD
      return new TextDecoder("utf-8").decode(all.subarray(0, size), { stream: true })
    })
  )

/**
 * Reads a JSON body of at most `endpoint.maxJsonBytes` as text, never more: a `content-length` above
 * the cap is refused unread, a chunked body is cut as soon as it passes it (`ResponseTooLarge`).
 */
const readJson = (
  response: HttpClientResponse.HttpClientResponse,
  endpoint: Endpoint,
  requestId: string | undefined
): Effect.Effect<string, AttemptFailure> => {
  const limit = endpoint.maxJsonBytes
  const declared = Number(headerOf(response, "content-length") ?? Number.NaN)
  const broken = (error: HttpClientError.HttpClientError) => transportFailure(error, "stream", endpoint)
  // the common case: a declared length within the cap (the parser reads no more than declared)
  if (declared >= 0 && declared <= limit) return Effect.mapError(response.text, broken)
  return Effect.scoped(
    Effect.gen(function* () {
      // the body is opened even when its declared length is refused: closing it releases the socket
      const pull = yield* Stream.toPull(response.stream)
      if (declared > limit) return yield* Effect.fail(jsonTooLarge(limit, requestId))
      const chunks: Array<Uint8Array> = []
      let size = 0
      while (true) {
        const batch = yield* pull.pipe(
          Pull.catchDone(() => Effect.succeed(undefined)),
          Effect.mapError(broken)
        )
        if (batch === undefined) break
        for (const chunk of batch) {
          size += chunk.byteLength
          if (size > limit) return yield* Effect.fail(jsonTooLarge(limit, requestId))
          chunks.push(chunk)
        }
      }
      return new TextDecoder("utf-8").decode(Buffer.concat(chunks, size))
    })
  )
}

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

/** Decodes a JSON response body; `failed` / non-final statuses become typed errors. */
export const decodeJsonResponse = (
  text: string,
  requestId: string | undefined,
  endpoint: Endpoint,
  streaming = false
): Effect.Effect<Response, AttemptFailure> => {
  const id = requestId === undefined ? {} : { requestId }
  const json = parseJsonOrUndefined(text)
  if (json === undefined) {
    return Effect.fail(
      notRetryable(
        new ResponseDecodeError({
          message: "response body is not valid JSON",
          retryable: false,
          attempts: 1,
          causes: [],
          path: "(root)",
          ...id
        })
      )
    )
  }
  if (exceedsDepth(json)) {
    // refused before any recursive walk (the history's JSON.stringify) sees it
    return Effect.fail(
      notRetryable(
        new ResponseDecodeError({
          message: `response nests deeper than ${maxJsonDepth} levels`,
          retryable: false,
          attempts: 1,
          causes: [],
          path: "(nesting)",
          ...id
        })
      )
    )
  }
  const decoded = decodeResponse(json)
  if (typeof decoded === "string") {
    return Effect.fail(
      notRetryable(
        new ResponseDecodeError({
          message: `response does not match the schema at ${decoded}`,
          retryable: false,
          attempts: 1,
          causes: [],
          path: decoded,
          ...id
        })
      )
    )
  }
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

/** `decodeResponseUnsafe` as a value: the decoded response, or the path of the first issue. */
const decodeResponse = (json: unknown): Response | string => {
  const fast = decodeResponseFast(json)
  if (fast !== undefined) return fast
  try {
    return decodeResponseUnsafe(json)
  } catch (error) {
    return issuePath((error as { issue?: unknown }).issue)
  }
}

/** `output.0.id`-style path of the first schema issue. */
const issuePath = (issue: unknown): string => {
  const path: Array<string> = []
  let current: unknown = issue
  for (let depth = 0; depth < 64 && typeof current === "object" && current !== null; depth++) {
    const node = current as { _tag?: unknown; path?: unknown; issue?: unknown; issues?: unknown }
    if (node._tag === "Pointer" && Array.isArray(node.path)) path.push(...node.path.map(String))
    if (node.issue !== undefined) current = node.issue
    else if (Array.isArray(node.issues)) current = node.issues[0]
    else break
  }
  return path.length === 0 ? "(root)" : path.join(".")
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

const notRetryable = (error: ResponsesError): AttemptFailure => ({ error, retryable: false })

/**
 * Redirects are never followed (G04). undici does not follow them; `fetch` does by default, so a
 * fetch-based `HttpClient` is told `redirect: "manual"` and the 3xx surfaces as a typed error.
 */
const manualRedirects = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(FetchHttpClient.RequestInit), (init) =>
    Effect.provideService(effect, FetchHttpClient.RequestInit, {
      ...(init._tag === "Some" ? init.value : {}),
      redirect: "manual"
    })
  )

const transportFailure = (
  error: HttpClientError.HttpClientError,
  phase: NetworkPhase,
  endpoint: Endpoint
): AttemptFailure => {
  const reason = error.reason
  return fromTransport("cause" in reason ? reason.cause : undefined, phase, endpoint.timeouts.connectMs)
}

const headerOf = (response: HttpClientResponse.HttpClientResponse, name: string): string | undefined => {
  const value = response.headers[name]
  return typeof value === "string" ? value : undefined
}

const redactedValue = (value: Redacted.Redacted<string>): string => Redacted.value(value)
