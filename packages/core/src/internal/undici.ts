/**
 * The direct undici transport behind `layerUndici` and `layerConfig`: one attempt of `create` or
 * `stream` is plain code on `undici.request` (a keep-alive `Agent`) under a single `Effect.callback`,
 * with Node timers for the headers, body, stream-idle and content-idle limits, and the same error
 * mapping, SSE decoder (`makeEventDecoder`), partial responses and `StreamStart` contract as the
 * `HttpClient` transport in http.ts (which `layer` keeps for any `HttpClient`, e.g. in-memory tests).
 * Why our own instead of Effect's `HttpClient` here: measured on the bench's agent run (bench/README.md,
 * optimisation 5), the `HttpClient` path (request builder, header redaction, scoped body stream, a
 * `timeoutOrElse` race per attempt, an aborted `AbortController` per streamed body) cost ~0.25 ms of
 * CPU per model call on top of undici's ~0.05 ms, i.e. most of Volley's overhead.
 * This module is a boundary with undici's promises and async iterators: it uses `.then` callbacks that
 * never reject, with no `async`, `await` or `try`.
 * Gotcha: the timers here are real Node timers (TestClock does not drive them); tests that need
 * virtual time use `layer` over an in-memory `HttpClient`.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Context from "effect/Context"
import * as Tracer from "effect/Tracer"
import * as HttpClient from "effect/http/HttpClient"
import { Agent, type Dispatcher, request } from "undici"
import * as ResponseAccumulator from "../ResponseAccumulator.ts"
import { type ResponsesError, ResponseTooLarge } from "../ResponsesError.ts"
import type { Response, StreamEvent } from "../ResponsesSchema.ts"
import type * as RetryPolicy from "../RetryPolicy.ts"
import { type AttemptFailure, fromStatus, fromTransport, requestIdOf, timeout } from "./errors.ts"
import {
  type CallInput,
  type CallState,
  decodeJsonResponse,
  type Endpoint,
  jsonStreamStart,
  jsonTooLarge,
  maxErrorBodyBytes,
  mediaType,
  type StreamHooks,
  type StreamStart,
  type Transport,
  unexpectedContentType
} from "./http.ts"
import { parseRetryAfter } from "./retryAfter.ts"
import { type EventDecoder, makeEventDecoder } from "./sse.ts"

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

/** The transport over `dispatcher` for `endpoint`. */
export const makeTransport = (dispatcher: Dispatcher, endpoint: Endpoint): Transport => {
  const target = new URL(endpoint.url)
  for (const [name, value] of endpoint.urlParams) target.searchParams.append(name, Redacted.value(value))
  const prepared: Prepared = {
    dispatcher,
    endpoint,
    url: target.toString(),
    base: { ...lowerCased(endpoint.headers), "content-type": "application/json" },
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
    stream: (policy, input, resend, state, hooks, parent) =>
      attemptSpan(prepared, resend, parent, (span, traced) =>
        streamAttempt(prepared, policy, input, resend, state, hooks, span, traced)
      )
  }
}

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

interface Prepared {
  readonly dispatcher: Dispatcher
  readonly endpoint: Endpoint
  /** The full URL, query parameters included. */
  readonly url: string
  /** Headers of every request: the static ones and the content type (auth is set per attempt, last). */
  readonly base: Readonly<Record<string, string>>
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

const headersFor = (
  prepared: Prepared,
  input: CallInput,
  resend: number,
  span: Tracer.Span | undefined
): Record<string, string> => {
  const { endpoint } = prepared
  const headers: Record<string, string> = { ...prepared.base, accept: input.accept }
  // names are case-insensitive: one spelling each, or undici sends both (as HttpClient's Headers would not)
  if (input.headers !== undefined) Object.assign(headers, lowerCased(input.headers))
  if (endpoint.auth !== undefined) headers[endpoint.auth[0]] = Redacted.value(endpoint.auth[1])
  if (endpoint.attemptHeader !== undefined) headers[endpoint.attemptHeader] = String(resend)
  if (endpoint.idempotencyHeader !== undefined && input.idempotencyKey !== undefined) {
    headers[endpoint.idempotencyHeader] = input.idempotencyKey
  }
  if (span !== undefined) {
    headers.traceparent = `00-${span.traceId.padStart(32, "0")}-${span.spanId}-${span.sampled ? "01" : "00"}`
  }
  return headers
}

/** `headers` with lower-cased names (a later spelling of a name wins). */
const lowerCased = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in headers) out[name.toLowerCase()] = headers[name]!
  return out
}

