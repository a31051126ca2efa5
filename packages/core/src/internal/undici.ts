/**
 * The direct undici transport behind `layerUndici` and `layerConfig`: one attempt of `create` or
 * `stream` is plain code on `undici.request` (a keep-alive `Agent`) under a single `Effect.callback`.
 * Headers, status and content-type decisions, JSON decoding and failure mapping are the shared pure
 * ones (responseBody.ts); the callback boundary (bounded body reads, `timed`) is nodeBody.ts, the SSE
 * body is `SseReader`; timers go through the `Timers` seam (real Node timers in production, the
 * fiber's `Clock` under `TestClock`). Why our own instead of Effect's `HttpClient` here: measured on
 * the bench's agent run (bench/README.md, optimisation 5), the `HttpClient` path cost ~0.25 ms of CPU
 * per model call on top of undici's ~0.05 ms, i.e. most of Volley's overhead.
 * Gotcha: a boundary with undici's promises: `.then` callbacks, no `async`, `await` or `try`.
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
  timed
} from "./nodeBody.ts"
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

/** Sends one attempt's request; `traced` is the attempt span to propagate, if any. */
const send = (
  prepared: Prepared,
  input: CallInput,
  resend: number,
  traced: Tracer.Span | undefined,
  signal: AbortSignal
): Promise<Dispatcher.ResponseData> => {
  const headers = ResponseBody.headersFor(prepared.endpoint, input, resend)
  headers["content-type"] = "application/json"
  if (traced !== undefined) {
    headers.traceparent = `00-${traced.traceId.padStart(32, "0")}-${traced.spanId}-${traced.sampled ? "01" : "00"}`
  }
  return request(prepared.url, { method: "POST", dispatcher: prepared.dispatcher, headers, body: input.body, signal })
}

/** The typed failure of a non-2xx response (body read up to 64 KiB). */
const statusFailureOf = (
  prepared: Prepared,
  policy: RetryPolicy.RetryPolicy,
  response: Dispatcher.ResponseData,
  body: string
): AttemptFailure =>
  ResponseBody.statusFailure(
    prepared.endpoint,
    policy,
    response.statusCode,
    (name) => headerOf(response.headers, name),
    body,
    prepared.timers.now()
  )

const createAttempt = (
  prepared: Prepared,
  policy: RetryPolicy.RetryPolicy,
  input: CallInput,
  resend: number,
  span: Tracer.Span,
  traced: Tracer.Span | undefined
): Effect.Effect<Response, AttemptFailure> => {
  const { endpoint } = prepared
  let phase: "headers" | "body" = "headers"
  const headersMs = endpoint.timeouts.headersMs
  return timed<Response>(
    prepared.timers,
    headersMs,
    () => Effect.fail(timeout(phase, headersMs)),
    (signal, done) => {
      const sent = send(prepared, input, resend, traced, signal).then(
        (response) => {
          phase = "body"
          span.attribute("http.response.status_code", response.statusCode)
          if (ResponseBody.classify(response.statusCode, undefined, false) === "status") {
            return settle(readBounded(response.body, maxErrorBodyBytes), done, (body) =>
              Effect.fail(statusFailureOf(prepared, policy, response, body))
            )
          }
          const requestId = requestIdOf(headerOf(response.headers, "x-request-id"), endpoint.needles)
          settle(readJson(response, endpoint.maxJsonBytes), done, (result) =>
            jsonResult(result, requestId, endpoint, (text) =>
              ResponseBody.decodeJsonResponse(text, requestId, endpoint)
            )
          )
        },
        (error) => done(Effect.fail(fromTransport(error, "headers", endpoint.timeouts.connectMs)))
      )
      // a callback that throws (a bug) fails this attempt instead of becoming an unhandled rejection
      guarded(sent, (defect) => done(Effect.die(defect)))
    }
  )
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
            () => Effect.fail(statusFailureOf(prepared, policy, response, "")),
            (done) =>
              settle(readBounded(response.body, maxErrorBodyBytes), done, (body) =>
                Effect.fail(statusFailureOf(prepared, policy, response, body))
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
