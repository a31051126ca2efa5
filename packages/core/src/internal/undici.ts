/**
 * The direct undici transport behind `layerUndici` and `layerConfig`. A `create` attempt is one
 * dispatch handler that collects the JSON body (jsonExchange.ts); a `stream` attempt is
 * `undici.request` with its body pulled by `SseReader`. Both run under a single `Effect.callback`
 * on a keep-alive `Agent`. Headers, status and content-type decisions, JSON decoding and failure
 * mapping are the shared pure ones (responseBody.ts); the callback boundary of the stream attempt
 * (bounded body reads, `timed`) is nodeBody.ts; timers go through the `Timers` seam (real Node timers
 * in production, the fiber's `Clock` under `TestClock`). Why our own instead of Effect's `HttpClient`
 * here: measured on the bench's agent run (bench/README.md, optimisation 5), the `HttpClient` path
 * cost ~0.25 ms of CPU per model call on top of undici's ~0.05 ms, i.e. most of Volley's overhead.
 * Gotcha: a boundary with undici's callbacks and promises: `.then` callbacks, no `async`, `await` or
 * `try`; whatever can throw (decoding, spans) runs in the fiber.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as HttpClient from "effect/http/HttpClient"
import { Agent, type Dispatcher, request } from "undici"
import type { Response } from "../ResponsesSchema.ts"
import type * as RetryPolicy from "../RetryPolicy.ts"
import { type AttemptFailure, fromTransport, requestIdOf, timeout } from "./errors.ts"
import {
  type Body,
  type Done,
  guarded,
  headerOf,
  jsonResult,
  readBounded,
  readJson,
  settle,
  timed,
  timedWith
} from "./nodeBody.ts"
import { type Exchange, exchangeJson, type JsonExchange } from "./jsonExchange.ts"
import * as ResponseBody from "./responseBody.ts"
import { makeEventDecoder } from "./sse.ts"
import { SseReader } from "./sseReader.ts"
import type { CallInput, Endpoint, StreamAttempt, StreamStart, Timers, Transport } from "./transport.ts"
import { maxErrorBodyBytes, maxUnexpectedBodyBytes } from "./transport.ts"

/**
 * A keep-alive undici agent with our connect timeout, at most `connections` sockets per origin (more
 * requests queue) and undici's own timers off (ours govern).
 */
export const makeAgent = (connectMs: number, connections: number): Agent =>
  new Agent({
    connect: { timeout: connectMs },
    connections,
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 60_000
  })

/** The transport over `dispatcher` for `endpoint`, its timers run by `timers`. */
export const makeTransport = (dispatcher: Dispatcher, endpoint: Endpoint, timers: Timers): Transport => {
  const target = new URL(endpoint.url)
  for (const [name, value] of endpoint.urlParams) target.searchParams.append(name, Redacted.value(value))
  const prepared: Prepared = {
    dispatcher,
    endpoint,
    timers,
    url: target.toString(),
    target: { origin: target.origin, path: `${target.pathname}${target.search}` },
    spanAttributes: {
      "http.request.method": "POST",
      "server.address": target.hostname,
      "server.port": Number(target.port || (target.protocol === "https:" ? 443 : 80)),
      // the base URL's query parameters are secrets: their values never reach a span
      "url.full":
        endpoint.urlParams.length === 0
          ? endpoint.url
          : `${endpoint.url}?${endpoint.urlParams.map(([name]) => `${encodeURIComponent(name)}=REDACTED`).join("&")}`
    }
  }
  return {
    create: (policy, input, resend, parent) =>
      attemptSpan(prepared, resend, parent, (span, traced) =>
        createAttempt(prepared, policy, input, resend, span, traced)
      ),
    stream: (attempt) =>
      attemptSpan(prepared, attempt.resend, attempt.parent, (span, traced) =>
        streamAttempt(prepared, attempt, span, traced)
      )
  }
}

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

interface Prepared {
  readonly dispatcher: Dispatcher
  readonly endpoint: Endpoint
  readonly timers: Timers
  /** The full URL, query parameters included. */
  readonly url: string
  /** The same URL as undici's dispatch options take it. */
  readonly target: { readonly origin: string; readonly path: string }
  /** Attributes of every attempt span. */
  readonly spanAttributes: Record<string, unknown>
}

