/**
 * The callback boundary of the direct undici transport (undici.ts): bounded reads of a response
 * body (`readBounded` for an error body or excerpt, `readJson` for a JSON body up to the cap),
 * `timedWith` / `timed` (one callback-based step under a `Timers` timer, stopped by an abort of its own
 * or an `AbortController`), `settle` and
 * `guarded`, which keep a throwing callback from becoming an unhandled rejection. This is a boundary
 * with undici's promises and async iterators: `.then` callbacks, no `async`, `await` or `try`.
 * Gotcha: the reads resolve, never reject; a failure is a value (`ReadFailed`, `tooLarge`).
 */
import * as Effect from "effect/Effect"
import type { Dispatcher } from "undici"
import { type AttemptFailure, fromTransport } from "./errors.ts"
import * as ResponseBody from "./responseBody.ts"
import type { Endpoint, Timers } from "./transport.ts"

/** An undici response body. */
export type Body = Dispatcher.ResponseData["body"]

/** One response header of an undici response (the first value of a repeated one). */
export const headerOf = (headers: Dispatcher.ResponseData["headers"], name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined
}

/**
 * Routes an exception thrown by one of `promise`'s callbacks to `onDefect` instead of letting it
 * become an unhandled rejection (which ends the process): nothing that runs in a transport
 * callback may throw out of it.
 */
export const guarded = (promise: Promise<unknown>, onDefect: (defect: unknown) => void): void => {
  promise.then(undefined, onDefect)
}

/** An exception caught in a transport callback: a `RangeError` (a value too large to hold) or a bug. */
export class Defect {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

/** A body that failed mid-read. */
export class ReadFailed {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

/** A JSON body over the cap (`maxJsonBytes`). */
export const tooLarge: unique symbol = Symbol("tooLarge")

/** Reads at most `limit` bytes of `body` as UTF-8 text, then destroys the rest. Never rejects. */
export const readBounded = (body: Body, limit: number): Promise<string> =>
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

/**
 * Reads a JSON body of at most `limit` bytes as text, never more: a `content-length` above the limit
 * is refused unread, a chunked body is cut as soon as it passes the limit. Never rejects.
 */
export const readJson = (
  response: Dispatcher.ResponseData,
  limit: number
): Promise<string | typeof tooLarge | ReadFailed> => {
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

/** Completes a `timed` step with its outcome (the first call wins). */
export type Done<A> = (effect: Effect.Effect<A, AttemptFailure>) => void

/**
 * Runs `run` under a `Timers` timer: when the timer fires first, the step ends with `onTimeout()` and
 * the work is stopped with the `abort` that `run` returned; an interruption stops it too.
 */
export const timedWith = <A>(
  timers: Timers,
  timeoutMs: number,
  onTimeout: () => Effect.Effect<A, AttemptFailure>,
  run: (done: Done<A>) => () => void
): Effect.Effect<A, AttemptFailure> =>
  Effect.callback<A, AttemptFailure>((resume) => {
    let settled = false
    const done: Done<A> = (effect) => {
      if (settled) return
      settled = true
      timer.stop()
      resume(effect)
    }
    const timer = timers.start(timeoutMs, () => {
      done(onTimeout())
      abort()
    })
    const abort = run(done)
    return Effect.sync(() => {
      if (settled) return
      settled = true
      timer.stop()
      abort()
    })
  })

/** `timedWith` for work stopped by an `AbortSignal` (undici's `request`, a body's `destroy`). */
export const timed = <A>(
  timers: Timers,
  timeoutMs: number,
  onTimeout: () => Effect.Effect<A, AttemptFailure>,
  run: (signal: AbortSignal, done: Done<A>) => void
): Effect.Effect<A, AttemptFailure> =>
  timedWith(timers, timeoutMs, onTimeout, (done) => {
    const controller = new AbortController()
    run(controller.signal, done)
    return () => controller.abort()
  })

/** Resolves `done` with what `promise` gives; a callback that throws (a bug) dies instead of escaping. */
export const settle = <A, B>(
  promise: Promise<B>,
  done: Done<A>,
  then: (value: B) => Effect.Effect<A, AttemptFailure>
): void =>
  guarded(
    promise.then((value) => done(then(value))),
    (defect) => done(Effect.die(defect))
  )

/** The attempt's outcome for what `readJson` gave: `decode(text)`, `ResponseTooLarge`, or a `NetworkError`. */
export const jsonResult = <A>(
  result: string | typeof tooLarge | ReadFailed,
  requestId: string | undefined,
  endpoint: Endpoint,
  decode: (text: string) => Effect.Effect<A, AttemptFailure>
): Effect.Effect<A, AttemptFailure> =>
  typeof result === "string"
    ? decode(result)
    : result === tooLarge
      ? Effect.fail(ResponseBody.jsonTooLarge(endpoint.maxJsonBytes, requestId))
      : Effect.fail(fromTransport(result.cause, "stream", endpoint.timeouts.connectMs))
