/**
 * Bounded reads of an undici response body for the direct transport (undici.ts): `readBounded`
 * (an error body or excerpt, at most `limit` bytes) and `readJson` (a JSON body up to the cap, a
 * larger declared or chunked one refused), plus `guarded`, which keeps a throwing callback from
 * becoming an unhandled rejection. This is a boundary with undici's promises and async iterators:
 * `.then` callbacks that never reject, with no `async`, `await` or `try`.
 * Gotcha: every function here resolves, never rejects; a failure is a value (`ReadFailed`, `tooLarge`).
 */
import type { Dispatcher } from "undici"

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
