/**
 * Bytes of a Responses SSE body to typed `StreamEvent`s: `decodeEvents(options)` is the stream
 * operator the client uses, `makeEventDecoder(options)` the same machine as a synchronous object for
 * tests and benchmarks. Framing is `makeFrameParser` (Effect's `Sse.makeParser` semantics with native
 * line-end search, see sseFrames.ts), UTF-8 a streaming `TextDecoder`
 * (invalid bytes become U+FFFD: our B12 choice, as browsers do), hot delta events skip the schema
 * through a checked fast path, and a `ResponseAccumulator` gives every error its `partial` response
 * and turns structural contradictions (B08, D08) into failures.
 * Gotcha: failures are not emitted as events (`response.failed` and `error` events end the stream
 * with `ResponseFailed`), while `response.completed` / `.incomplete` are emitted only after the
 * upstream body was released, so nothing after them is ever read.
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ResponseAccumulator from "../ResponseAccumulator.ts"
import {
  EventTooLarge,
  ResponseDecodeError,
  ResponseFailed,
  ResponseTooLarge,
  StreamProtocolError,
  type ResponsesError,
  type StreamProtocolReason,
  StreamTruncated
} from "../ResponsesError.ts"
import { decodeStreamEventUnsafe, hostedEventTypes, type Response, type StreamEvent } from "../ResponsesSchema.ts"
import { isRetryableCode } from "./errors.ts"
import { decodeStructuralEventFast } from "./fastDecode.ts"
import { exceedsDepth, maxJsonDepth } from "./jsonDepth.ts"
import { excerpt, truncateUtf8 } from "../Redaction.ts"
import { issuePath } from "./responseBody.ts"
import { makeFrameParser } from "./sseFrames.ts"

/** Options of `decodeEvents` / `makeEventDecoder`. */
export interface DecodeOptions {
  /** Largest pending SSE event, in UTF-16 code units (= bytes for ASCII). Default 16 MiB (docs/reliability.md). */
  readonly maxEventSize?: number
  /**
   * Largest total of body bytes one stream may send, events, comments and `retry:` lines included.
   * Default 64 MiB (`defaultMaxStreamBytes`); past it the stream ends with `ResponseTooLarge`.
   */
  readonly maxStreamBytes?: number
  /** Stamped on every error (`x-request-id` of the response). */
  readonly requestId?: string | undefined
  /** Stamped on every error: HTTP attempts spent on this call (default 1). */
  readonly attempts?: number
  /** Called with the delay of each SSE `retry:` field; the stream goes on (record it as a span event). */
  readonly onRetryField?: (ms: number) => void
  /** Called when a call's argument deltas disagree with its final arguments (C09); the final item wins. */
  readonly onMismatch?: (info: ResponseAccumulator.ArgumentsMismatch) => void
  /** Secrets redacted from server-provided error messages (key-shaped tokens always are). */
  readonly secrets?: ReadonlyArray<string> | undefined
  /**
   * The accumulator to fold events into, so the caller can read the partial response after a
   * failure the decoder does not see (a reset socket, an idle timeout). It receives every decoded
   * event exactly once, emitted or not: do not add them again. `onMismatch` is ignored when this is
   * given (pass it to `ResponseAccumulator.make` instead).
   */
  readonly accumulator?: ResponseAccumulator.ResponseAccumulator | undefined
}

/** Every way `decodeEvents` fails on its own (upstream errors pass through unchanged). */
export type SseStreamError = Extract<
  ResponsesError,
  {
    readonly _tag:
      | "StreamProtocolError"
      | "EventTooLarge"
      | "ResponseTooLarge"
      | "StreamTruncated"
      | "ResponseFailed"
      | "ResponseDecodeError"
  }
>

/** The default cap on one SSE event: 16 MiB. */
export const defaultMaxEventSize = 16 * 1024 * 1024