/**
 * The `POST` client span of one attempt (what Effect's `HttpClient` records, minus headers), and
 * whether to propagate it (`HttpClient.TracerPropagationEnabled`, and never a disabled tracer's span).
 */
const attemptSpan = <A, R>(
  prepared: Prepared,
  resend: number,
  parent: Tracer.Span,
  body: (span: Tracer.Span, traced: Tracer.Span | undefined) => Effect.Effect<A, AttemptFailure, R>
): Effect.Effect<A, AttemptFailure, R> =>
  Effect.withFiber((fiber) =>
    // the parent is passed, not put in the context: no context change (and fiber cache rebuild) per attempt
    Effect.useSpan("POST", { kind: "client", attributes: prepared.spanAttributes, parent }, (span) => {
      span.attribute("http.request.resend_count", resend)
      const propagate =
        fiber.getRef(HttpClient.TracerPropagationEnabled) && !Context.get(span.annotations, Tracer.DisablePropagation)
      return body(span, propagate ? span : undefined)
    })
  )

/** The headers of one attempt; `traced` is the attempt span to propagate, if any. */
const requestHeaders = (
  prepared: Prepared,
  input: CallInput,
  resend: number,
  traced: Tracer.Span | undefined
): Record<string, string> => {
  const headers = ResponseBody.headersFor(prepared.endpoint, input, resend)
  headers["content-type"] = "application/json"
  if (traced !== undefined) {
    headers.traceparent = `00-${traced.traceId.padStart(32, "0")}-${traced.spanId}-${traced.sampled ? "01" : "00"}`
  }
  return headers
}

/** Sends one streamed attempt's request with `undici.request` (its body is pulled by `SseReader`). */
const send = (
  prepared: Prepared,
  input: CallInput,
  resend: number,
  traced: Tracer.Span | undefined,
  signal: AbortSignal
): Promise<Dispatcher.ResponseData> =>
  request(prepared.url, {
    method: "POST",
    dispatcher: prepared.dispatcher,
    headers: requestHeaders(prepared, input, resend, traced),
    body: input.body,
    signal
  })

/** The typed failure of a non-2xx response (its body read up to 64 KiB). */
const statusFailureOf = (
  prepared: Prepared,
  policy: RetryPolicy.RetryPolicy,
  statusCode: number,
  headers: Dispatcher.ResponseData["headers"],
  body: string
): AttemptFailure =>
  ResponseBody.statusFailure(
    prepared.endpoint,
    policy,
    statusCode,
    (name) => headerOf(headers, name),
    body,
    prepared.timers.now()
  )

/**
 * One JSON attempt: a dispatch handler collects the body (jsonExchange.ts) under the headers timer,
 * which also covers the body; the outcome is decided in the fiber, so nothing here can throw into undici.
 */
const createAttempt = (
  prepared: Prepared,
  policy: RetryPolicy.RetryPolicy,
  input: CallInput,
  resend: number,
  span: Tracer.Span,
  traced: Tracer.Span | undefined
): Effect.Effect<Response, AttemptFailure> => {
  const { endpoint } = prepared
  const headersMs = endpoint.timeouts.headersMs
  let exchange: JsonExchange | undefined
  return timedWith<Response>(
    prepared.timers,
    headersMs,
    () => Effect.fail(timeout(exchange?.statusCode === undefined ? "headers" : "body", headersMs)),
    (done) => {
      const started = exchangeJson(
        prepared.dispatcher,
        {
          ...prepared.target,
          method: "POST",
          headers: requestHeaders(prepared, input, resend, traced),
          body: input.body
        },
        { jsonLimit: endpoint.maxJsonBytes, errorLimit: maxErrorBodyBytes },
        (ended) => done(Effect.suspend(() => createOutcome(prepared, policy, span, ended)))
      )
      exchange = started
      return () => started.abort()
    }
  )
}

