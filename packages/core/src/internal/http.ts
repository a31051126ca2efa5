/**
 * The transport over any Effect `HttpClient` (what `ResponsesClient.layer` uses, e.g. over an
 * in-memory client in tests): one attempt builds the request from `headersFor`, runs it under the
 * headers timer, and hands the response to the shared decisions of responseBody.ts; SSE bodies go
 * through `decodeEvents` under the stream-idle and content-idle timers. Every timer is an Effect
 * timer, so `TestClock` drives them. Only I/O lives here.
 * Gotcha: a stream attempt succeeds only once the first chunk of events is in hand, so a stream that
 * breaks before anything reached the consumer is retried like a failed request (retry.ts).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type { ResponsesError } from "../ResponsesError.ts"
import type { StreamEvent } from "../ResponsesSchema.ts"
import type * as RetryPolicy from "../RetryPolicy.ts"
import { type AttemptFailure, fromTransport, type NetworkPhase, requestIdOf, timeout } from "./errors.ts"
import * as ResponseBody from "./responseBody.ts"
import { decodeEvents } from "./sse.ts"
import type { CallInput, Endpoint, StreamAttempt, StreamStart, Transport } from "./transport.ts"
import { maxErrorBodyBytes, maxUnexpectedBodyBytes } from "./transport.ts"

/** The transport over an Effect `HttpClient` (request builder, client spans, Effect timers: TestClock-driven). */
export const httpClientTransport = (client: HttpClient.HttpClient, endpoint: Endpoint): Transport => ({
  // HttpClient opens its client span from the context: the call's span becomes the parent there
  create: (policy, input, resend, parent) =>
    Effect.scoped(
      execute(client, endpoint, policy, input, resend, false, (response, requestId) =>
        Effect.flatMap(readJson(response, endpoint, requestId), (text) =>
          ResponseBody.decodeJsonResponse(text, requestId, endpoint)
        )
      )
    ).pipe(Effect.annotateSpans("http.request.resend_count", resend), Effect.withParentSpan(parent, noStackTrace)),
  stream: (attempt) =>
    execute(client, endpoint, attempt.policy, attempt.input, attempt.resend, true, (response, requestId) =>
      streamBody(response, requestId, endpoint, attempt)
    ).pipe(
      Effect.annotateSpans("http.request.resend_count", attempt.resend),
      Effect.withParentSpan(attempt.parent, noStackTrace)
    )
})

/** Builds the request of one attempt (`resend` = 0 for the first HTTP attempt of the logical call). */
export const buildRequest = (
  endpoint: Endpoint,
  input: CallInput,
  resend: number
): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.post(endpoint.url).pipe(
    HttpClientRequest.setUrlParams(endpoint.urlParams),
    HttpClientRequest.setHeaders(ResponseBody.headersFor(endpoint, input, resend)),
    HttpClientRequest.bodyText(input.body, "application/json")
  )

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

const noStackTrace: Tracer.TraceOptions = { captureStackTrace: false }

/**
 * Executes one request: the headers timer covers `execute` and, for JSON calls, whatever `onResponse`
 * reads. A status outside 2xx becomes the typed error of `ResponseBody.statusFailure` (body read up to 64 KiB).
 */
const execute = <A>(
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  policy: RetryPolicy.RetryPolicy,
  input: CallInput,
  resend: number,
  streaming: boolean,
  onResponse: (
    response: HttpClientResponse.HttpClientResponse,
    requestId: string | undefined
  ) => Effect.Effect<A, AttemptFailure, Scope.Scope>
): Effect.Effect<A, AttemptFailure, Scope.Scope> =>
  Effect.suspend(() => {
    let phase: "headers" | "body" = "headers"
    const timeoutMs = endpoint.timeouts.headersMs
    const onTimeout = () => Effect.fail(timeout(phase, timeoutMs))
    const head = client.execute(buildRequest(endpoint, input, resend)).pipe(
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
          streaming ? Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.succeed("") }) : identity
        )
        const now = yield* Clock.currentTimeMillis
        const header = (name: string) => headerOf(response, name)
        return yield* Effect.fail(ResponseBody.statusFailure(endpoint, policy, response.status, header, body, now))
      })
    if (!streaming) {
      return Effect.flatMap(head, handle).pipe(Effect.timeoutOrElse({ duration: timeoutMs, orElse: onTimeout }))
    }
    return head.pipe(Effect.timeoutOrElse({ duration: timeoutMs, orElse: onTimeout }), Effect.flatMap(handle))
  })