/** The default cap on all the bytes of one SSE stream: 64 MiB. */
export const defaultMaxStreamBytes = 64 * 1024 * 1024

/** The synchronous decoder behind `decodeEvents`. One per stream. */
export interface EventDecoder {
  /** Decodes one chunk, appending events to `out`; returns the error that ends the stream, if any. */
  readonly feed: (chunk: Uint8Array, out: Array<StreamEvent>) => SseStreamError | undefined
  /** Signals EOF: flushes the UTF-8 decoder and returns `StreamTruncated` unless the stream finished. */
  readonly end: (out: Array<StreamEvent>) => SseStreamError | undefined
  /** True once a terminal event (or an error) ended the stream: further input is ignored. */
  readonly finished: () => boolean
  /** The error that ended the stream, if it ended with one. */
  readonly failure: () => SseStreamError | undefined
  /** The response accumulated so far. */
  readonly snapshot: () => Response
}

/** Creates the synchronous decoder: framing, JSON, schema decode, accumulation. */
export const makeEventDecoder = (options?: DecodeOptions): EventDecoder => {
  const maxEventSize = options?.maxEventSize ?? defaultMaxEventSize
  const maxStreamBytes = options?.maxStreamBytes ?? defaultMaxStreamBytes
  let received = 0
  const onRetryField = options?.onRetryField
  const accumulator = options?.accumulator ?? ResponseAccumulator.make({ onMismatch: options?.onMismatch })
  const errors = makeErrors(options, accumulator)
  const text = new TextDecoder("utf-8")
  let eventIndex = 0
  let finished = false
  let failure: SseStreamError | undefined
  let sink: Array<StreamEvent> = []

  const stop = (error: SseStreamError | undefined) => {
    finished = true
    failure = error
    // Drops the rest of the current chunk (the parser checks for a reset after each callback).
    parser.reset()
  }

  const onEvent = (eventName: string, data: string) => {
    if (finished) return
    const index = eventIndex++
    // The parser checks its size cap between chunks; an event that arrived whole in one big chunk is checked here.
    if (data.length > maxEventSize) return stop(errors.tooLarge(maxEventSize))
    const json = parseJson(data)
    if (json === invalidJson) {
      // `[DONE]` is not JSON, so the sentinel is looked for only here. Before any terminal event it
      // means the stream was cut short (C06c); anything else around it (`[DONE]x`, `[DONE] `,
      // ` [DONE]`, `[DONE]\n{...}`) is a forgery (B05c).
      if (looksLikeSentinel(data)) {
        return stop(
          data.length === 6
            ? errors.truncated("the stream sent [DONE] before a terminal response event")
            : errors.protocol("ForgedSentinel", index, `event ${index} imitates the [DONE] sentinel`)
        )
      }
      // The payload may hold secrets or user content: the message names only the position.
      return stop(errors.protocol("InvalidJson", index, `event ${index} is not valid JSON`))
    }
    if (eventName === "error" || isErrorPayload(json)) return stop(errors.failedFromError(json))
    if (typeof json !== "object" || json === null || typeof (json as { type?: unknown }).type !== "string") {
      return stop(errors.protocol("MissingType", index, `event ${index} has no string "type"`))
    }
    const type = (json as { type: string }).type
    // Model data enters here: nothing nested past the limit reaches a recursive walk (JSON.stringify of
    // the history). Nesting deeper than the limit takes two characters per level, so shorter data
    // (every delta) skips the walk; a check of the type name per event cost more than the walk saved.
    if (data.length > 2 * maxJsonDepth && exceedsDepth(json)) return stop(errors.tooDeep(type))
    const decoded = decodeEvent(json)
    if (decoded === undefined) return stop(errors.decode((json as { type: string }).type, json))
    const contradiction = accumulator.add(decoded, index)
    if (contradiction !== undefined) return stop(errors.protocol(contradiction.reason, index, contradiction.message))
    if (decoded.type === "response.failed") return stop(errors.failedFromResponse(decoded.response))
    sink.push(decoded)
    if (decoded.type === "response.completed" || decoded.type === "response.incomplete") stop(undefined)
  }

  const parser = makeFrameParser(
    onEvent,
    (ms) => {
      if (onRetryField !== undefined) onRetryField(Duration.toMillis(Duration.millis(ms)))
    },
    maxEventSize
  )

  const feed = (chunk: Uint8Array, out: Array<StreamEvent>): SseStreamError | undefined => {
    if (finished) return failure
    sink = out
    received += chunk.byteLength
    // checked before the chunk is decoded: nothing past the cap is parsed or accumulated
    if (received > maxStreamBytes) {
      stop(errors.streamTooLarge(maxStreamBytes))
      return failure
    }
    const tooLarge = parser.feed(text.decode(chunk, { stream: true }))
    if (tooLarge && !finished) stop(errors.tooLarge(maxEventSize))
    return failure
  }

  const end = (out: Array<StreamEvent>): SseStreamError | undefined => {
    if (finished) return failure
    sink = out
    // A trailing incomplete character becomes U+FFFD; an event without its blank line is dropped (B12).
    parser.feed(text.decode())
    if (!finished) stop(errors.truncated("the stream ended without a terminal response event"))
    return failure
  }

  return { feed, end, finished: () => finished, failure: () => failure, snapshot: accumulator.snapshot }
}