type Body = Dispatcher.ResponseData["body"]

const headerOf = (headers: Dispatcher.ResponseData["headers"], name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined
}

/** Reads at most `limit` bytes of `body` as UTF-8 text, then destroys the rest. Never rejects. */
const readBounded = (body: Body, limit: number): Promise<string> =>
  new Promise((resolve) => {
    const all = new Uint8Array(limit)
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    let size = 0
    const finish = () => {
      if (!body.destroyed) body.destroy()
      // `stream: true` drops a character cut at the limit instead of emitting U+FFFD
      resolve(new TextDecoder("utf-8").decode(all.subarray(0, size), { stream: true }))
    }
    const step = (): void => {
      guarded(
        iterator.next().then(
          (result) => {
            if (result.done) return finish()
            const kept = result.value.subarray(0, limit - size)
            all.set(kept, size)
            size += kept.byteLength
            if (size >= limit) return finish()
            step()
          },
          // a broken error body: keep what arrived
          finish
        ),
        finish
      )
    }
    step()
  })

/** A JSON body over the cap (`maxJsonBytes`). */
const tooLarge: unique symbol = Symbol("tooLarge")

/** A body that failed mid-read. */
class ReadFailed {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

/**
 * Reads a JSON body of at most `limit` bytes as text, never more: a `content-length` above the limit
 * is refused unread, a chunked body is cut as soon as it passes the limit. Never rejects.
 */
const readJson = (response: Dispatcher.ResponseData, limit: number): Promise<string | typeof tooLarge | ReadFailed> => {
  const body = response.body
  const declared = Number(headerOf(response.headers, "content-length") ?? Number.NaN)
  if (declared > limit) {
    body.destroy()
    return Promise.resolve(tooLarge)
  }
  // the common case: a declared length within the limit (undici reads no more than declared)
  if (declared >= 0) return body.text().then(identityText, (cause: unknown) => new ReadFailed(cause))
  return new Promise((resolve) => {
    const chunks: Array<Uint8Array> = []
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    let size = 0
    const step = (): void => {
      guarded(
        iterator.next().then(
          (result) => {
            if (result.done) return resolve(new TextDecoder("utf-8").decode(Buffer.concat(chunks, size)))
            size += result.value.byteLength
            if (size > limit) {
              body.destroy()
              return resolve(tooLarge)
            }
            chunks.push(result.value)
            step()
          },
          (cause: unknown) => resolve(new ReadFailed(cause))
        ),
        (defect) => resolve(new ReadFailed(defect))
      )
    }
    step()
  })
}

const identityText = (text: string): string => text

/** The attempt's outcome for what `readJson` gave: `decode(text)`, `ResponseTooLarge`, or a `NetworkError`. */
const jsonResult = <A>(
  result: string | typeof tooLarge | ReadFailed,
  requestId: string | undefined,
  endpoint: Endpoint,
  decode: (text: string) => Effect.Effect<A, AttemptFailure>
): Effect.Effect<A, AttemptFailure> =>
  typeof result === "string"
    ? decode(result)
    : result === tooLarge
      ? Effect.fail(jsonTooLarge(endpoint.maxJsonBytes, requestId))
      : Effect.fail(fromTransport(result.cause, "stream", endpoint.timeouts.connectMs))

/**
 * Routes an exception thrown by one of `promise`'s callbacks to `onDefect` instead of letting it
 * become an unhandled rejection (which ends the process): nothing that runs in a transport
 * callback may throw out of it.
 */
const guarded = (promise: Promise<unknown>, onDefect: (defect: unknown) => void): void => {
  promise.then(undefined, onDefect)
}

/** An exception caught in a transport callback: a `RangeError` (a value too large to hold) or a bug. */
class Defect {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

/** The typed failure of a non-2xx response with `body` (what could be read of it). */
const statusFailureOf = (
  prepared: Prepared,
  policy: RetryPolicy.RetryPolicy,
  response: Dispatcher.ResponseData,
  body: string
): AttemptFailure => {
  const header = (name: string) => headerOf(response.headers, name)
  return fromStatus({
    status: response.statusCode,
    header,
    body,
    retryStatuses: policy.retryStatuses,
    needles: prepared.endpoint.needles,
    retryAfter: parseRetryAfter(header, Date.now())
  })
}

/** The typed failure of a non-2xx response (body read up to 64 KiB). Never rejects. */
const statusFailure = (
  prepared: Prepared,
  policy: RetryPolicy.RetryPolicy,
  response: Dispatcher.ResponseData
): Promise<AttemptFailure> =>
  readBounded(response.body, maxErrorBodyBytes).then((body) => statusFailureOf(prepared, policy, response, body))

/** Sends one attempt's request; `traced` is the attempt span to propagate, if any. */
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
    headers: headersFor(prepared, input, resend, traced),
    body: input.body,
    signal
  })

