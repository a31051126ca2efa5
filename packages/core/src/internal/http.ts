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
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type { ResponsesError } from "../ResponsesError.ts"
import type { StreamEvent } from "../ResponsesSchema.ts"
import type * as RetryPolicy from "../RetryPolicy.ts"
import { type AttemptFailure, requestIdOf, timeout } from "./errors.ts"
import { headerOf, readBounded, readJson, Stopped, transportFailure, withContentIdle } from "./httpBody.ts"
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