/**
 * Decodes an SSE byte stream into `StreamEvent`s. The stream ends right after `response.completed`
 * or `response.incomplete`, closing the upstream (the HTTP body) at once: bytes after the terminal
 * event are never read. `keepalive` and unknown events pass through.
 */
export const decodeEvents =
  (options?: DecodeOptions) =>
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<StreamEvent, E | SseStreamError, R> =>
    Stream.fromChannel(
      Channel.fromTransform((_, scope) =>
        Effect.gen(function* () {
          const upstreamScope = Scope.forkUnsafe(scope)
          const upstream = yield* Channel.toPullScoped(Stream.toChannel(bytes), upstreamScope)
          const decoder = makeEventDecoder(options)
          let released = false
          const release = Effect.suspend(() => {
            if (released) return Effect.void
            released = true
            return Scope.close(upstreamScope, Exit.void)
          })
          // After a terminal event, one scheduler turn (`yieldNow`, a `setImmediate`: no timer, no
          // read) before the release. A body that is already complete (its end was received with the
          // terminal event, the common case) is ended by Node in that turn, so closing it is a no-op
          // instead of an aborted request (an undici `RequestAbortedError` with a stack trace per
          // call). A body that is not complete (B05 d: garbage, the socket held open) is still
          // released right after that turn, before the terminal event reaches the consumer.
          const releaseCompleted = Effect.suspend(() =>
            released ? Effect.void : Effect.andThen(Effect.yieldNow, release)
          )
          // Events decoded before an error in the same chunk are emitted first; the error follows.
          const finish = (
            out: Array<StreamEvent>,
            error: SseStreamError | undefined
          ): Pull.Pull<Batch, SseStreamError> =>
            Effect.andThen(error === undefined ? releaseCompleted : release, (): Pull.Pull<Batch, SseStreamError> => {
              if (out.length > 0) return Effect.succeed(out as unknown as Batch)
              return error !== undefined ? Effect.fail(error) : Cause.done()
            })
          const onChunks = (chunks: ReadonlyArray<Uint8Array>): Pull.Pull<Batch, E | SseStreamError, void, R> => {
            const out: Array<StreamEvent> = []
            for (let i = 0; i < chunks.length; i++) {
              const error = decoder.feed(chunks[i]!, out)
              if (decoder.finished()) return finish(out, error)
            }
            return out.length > 0 ? Effect.succeed(out as unknown as Batch) : pull
          }
          const onEnd = (): Pull.Pull<Batch, SseStreamError> => {
            const out: Array<StreamEvent> = []
            return finish(out, decoder.end(out))
          }
          const pull: Pull.Pull<Batch, E | SseStreamError, void, R> = Effect.suspend(
            (): Pull.Pull<Batch, E | SseStreamError, void, R> =>
              decoder.finished()
                ? finish([], decoder.failure())
                : upstream.pipe(Effect.flatMap(onChunks), Pull.catchDone(onEnd))
          )
          return pull
        })
      )
    )

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