/**
 * Runs `run` with an `AbortController` and a timer: when the timer fires first, the request is
 * aborted and the attempt fails with `timeout(phase(), ms)`; an interruption aborts it too.
 */
const timed = <A>(
  timeoutMs: number,
  phase: () => "headers" | "body",
  run: (signal: AbortSignal, done: (effect: Effect.Effect<A, AttemptFailure>) => void) => void
): Effect.Effect<A, AttemptFailure> =>
  Effect.callback<A, AttemptFailure>((resume) => {
    const controller = new AbortController()
    let settled = false
    const done = (effect: Effect.Effect<A, AttemptFailure>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(effect)
    }
    const timer = setTimeout(() => {
      const failure = timeout(phase(), timeoutMs)
      done(Effect.fail(failure))
      controller.abort()
    }, timeoutMs)
    run(controller.signal, done)
    return Effect.sync(() => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      controller.abort()
    })
  })

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
  return timed<Response>(
    endpoint.timeouts.headersMs,
    () => phase,
    (signal, done) => {
      const sent = send(prepared, input, resend, traced, signal).then(
        (response) => {
          phase = "body"
          span.attribute("http.response.status_code", response.statusCode)
          if (response.statusCode < 200 || response.statusCode >= 300) {
            guarded(
              statusFailure(prepared, policy, response).then((failure) => done(Effect.fail(failure))),
              (defect) => done(Effect.die(defect))
            )
            return
          }
          const requestId = requestIdOf(headerOf(response.headers, "x-request-id"), endpoint.needles)
          guarded(
            readJson(response, endpoint.maxJsonBytes).then((result) =>
              done(jsonResult(result, requestId, endpoint, (text) => decodeJsonResponse(text, requestId, endpoint)))
            ),
            (defect) => done(Effect.die(defect))
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
  policy: RetryPolicy.RetryPolicy,
  input: CallInput,
  resend: number,
  state: CallState,
  hooks: StreamHooks,
  span: Tracer.Span,
  traced: Tracer.Span | undefined
): Effect.Effect<StreamStart, AttemptFailure, Scope.Scope> =>
  Effect.flatMap(Scope.Scope, (scope) => {
    const { endpoint } = prepared
    const connectMs = endpoint.timeouts.connectMs
    let reader: SseReader | undefined
    let pending: Body | undefined
    const head = timed<Dispatcher.ResponseData>(
      endpoint.timeouts.headersMs,
      () => "headers",
      (signal, done) => {
        guarded(
          send(prepared, input, resend, traced, signal).then(
            (response) => {
              pending = response.body
              done(Effect.succeed(response))
            },
            (error) => done(Effect.fail(fromTransport(error, "headers", connectMs)))
          ),
          (defect) => done(Effect.die(defect))
        )
      }
    )
    const onResponse = (response: Dispatcher.ResponseData): Effect.Effect<StreamStart, AttemptFailure> => {
      span.attribute("http.response.status_code", response.statusCode)
      const requestId = requestIdOf(headerOf(response.headers, "x-request-id"), endpoint.needles)
      // the body gets the headers limit too; when it fires (or on interruption) the body is destroyed
      const bodyTimer = <A>(run: (done: (effect: Effect.Effect<A, AttemptFailure>) => void) => void) =>
        timed<A>(
          endpoint.timeouts.headersMs,
          () => "body",
          (signal, done) => {
            signal.addEventListener("abort", () => response.body.destroy(), { once: true })
            run(done)
          }
        )
      if (response.statusCode < 200 || response.statusCode >= 300) {
        // the error body gets the headers limit; a stalled one is cut, the status still counts
        return bodyTimer<never>((done) => {
          guarded(
            statusFailure(prepared, policy, response).then((failure) => done(Effect.fail(failure))),
            (defect) => done(Effect.die(defect))
          )
        }).pipe(
          Effect.catchIf(
            (failure) => failure.error._tag === "RequestTimeout" && failure.error.phase === "body",
            () => Effect.fail(statusFailureOf(prepared, policy, response, ""))
          )
        )
      }
      const contentType = mediaType(headerOf(response.headers, "content-type"))
      if (contentType === "application/json") {
        return bodyTimer<StreamStart>((done) => {
          guarded(
            readJson(response, endpoint.maxJsonBytes).then((result) =>
              done(jsonResult(result, requestId, endpoint, (text) => jsonStreamStart(text, requestId, endpoint)))
            ),
            (defect) => done(Effect.die(defect))
          )
        })
      }
      if (contentType !== "text/event-stream") {
        // at most 1 KiB of the body for the message, read under the headers limit (a stalled body is cut)
        return bodyTimer<string>((done) => {
          guarded(
            readBounded(response.body, 1024).then((body) => done(Effect.succeed(body))),
            (defect) => done(Effect.die(defect))
          )
        }).pipe(
          Effect.catch(() => Effect.succeed("")),
          Effect.flatMap((body) => Effect.fail(unexpectedContentType(contentType, body, requestId, endpoint)))
        )
      }
      const accumulator = ResponseAccumulator.make({ onMismatch: hooks.onMismatch, onWarning: hooks.onWarning })
      const decoder = makeEventDecoder({
        maxEventSize: endpoint.maxEventSize,
        maxStreamBytes: endpoint.maxStreamBytes,
        attempts: state.attempts + 1,
        ...(requestId === undefined ? {} : { requestId }),
        onRetryField: hooks.onRetryField,
        secrets: endpoint.needles,
        accumulator
      })
      const current = new SseReader(response.body, decoder, endpoint, accumulator)
      reader = current
      const pull = Effect.callback<ReadonlyArray<StreamEvent>, AttemptFailure | Cause.Done>((resume) => {
        current.next((result) =>
          resume(
            result === done
              ? Cause.done()
              : Array.isArray(result)
                ? Effect.succeed(result)
                : result instanceof Defect
                  ? Effect.die(result.cause)
                  : Effect.fail(result as AttemptFailure)
          )
        )
      })
      return pull.pipe(
        Pull.catchDone(() => Effect.succeed([] as ReadonlyArray<StreamEvent>)),
        Effect.map(
          (first): StreamStart => ({
            first,
            rest: Effect.mapError(pull, (error) => (Cause.isDone(error) ? error : error.error))
          })
        )
      )
    }
    return Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        if (reader !== undefined) reader.close()
        else if (pending !== undefined && !pending.destroyed && !pending.readableEnded) pending.destroy()
      })
    ).pipe(Effect.andThen(Effect.flatMap(head, onResponse)))
  })

/** What a completed body may still send, and for how long, before it is destroyed (see `release`). */
const drainBytes = 1024
const drainMs = 50

/** What may follow a terminal event: `data: [DONE]`, `:` comments and blank lines (as whole lines). */
const trailerPattern = /^(?:data: ?\[DONE\]\r?\n|:[^\r\n]*\r?\n|\r?\n)*$/

/** True when a chunk after the terminal event is only an allowed trailer (ASCII, so latin1 is exact). */
const isTrailer = (chunk: Uint8Array): boolean => trailerPattern.test(Buffer.from(chunk).toString("latin1"))

/** Marks the end of a body (no more events). */
const done: unique symbol = Symbol("done")

/**
 * Reads an SSE body chunk by chunk through the synchronous decoder, under the stream-idle timer
 * (any bytes reset it) and the content-idle timer (only non-`keepalive` events reset it). Both
 * count only while the reader waits for bytes: a consumer slower than the limits, with the
 * server's bytes waiting unread, is not an idle server (B11).
 * `next()` never rejects: it resolves with a non-empty batch, `done`, or the attempt failure.
 */
class SseReader {
  private readonly iterator: AsyncIterator<Uint8Array>
  private readonly idle: ReturnType<typeof setTimeout>
  private contentIdle: ReturnType<typeof setTimeout> | undefined
  /** When the last content event arrived (content-idle only). */
  private lastContent: number
  private waiting = false
  private fired: "stream-idle" | "content-idle" | undefined
  private delivered = 0
  private closed = false
  private readonly body: Body
  private readonly decoder: EventDecoder
  private readonly endpoint: Endpoint
  private readonly accumulator: ResponseAccumulator.ResponseAccumulator

  constructor(
    body: Body,
    decoder: EventDecoder,
    endpoint: Endpoint,
    accumulator: ResponseAccumulator.ResponseAccumulator
  ) {
    this.body = body
    this.decoder = decoder
    this.endpoint = endpoint
    this.accumulator = accumulator
    this.iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    this.idle = setTimeout(() => this.expire("stream-idle"), endpoint.timeouts.streamIdleMs)
    this.lastContent = endpoint.timeouts.contentIdleMs === undefined ? 0 : Date.now()
  }

  private expire(which: "stream-idle" | "content-idle"): void {
    if (this.closed || this.fired !== undefined || !this.waiting) return
    this.fired = which
    this.body.destroy()
  }

  /** Arms the timers for one wait for bytes (stream idle afresh; content idle for what is left of it). */
  private arm(): void {
    this.waiting = true
    this.idle.refresh()
    const limit = this.endpoint.timeouts.contentIdleMs
    if (limit === undefined) return
    if (this.contentIdle !== undefined) clearTimeout(this.contentIdle)
    this.contentIdle = setTimeout(() => this.expire("content-idle"), Math.max(0, this.lastContent + limit - Date.now()))
  }

  /** The failure for a transport error or a timer, with the partial response once events were delivered. */
  private failure(cause: unknown): AttemptFailure {
    const partial = this.delivered > 0 ? this.accumulator.snapshot() : undefined
    const { streamIdleMs, contentIdleMs, connectMs } = this.endpoint.timeouts
    if (this.fired === "stream-idle") return timeout("stream-idle", streamIdleMs, partial)
    if (this.fired === "content-idle") return timeout("content-idle", contentIdleMs ?? 0, partial)
    return fromTransport(cause, "stream", connectMs, partial)
  }

  /**
   * The next batch; `deliver` is called exactly once (with a batch, `done`, the attempt failure, or
   * the `Defect` a callback threw: a `RangeError` becomes `ResponseTooLarge`, anything else dies).
   */
  next(deliver: (result: ReadonlyArray<StreamEvent> | typeof done | AttemptFailure | Defect) => void): void {
    const decoder = this.decoder
    if (decoder.finished()) {
      const failure = decoder.failure()
      deliver(failure === undefined ? done : { error: failure, retryable: false })
      return
    }
    let delivered = false
    const once = (result: ReadonlyArray<StreamEvent> | typeof done | AttemptFailure | Defect): void => {
      if (delivered) return
      delivered = true
      deliver(result)
    }
    const onDefect = (defect: unknown): void => {
      this.waiting = false
      this.close()
      once(this.defectFailure(defect))
    }
    const out: Array<StreamEvent> = []
    const read = (): void => {
      this.arm()
      guarded(
        this.iterator.next().then(
          (step) => {
            this.waiting = false
            if (this.fired !== undefined) {
              this.close()
              return once(this.failure(undefined))
            }
            if (step.done) {
              const error = decoder.end(out)
              this.close()
              return once(this.settle(out, error))
            }
            const error = decoder.feed(step.value, out)
            if (decoder.finished()) {
              if (error !== undefined) {
                this.close()
                return once(this.settle(out, error))
              }
              return this.release(() => once(this.settle(out, undefined)))
            }
            if (out.length === 0) return read()
            if (this.contentIdle !== undefined && out.some((event) => event.type !== "keepalive")) {
              this.lastContent = Date.now()
            }
            this.delivered += out.length
            once(out)
          },
          (cause: unknown) => {
            this.waiting = false
            this.close()
            once(this.failure(cause))
          }
        ),
        onDefect
      )
    }
    read()
  }

  /**
   * What a callback's exception becomes: a `RangeError` (a string or array past what V8 can hold,
   * e.g. a partial response joined from more text than fits) is `ResponseTooLarge` without a
   * partial; anything else is a bug, and dies in the calling fiber rather than the process.
   */
  private defectFailure(defect: unknown): AttemptFailure | Defect {
    if (!(defect instanceof RangeError)) return new Defect(defect)
    const error = new ResponseTooLarge({
      message: "the stream grew beyond what this process can hold",
      retryable: false,
      attempts: 1,
      causes: [],
      body: "stream",
      maxBytes: this.endpoint.maxStreamBytes
    })
    return { error, retryable: false }
  }

  /** Events decoded before an error in the same chunk are delivered first; the error follows. */
  private settle(
    out: ReadonlyArray<StreamEvent>,
    error: ResponsesError | undefined
  ): ReadonlyArray<StreamEvent> | typeof done | AttemptFailure {
    if (out.length > 0) {
      this.delivered += out.length
      return out
    }
    return error === undefined ? done : { error, retryable: false }
  }

  /**
   * After the terminal event nothing more is decoded. What is left of the body (a trailing `data:
   * [DONE]`, the last chunk in a later packet) is drained in the background, up to `drainBytes` and
   * `drainMs`, so the keep-alive connection survives; anything but a trailer (garbage: B05 d) is
   * destroyed at once, and a body that stays open longer (a socket held open) after `drainMs`. A body
   * already received to its end ends within the one scheduler turn before `then` runs, so the next call
   * finds its connection free.
   */
  private release(then: () => void): void {
    this.stopTimers()
    // from here the drain owns the body: `close()` (the scope finalizer) leaves it alone
    this.closed = true
    let left = drainBytes
    const timer = setTimeout(() => this.body.destroy(), drainMs)
    const step = (): void => {
      guarded(
        this.iterator.next().then(
          (result) => {
            if (result.done) return clearTimeout(timer)
            left -= result.value.byteLength
            // only a sentinel, comments and blank lines may follow: anything else is garbage, cut at once (B05 d)
            if (left >= 0 && isTrailer(result.value)) return step()
            clearTimeout(timer)
            this.body.destroy()
          },
          () => clearTimeout(timer)
        ),
        () => {
          clearTimeout(timer)
          this.body.destroy()
        }
      )
    }
    step()
    setImmediate(then)
  }

  private stopTimers(): void {
    clearTimeout(this.idle)
    if (this.contentIdle !== undefined) clearTimeout(this.contentIdle)
  }

  /** Stops the timers and destroys the body unless it ended. Idempotent. */
  close(): void {
    this.stopTimers()
    if (this.closed) return
    this.closed = true
    if (!this.body.destroyed && !this.body.readableEnded) this.body.destroy()
  }
}
