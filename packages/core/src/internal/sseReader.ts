/**
 * `SseReader`: reads an undici SSE body chunk by chunk through the synchronous event decoder, for
 * the direct transport (undici.ts). It runs the stream-idle timer (any bytes reset it) and the
 * content-idle timer (only non-`keepalive` events reset it) through the `Timers` seam, so
 * `TestClock` drives them in tests, and after the terminal event it drains a trailer in the
 * background so the keep-alive connection survives. A boundary with undici's async iterator:
 * `.then` callbacks that never reject, no `async`/`await`/`try`.
 * Gotcha: both idle timers count only while the reader waits for bytes (B11).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import type * as ResponseAccumulator from "../ResponseAccumulator.ts"
import type { ResponsesError } from "../ResponsesError.ts"
import type { StreamEvent } from "../ResponsesSchema.ts"
import type { AttemptFailure } from "./errors.ts"
import { type Body, Defect, guarded } from "./nodeBody.ts"
import { outOfMemoryFailure, type StreamStop, streamFailure } from "./responseBody.ts"
import type { EventDecoder } from "./sse.ts"
import type { Endpoint, StreamStart, Timer, Timers } from "./transport.ts"

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
export class SseReader {
  private readonly iterator: AsyncIterator<Uint8Array>
  private readonly idle: Timer
  private contentIdle: Timer | undefined
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
  private readonly timers: Timers

  constructor(
    body: Body,
    decoder: EventDecoder,
    endpoint: Endpoint,
    accumulator: ResponseAccumulator.ResponseAccumulator,
    timers: Timers
  ) {
    this.body = body
    this.timers = timers
    this.decoder = decoder
    this.endpoint = endpoint
    this.accumulator = accumulator
    this.iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    this.idle = timers.start(endpoint.timeouts.streamIdleMs, () => this.expire("stream-idle"))
    this.lastContent = endpoint.timeouts.contentIdleMs === undefined ? 0 : timers.now()
  }

  private expire(which: "stream-idle" | "content-idle"): void {
    if (this.closed || this.fired !== undefined || !this.waiting) return
    this.fired = which
    this.body.destroy()
  }

  /** Arms the timers for one wait for bytes (stream idle afresh; content idle for what is left of it). */
  private arm(): void {
    this.waiting = true
    this.idle.restart()
    const limit = this.endpoint.timeouts.contentIdleMs
    if (limit === undefined) return
    if (this.contentIdle !== undefined) this.contentIdle.stop()
    this.contentIdle = this.timers.start(Math.max(0, this.lastContent + limit - this.timers.now()), () =>
      this.expire("content-idle")
    )
  }

  /** The failure for a transport error or a timer, with the partial response once events were delivered. */
  private failure(cause: unknown): AttemptFailure {
    const partial = this.delivered > 0 ? this.accumulator.snapshot() : undefined
    const stop: StreamStop =
      this.fired === "stream-idle"
        ? { _tag: "StreamIdle" }
        : this.fired === "content-idle"
          ? { _tag: "ContentIdle" }
          : { _tag: "Broken", cause }
    return streamFailure(stop, this.endpoint, partial)
  }

  /** Reads the first batch (the attempt succeeds with it) and hands back the pull of the rest. */
  start(): Effect.Effect<StreamStart, AttemptFailure> {
    const pull = Effect.callback<ReadonlyArray<StreamEvent>, AttemptFailure | Cause.Done>((resume) => {
      this.next((result) =>
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
              this.lastContent = this.timers.now()
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
    return outOfMemoryFailure(defect, this.endpoint) ?? new Defect(defect)
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
    const timer = this.timers.start(drainMs, () => this.body.destroy())
    const step = (): void => {
      guarded(
        this.iterator.next().then(
          (result) => {
            if (result.done) return timer.stop()
            left -= result.value.byteLength
            // only a sentinel, comments and blank lines may follow: anything else is garbage, cut at once (B05 d)
            if (left >= 0 && isTrailer(result.value)) return step()
            timer.stop()
            this.body.destroy()
          },
          () => timer.stop()
        ),
        () => {
          timer.stop()
          this.body.destroy()
        }
      )
    }
    step()
    setImmediate(then)
  }

  private stopTimers(): void {
    this.idle.stop()
    if (this.contentIdle !== undefined) this.contentIdle.stop()
  }

  /** Stops the timers and destroys the body unless it ended. Idempotent. */
  close(): void {
    this.stopTimers()
    if (this.closed) return
    this.closed = true
    if (!this.body.destroyed && !this.body.readableEnded) this.body.destroy()
  }
}