/** One non-empty batch of events, as a stream pull yields it. */
type Batch = readonly [StreamEvent, ...Array<StreamEvent>]

/** Builds the decoder's errors, stamped with request id and attempts, with the partial response. */
const makeErrors = (options: DecodeOptions | undefined, accumulator: ResponseAccumulator.ResponseAccumulator) => {
  const attempts = options?.attempts ?? 1
  const stamp =
    options?.requestId === undefined ? { attempts, causes: [] } : { attempts, causes: [], requestId: options.requestId }
  const secrets = options?.secrets ?? []

  const failed = (code: string | undefined, message: string | undefined, responseId: string | undefined) =>
    new ResponseFailed({
      ...stamp,
      message: excerpt(message ?? `the response failed${code === undefined ? "" : ` (${code})`}`, secrets),
      retryable: isRetryableCode(code),
      ...(code === undefined ? {} : { code: truncateUtf8(code, 256) }),
      ...(responseId === undefined ? {} : { responseId: truncateUtf8(responseId, 256) }),
      partial: accumulator.snapshot()
    })

  return {
    protocol: (reason: StreamProtocolReason, index: number, message: string) =>
      new StreamProtocolError({
        ...stamp,
        message,
        reason,
        eventIndex: index,
        retryable: false,
        partial: accumulator.snapshot()
      }),
    truncated: (message: string) =>
      new StreamTruncated({ ...stamp, message, retryable: false, partial: accumulator.snapshot() }),
    tooLarge: (maxEventSize: number) =>
      new EventTooLarge({
        ...stamp,
        message: `an SSE event exceeded the maximum size of ${maxEventSize}`,
        retryable: false,
        maxEventSize
      }),
    streamTooLarge: (maxBytes: number) =>
      new ResponseTooLarge({
        ...stamp,
        message: `the stream exceeded the maximum of ${maxBytes} bytes`,
        retryable: false,
        body: "stream",
        maxBytes,
        partial: accumulator.snapshot()
      }),
    tooDeep: (type: string) =>
      new ResponseDecodeError({
        ...stamp,
        message: `malformed ${type} event: nested deeper than ${maxJsonDepth} levels`,
        retryable: false,
        path: "(nesting)"
      }),
    decode: (type: string, json: unknown) => {
      const path = schemaPath(json)
      return new ResponseDecodeError({
        ...stamp,
        message: `malformed ${type} event at ${path}`,
        retryable: false,
        path
      })
    },
    failedFromResponse: (response: Response) =>
      failed(
        response.error?.code ?? undefined,
        response.error?.message ?? undefined,
        response.id.length > 0 ? response.id : undefined
      ),
    /** An `error` event: `{type:"error", code, message}`, or the body nested under `error`. */
    failedFromError: (json: unknown) => {
      const body = typeof json === "object" && json !== null ? (json as Record<string, unknown>) : {}
      const nested =
        typeof body.error === "object" && body.error !== null ? (body.error as Record<string, unknown>) : {}
      const code = stringField(body, "code") ?? stringField(nested, "code") ?? stringField(nested, "type")
      const message = stringField(body, "message") ?? stringField(nested, "message")
      const id = accumulator.snapshot().id
      return failed(code, message, id.length > 0 ? id : undefined)
    }
  }
}

