/**
 * Body reads of the `HttpClient` transport (http.ts): `readBounded` (an error body or excerpt, at
 * most `limit` bytes), `readJson` (a JSON body up to the cap; a larger declared or chunked one is
 * refused), `withContentIdle` (the content-idle timer over decoded events) and the `Stopped` marker
 * a stalled or broken byte stream fails with until the partial response is known.
 * Gotcha: every timer here is an Effect timer, so `TestClock` drives them.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type { StreamEvent } from "../ResponsesSchema.ts"
import { type AttemptFailure, fromTransport, type NetworkPhase } from "./errors.ts"
import * as ResponseBody from "./responseBody.ts"
import type { Endpoint } from "./transport.ts"

/** Marks a failure of the byte stream or a timer, mapped to a typed error once the partial is known. */
export class Stopped {
  readonly stop: ResponseBody.StreamStop
  constructor(stop: ResponseBody.StreamStop) {
    this.stop = stop
  }
}

/** Fails with a content-idle stop when no content event (anything but `keepalive`) arrives in time. */
export const withContentIdle = <E, R>(
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
export const readJson = (
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

/** The typed failure of a transport error of the `HttpClient`. */
export const transportFailure = (
  error: HttpClientError.HttpClientError,
  phase: NetworkPhase,
  endpoint: Endpoint
): AttemptFailure => {
  const reason = error.reason
  return fromTransport("cause" in reason ? reason.cause : undefined, phase, endpoint.timeouts.connectMs)
}

/** One response header (lower-case name). */
export const headerOf = (response: HttpClientResponse.HttpClientResponse, name: string): string | undefined => {
  const value = response.headers[name]
  return typeof value === "string" ? value : undefined
}