/** A 2xx answer to a stream request: SSE, a whole JSON response (B12), or an unexpected content type. */
const streamBody = (
  response: HttpClientResponse.HttpClientResponse,
  requestId: string | undefined,
  endpoint: Endpoint,
  attempt: StreamAttempt
): Effect.Effect<StreamStart, AttemptFailure, Scope.Scope> => {
  const contentType = headerOf(response, "content-type")
  const headersMs = endpoint.timeouts.headersMs
  switch (ResponseBody.classify(response.status, contentType, true)) {
    case "sse":
      return startSse(response, requestId, endpoint, attempt)
    case "json":
      return readJson(response, endpoint, requestId).pipe(
        Effect.timeoutOrElse({ duration: headersMs, orElse: () => Effect.fail(timeout("body", headersMs)) }),
        Effect.flatMap((text) => ResponseBody.jsonStreamStart(text, requestId, endpoint))
      )
    default:
      return readBounded(response, maxUnexpectedBodyBytes).pipe(
        Effect.catch(() => Effect.succeed("")),
        Effect.timeoutOrElse({ duration: headersMs, orElse: () => Effect.succeed("") }),
        Effect.flatMap((body) =>
          Effect.fail(ResponseBody.unexpectedContentType(contentType, body, requestId, endpoint))
        )
      )
  }
}

/** Marks a failure of the byte stream or a timer, mapped to a typed error once the partial is known. */
class Stopped {
  readonly stop: ResponseBody.StreamStop
  constructor(stop: ResponseBody.StreamStop) {
    this.stop = stop
  }
}

const startSse = (
  response: HttpClientResponse.HttpClientResponse,
  requestId: string | undefined,
  endpoint: Endpoint,
  attempt: StreamAttempt
): Effect.Effect<StreamStart, AttemptFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { streamIdleMs, contentIdleMs } = endpoint.timeouts
    // shared with the decoder, which folds every event into it once: we only read the snapshot
    const options = ResponseBody.decoderOptions(endpoint, attempt, requestId)
    const accumulator = options.accumulator
    let delivered = 0
    const bytes = response.stream.pipe(
      Stream.mapError((error) => new Stopped({ _tag: "Broken", cause: error.reason })),
      Stream.timeoutOrElse({ duration: streamIdleMs, orElse: () => Stream.fail(new Stopped({ _tag: "StreamIdle" })) })
    )
    let events: Stream.Stream<StreamEvent, unknown> = bytes.pipe(
      decodeEvents(options),
      Stream.mapArray((chunk) => {
        delivered += chunk.length
        return chunk
      })
    )
    if (contentIdleMs !== undefined) events = withContentIdle(events, contentIdleMs)
    const toFailure = (error: unknown): AttemptFailure =>
      error instanceof Stopped
        ? ResponseBody.streamFailure(error.stop, endpoint, delivered > 0 ? accumulator.snapshot() : undefined)
        : { error: error as ResponsesError, retryable: false }
    const pull = yield* Stream.toPull(events).pipe(Scope.provide(yield* Scope.Scope))
    const first = yield* pull.pipe(
      Pull.catchDone(() => Effect.succeed([] as ReadonlyArray<StreamEvent>)),
      Effect.mapError(toFailure)
    )
    const rest = pull.pipe(
      Effect.mapError((error) => (Cause.isDone(error) ? error : toFailure(error).error))
    ) as Pull.Pull<ReadonlyArray<StreamEvent>, ResponsesError>
    return { first, rest }
  })

/** Fails with a content-idle stop when no content event (anything but `keepalive`) arrives in time. */
const withContentIdle = <E, R>(
  events: Stream.Stream<StreamEvent, E, R>,
  limitMs: number
): Stream.Stream<StreamEvent, E | Stopped, R> =>
  Stream.transformPull(events, (pull) =>
    Effect.map(Clock.currentTimeMillis, (start) => {
      let last = start
      return Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const chunk = yield* pull.pipe(
          Effect.timeoutOrElse({
            duration: Math.max(0, last + limitMs - now),
            orElse: () => Effect.fail(new Stopped({ _tag: "ContentIdle" }))
          })
        )
        // keepalives are handed on, but only content moves the deadline
        if (chunk.some((event) => event.type !== "keepalive")) last = yield* Clock.currentTimeMillis
        return chunk
      })
    })
  )

/** Reads at most `limit` bytes of a body as UTF-8 text, then stops (the rest is never read). */
const readBounded = (
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
      if (declared > limit) return yield* Effect.fail(ResponseBody.jsonTooLarge(limit, requestId))
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
          if (size > limit) return yield* Effect.fail(ResponseBody.jsonTooLarge(limit, requestId))
          chunks.push(chunk)
        }
      }
      return new TextDecoder("utf-8").decode(Buffer.concat(chunks, size))
    })
  )
}

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