/** True for data that is, or imitates, the `[DONE]` sentinel (cheap: looks at the first character). */
const looksLikeSentinel = (data: string): boolean => {
  const first = data.charCodeAt(0)
  if (first === 91) return data.startsWith("[DONE]")
  return (first === 32 || first === 9 || first === 10) && data.trimStart().startsWith("[DONE]")
}

const invalidJson: unique symbol = Symbol("invalidJson")

/** `JSON.parse` as a value: the one place this module catches (a boundary with a throwing API). */
const parseJson = (data: string): unknown => {
  try {
    return JSON.parse(data)
  } catch {
    return invalidJson
  }
}

/** `decodeStreamEventUnsafe` as a value (it throws a `SchemaError` on a malformed known event). */
const decodeEvent = (json: unknown): StreamEvent | undefined => {
  const fast = decodeEventFast(json as Record<string, unknown>)
  if (fast !== undefined) return fast
  try {
    return decodeStreamEventUnsafe(json)
  } catch {
    return undefined
  }
}

const hostedTypes: ReadonlySet<string> = new Set(hostedEventTypes)

const isNumber = (value: unknown): boolean => typeof value === "number"
const isOptionalNumber = (value: unknown): boolean => value === undefined || typeof value === "number"
const isOptionalString = (value: unknown): boolean => value === undefined || typeof value === "string"

/**
 * The hot path: high-volume delta events checked by hand and returned as parsed (their schemas are
 * open structs, so the schema's output deep-equals the input), and the common structural events
 * through `decodeStructuralEventFast` (fastDecode.ts). Returns `undefined` for anything it
 * does not fully vouch for; the caller then runs the schema, which also names the path of an error.
 * A test checks that this agrees with `decodeStreamEventUnsafe` on every event of the corpus.
 */
export const decodeEventFast = (json: Record<string, unknown>): StreamEvent | undefined => {
  const type = json.type
  if (typeof type !== "string" || !isOptionalNumber(json.sequence_number)) return undefined
  switch (type) {
    case "response.output_text.delta":
    case "response.refusal.delta":
      return vouched(json, isDelta(json) && isNumber(json.content_index))
    case "response.function_call_arguments.delta":
      return vouched(json, isDelta(json))
    case "response.reasoning_summary_text.delta":
      return vouched(json, isDelta(json) && isNumber(json.summary_index))
    case "response.reasoning_text.delta":
      return vouched(json, isDelta(json) && isOptionalNumber(json.content_index))
    case "keepalive":
      return json as unknown as StreamEvent
    default:
      if (hostedTypes.has(type))
        return vouched(json, isOptionalNumber(json.output_index) && isOptionalString(json.item_id))
      return decodeStructuralEventFast(json)
  }
}

/** The fields every delta event has: the text, its output index and an optional item id. */
const isDelta = (json: Record<string, unknown>): boolean =>
  typeof json.delta === "string" && isNumber(json.output_index) && isOptionalString(json.item_id)

/** `json` as the event it is when the checks vouch for it (`ok`), else `undefined` (run the schema). */
const vouched = (json: Record<string, unknown>, ok: boolean): StreamEvent | undefined =>
  ok ? (json as unknown as StreamEvent) : undefined

/** The path of the first schema issue of a malformed event, e.g. `response.output[0].content`. */
const schemaPath = (json: unknown): string => {
  try {
    decodeStreamEventUnsafe(json)
    return "(unknown)"
  } catch (error) {
    return issuePath(error)
  }
}

/** An `error` event (`type: "error"`) or a flat `{"error": {...}}` body without a `type`. */
const isErrorPayload = (json: unknown): boolean => {
  if (typeof json !== "object" || json === null) return false
  const type = (json as { type?: unknown }).type
  if (type === "error") return true
  const error = (json as { error?: unknown }).error
  return type === undefined && typeof error === "object" && error !== null
}

const stringField = (record: Record<string, unknown>, key: string): string | undefined => {
  const value = record[key]
  return typeof value === "string" && value.length > 0 ? value : undefined
}
