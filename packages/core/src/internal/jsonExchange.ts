/**
 * One JSON request and its answer on an undici `Dispatcher`, as a dispatch handler: the body is
 * collected straight from `onResponseData` up to a byte limit. Why not `undici.request` as the SSE
 * attempt uses: its `Readable` body, promise chain and `AbortSignal` listener per request cost about
 * 10 µs of CPU per call, measured with `bench/src/split.ts` (bench/README.md, optimisation log row 10); a JSON
 * body is read whole anyway. undici.ts turns the `Exchange` into the attempt's outcome.
 * Gotcha: undici calls these methods from its HTTP parser, so they only record what arrived, and
 * `onDone` is called once, in a microtask (it resumes the fiber, which may send the next request on
 * the same dispatcher); all decoding, span and user code runs later, in the fiber (`Effect.suspend`).
 */
import type { IncomingHttpHeaders } from "node:http"
import type { Dispatcher } from "undici"

/** Where a finished exchange stands: what undici gave, up to the first failure. */
export type ExchangeState =
  /** No response head arrived: `cause` is undici's error (connect, send or a closed socket). */
  | "NoResponse"
  /** The whole body arrived (or, for a non-2xx status, its first `errorLimit` bytes). */
  | "Answered"
  /** A 2xx body over `jsonLimit`, declared by `content-length` or found while reading: not kept. */
  | "TooLarge"
  /** The body broke off after the head: `cause` is undici's error, `body()` what arrived. */
  | "BodyFailed"

/** The state of one exchange, read by its `onDone` callback. */
export interface Exchange {
  /** Where the exchange ended. */
  readonly state: ExchangeState
  /** The status code, once the head arrived. */
  readonly statusCode: number | undefined
  /** The response headers, once the head arrived. */
  readonly headers: IncomingHttpHeaders | undefined
  /** undici's error for `NoResponse` and `BodyFailed`. */
  readonly cause: unknown
  /** The body bytes kept so far as UTF-8 text (a leading BOM dropped, like `Response.text()`). */
  readonly body: () => string
}

/** Sends `request` on `dispatcher`; `onDone` is called once, when the exchange ends or fails. */
export const exchangeJson = (
  dispatcher: Dispatcher,
  request: Dispatcher.DispatchOptions,
  limits: { readonly jsonLimit: number; readonly errorLimit: number },
  onDone: (exchange: Exchange) => void
): JsonExchange => {
  const exchange = new JsonExchange(limits.jsonLimit, limits.errorLimit, onDone)
  dispatcher.dispatch(request, exchange)
  return exchange
}

/** Raised into undici to stop reading: the exchange has what it needs (or a timer fired). */
class Stopped extends Error {
  override readonly name = "VolleyStopped"
}

const utf8 = new TextDecoder("utf-8")

/** The dispatch handler behind `exchangeJson`. */
export class JsonExchange implements Dispatcher.DispatchHandler, Exchange {
  state: ExchangeState = "NoResponse"
  statusCode: number | undefined = undefined
  headers: IncomingHttpHeaders | undefined = undefined
  cause: unknown = undefined
  private controller: Dispatcher.DispatchController | undefined = undefined
  private stopped = false
  private ended = false
  private limit = 0
  private size = 0
  private readonly chunks: Array<Buffer> = []
  private readonly jsonLimit: number
  private readonly errorLimit: number
  private readonly onDone: (exchange: Exchange) => void

  constructor(jsonLimit: number, errorLimit: number, onDone: (exchange: Exchange) => void) {
    this.jsonLimit = jsonLimit
    this.errorLimit = errorLimit
    this.onDone = onDone
  }

  /** Stops the exchange (a timer fired or the fiber was interrupted): the socket is dropped, `onDone` is not called. */
  abort(): void {
    if (this.ended) return
    this.ended = true
    this.stop()
  }

  body(): string {
    const chunks = this.chunks
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size)
    return utf8.decode(bytes)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    // aborted while queued or connecting: undici only hands over the controller now
    if (this.ended) this.stop()
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // informational answers (1xx) come before the real head
    if (this.ended || statusCode < 200) return
    this.controller = controller
    this.statusCode = statusCode
    this.headers = headers
    const success = statusCode >= 200 && statusCode < 300
    this.limit = success ? this.jsonLimit : this.errorLimit
    const declared = Number(headers["content-length"] ?? Number.NaN)
    // a declared length over the limit is refused unread
    if (success && declared > this.limit) this.finish("TooLarge", true)
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.ended) return
    const room = this.limit - this.size
    if (chunk.byteLength <= room) {
      this.chunks.push(chunk)
      this.size += chunk.byteLength
      return
    }
    // past the limit: a 2xx body is refused, an error body keeps its first `errorLimit` bytes
    if (this.statusCode! < 300) {
      this.finish("TooLarge", true)
      return
    }
    if (room > 0) {
      this.chunks.push(chunk.subarray(0, room))
      this.size += room
    }
    this.finish("Answered", true)
  }

  onResponseEnd(): void {
    if (!this.ended) this.finish("Answered", false)
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.ended) return
    this.cause = error
    this.finish(this.statusCode === undefined ? "NoResponse" : "BodyFailed", false)
  }

  private finish(state: ExchangeState, stop: boolean): void {
    this.ended = true
    this.state = state
    if (stop) this.stop()
    // never from inside undici's parser: `onDone` resumes the fiber, which may send the next request
    queueMicrotask(this.notify)
  }

  private readonly notify = (): void => this.onDone(this)

  /** Aborts the request in undici (once); before `onRequestStart` it happens there. */
  private stop(): void {
    if (this.stopped || this.controller === undefined) return
    this.stopped = true
    this.controller.abort(new Stopped("stopped by Volley"))
  }
}