/** The attempt's outcome for a finished exchange (run in the fiber). */
const createOutcome = (
  prepared: Prepared,
  policy: RetryPolicy.RetryPolicy,
  span: Tracer.Span,
  exchange: Exchange
): Effect.Effect<Response, AttemptFailure> => {
  const { endpoint } = prepared
  const { statusCode, headers } = exchange
  if (statusCode === undefined || headers === undefined) {
    return Effect.fail(fromTransport(exchange.cause, "headers", endpoint.timeouts.connectMs))
  }
  span.attribute("http.response.status_code", statusCode)
  if (ResponseBody.classify(statusCode, undefined, false) === "status") {
    // a broken error body keeps what arrived: the status still counts
    return Effect.fail(statusFailureOf(prepared, policy, statusCode, headers, exchange.body()))
  }
  const requestId = requestIdOf(headerOf(headers, "x-request-id"), endpoint.needles)
  switch (exchange.state) {
    case "TooLarge":
      return Effect.fail(ResponseBody.jsonTooLarge(endpoint.maxJsonBytes, requestId))
    case "BodyFailed":
      return Effect.fail(fromTransport(exchange.cause, "stream", endpoint.timeouts.connectMs))
    default:
      return ResponseBody.decodeJsonResponse(exchange.body(), requestId, endpoint)
  }
}

const streamAttempt = (
  prepared: Prepared,
  attempt: StreamAttempt,
  span: Tracer.Span,
  traced: Tracer.Span | undefined
): Effect.Effect<StreamStart, AttemptFailure, Scope.Scope> =>
  Effect.flatMap(Scope.Scope, (scope) => {
    const { endpoint, timers } = prepared
    const { policy, input, resend } = attempt
    const headersMs = endpoint.timeouts.headersMs
    let reader: SseReader | undefined
    let pending: Body | undefined
    const head = timed<Dispatcher.ResponseData>(
      timers,
      headersMs,
      () => Effect.fail(timeout("headers", headersMs)),
      (signal, done) =>
        guarded(
          send(prepared, input, resend, traced, signal).then(
            (response) => {
              pending = response.body
              done(Effect.succeed(response))
            },
            (error) => done(Effect.fail(fromTransport(error, "headers", endpoint.timeouts.connectMs)))
          ),
          (defect) => done(Effect.die(defect))
        )
    )
    const onResponse = (response: Dispatcher.ResponseData): Effect.Effect<StreamStart, AttemptFailure> => {
      span.attribute("http.response.status_code", response.statusCode)
      const requestId = requestIdOf(headerOf(response.headers, "x-request-id"), endpoint.needles)
      // a body read gets the headers limit too; when it fires (or on interruption) the body is destroyed
      const bodyTimer = <A>(onTimeout: () => Effect.Effect<A, AttemptFailure>, run: (done: Done<A>) => void) =>
        timed<A>(timers, headersMs, onTimeout, (signal, done) => {
          signal.addEventListener("abort", () => response.body.destroy(), { once: true })
          run(done)
        })
      const contentType = headerOf(response.headers, "content-type")
      switch (ResponseBody.classify(response.statusCode, contentType, true)) {
        case "status":
          // a stalled error body is cut: the status still counts
          return bodyTimer<never>(
            () => Effect.fail(statusFailureOf(prepared, policy, response.statusCode, response.headers, "")),
            (done) =>
              settle(readBounded(response.body, maxErrorBodyBytes), done, (body) =>
                Effect.fail(statusFailureOf(prepared, policy, response.statusCode, response.headers, body))
              )
          )
        case "json":
          return bodyTimer<StreamStart>(
            () => Effect.fail(timeout("body", headersMs)),
            (done) =>
              settle(readJson(response, endpoint.maxJsonBytes), done, (result) =>
                jsonResult(result, requestId, endpoint, (text) =>
                  ResponseBody.jsonStreamStart(text, requestId, endpoint)
                )
              )
          )
        case "unexpected": {
          const fail = (body: string) =>
            Effect.fail(ResponseBody.unexpectedContentType(contentType, body, requestId, endpoint))
          return bodyTimer<never>(
            () => fail(""),
            (done) => settle(readBounded(response.body, maxUnexpectedBodyBytes), done, fail)
          )
        }
      }
      const options = ResponseBody.decoderOptions(endpoint, attempt, requestId)
      reader = new SseReader(response.body, makeEventDecoder(options), endpoint, options.accumulator, timers)
      return reader.start()
    }
    return Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        if (reader !== undefined) reader.close()
        else if (pending !== undefined && !pending.destroyed && !pending.readableEnded) pending.destroy()
      })
    ).pipe(Effect.andThen(Effect.flatMap(head, onResponse)))
  })
