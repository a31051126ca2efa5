/**
 * One model call of a turn. `createCall` sends a non-streaming request; `streamCall` consumes the
 * SSE stream, maps provider events to `AgentEvent`s as they arrive and returns the final response.
 * When a stream drops after events reached the consumer (or fails in a retryable way after them), the
 * call is re-run from scratch under the shared retry budget, after a `TurnRestarted` event (C06, A10);
 * a failure before the first event is the client's to retry, and is final here. A terminal output
 * that disagrees with the streamed items wins, after a `Warning` listing the differences.
 * Restarts step core's retry `Schedule` (`RetryPolicy.schedule`): a plain drop restarts at once;
 * another retryable failure (e.g. an overloaded `error` event) first waits the policy's backoff, or
 * its Retry-After as a floor, and one above `maxRetryAfterMs` is final.
 * Gotcha: the attempts already spent are passed to the client as `previousAttempts`, so the client
 * and the turn retry together never exceed `ModelRetries + 1` HTTP attempts.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import {
  ResponseAccumulator,
  type ResponsesClient,
  ResponsesError,
  type ResponsesSchema,
  RetryPolicy
} from "@volley/core"
import type { AgentEvent } from "../AgentEvent.ts"

/** What a model call needs besides the request. */
export interface ModelCallContext {
  readonly turn: number
  readonly emit: (event: AgentEvent) => Effect.Effect<void>
  /** Emits a batch in order with one operation (default: `emit` per event). */
  readonly emitAll?: ((events: ReadonlyArray<AgentEvent>) => Effect.Effect<void>) | undefined
  readonly retryTurnOnStreamDrop: boolean
  readonly modelRetries: number
  /** Backoff for restarts after a retryable failure that is not a plain drop. */
  readonly retryPolicy: RetryPolicy.RetryPolicy
}

/** Sends the request without streaming (the client retries by itself). */
export const createCall = (
  client: ResponsesClient.Service,
  request: ResponsesSchema.CreateRequest
): Effect.Effect<ResponsesSchema.Response, ResponsesError.ResponsesError> => client.create(request)

/**
 * Whether a failed streaming call may be re-run as a whole. Only once events reached this call: before
 * the first event the client applied the `RetryPolicy` itself, and its answer stands. A total deadline
 * is never restarted; whether the budget and an advertised Retry-After allow it is the schedule's call.
 */
const restartable = (error: ResponsesError.ResponsesError, received: boolean): boolean => {
  if (!received) return false
  if (error._tag === "RequestTimeout" && error.phase === "total") return false
  return error.retryable || error._tag === "StreamTruncated"
}

/** The delay a failure advertised (Retry-After), in milliseconds, when it carries one. */
const retryAfterOf = (error: ResponsesError.ResponsesError): number | undefined =>
  "retryAfter" in error && typeof error.retryAfter === "number" ? error.retryAfter : undefined

/** A dropped connection or stream: re-run at once. Other retryable failures wait the policy's backoff. */
const isDrop = (error: ResponsesError.ResponsesError): boolean =>
  error._tag === "StreamTruncated" ||
  error._tag === "NetworkError" ||
  (error._tag === "RequestTimeout" && (error.phase === "stream-idle" || error.phase === "content-idle"))

/** One step of the restart schedule: the delay before the next attempt, or `undefined` to stop. */
type RestartStep = (now: number, input: RetryPolicy.Input) => Effect.Effect<[unknown, Duration.Duration], unknown>

/**
 * The schedule input for a failure: the attempts spent, and its advertised Retry-After (a floor the
 * schedule checks against `maxRetryAfterMs`); a drop advertises 0, so it restarts at once.
 */
const restartInput = (error: ResponsesError.ResponsesError, spent: number): RetryPolicy.Input => {
  const retryAfter = isDrop(error) ? 0 : retryAfterOf(error)
  return { retryable: true, attempts: spent, ...(retryAfter === undefined ? {} : { retryAfter }) }
}

/**
 * Streams the request, emitting events, and re-runs it after a drop while core's retry schedule
 * (`RetryPolicy.schedule`, with `ModelRetries` as its budget) allows.
 */
export const streamCall = (
  client: ResponsesClient.Service,
  request: ResponsesSchema.CreateRequest,
  context: ModelCallContext
): Effect.Effect<ResponsesSchema.Response, ResponsesError.ResponsesError> => {
  // built at the first restart: most streamed calls never restart
  let step: RestartStep | undefined
  const attempt = (previousAttempts: number): Effect.Effect<ResponsesSchema.Response, ResponsesError.ResponsesError> =>
    Effect.suspend(() => {
      const folder = new EventFolder(context.turn)
      return consume(client, request, previousAttempts, context, folder).pipe(
        Effect.catch((error: ResponsesError.ResponsesError) =>
          Effect.gen(function* () {
            if (!context.retryTurnOnStreamDrop || !restartable(error, folder.received > 0))
              return yield* Effect.fail(error)
            const spent = Math.max(error.attempts, previousAttempts + 1)
            step ??= yield* Schedule.toStep(
              RetryPolicy.schedule({ ...context.retryPolicy, maxRetries: context.modelRetries })
            )
            const stepped = yield* Effect.exit(step(yield* Clock.currentTimeMillis, restartInput(error, spent)))
            // the schedule ended (budget spent, Retry-After above the ceiling): the failure is final
            if (Exit.isFailure(stepped)) return yield* Effect.fail(error)
            yield* context.emit({ _tag: "TurnRestarted", turn: context.turn, attempts: spent, error: error._tag })
            const delayMs = Duration.toMillis(stepped.value[1])
            if (delayMs > 0) yield* Effect.sleep(delayMs)
            return yield* attempt(spent)
          })
        )
      )
    })
  return attempt(0)
}

const consume = (
  client: ResponsesClient.Service,
  request: ResponsesSchema.CreateRequest,
  previousAttempts: number,
  context: ModelCallContext,
  folder: EventFolder
): Effect.Effect<ResponsesSchema.Response, ResponsesError.ResponsesError> =>
  Effect.suspend(() => {
    const options = previousAttempts > 0 ? { previousAttempts } : undefined
    const emitAll = context.emitAll ?? ((events) => Effect.forEach(events, context.emit, { discard: true }))
    // Per chunk, not per event: the events of a chunk are folded by plain code and emitted as one
    // batch (an SSE body of ~200 deltas is a few chunks, so this saves ~2 Effect steps per event).
    return client.stream(request, options).pipe(
      Stream.runForEachArray((events) => {
        const mapped: Array<AgentEvent> = []
        for (const event of events) {
          const agentEvent = folder.push(event)
          if (agentEvent !== undefined) mapped.push(agentEvent)
        }
        return mapped.length === 0 ? Effect.void : emitAll(mapped)
      }),
      Effect.flatMap(() => {
        const final = folder.final()
        if (final !== undefined && folder.differences.length > 0)
          return Effect.as(context.emit(outputMismatch(context.turn, folder.differences)), final)
        return final === undefined
          ? Effect.fail(
              new ResponsesError.StreamTruncated({
                message: "the stream ended without a terminal response event",
                retryable: true,
                attempts: previousAttempts + 1,
                causes: [],
                partial: { id: folder.responseId ?? "", output: folder.items() }
              })
            )
          : Effect.succeed(final)
      })
    )
  })

/** The `Warning` for a terminal output that disagrees with the streamed items. */
const outputMismatch = (turn: number, differences: ReadonlyArray<ResponseAccumulator.OutputDifference>): AgentEvent => {
  const calls = differences.filter((difference) => difference.callId !== undefined).length
  return {
    _tag: "Warning",
    turn,
    kind: "OutputMismatch",
    message: `the terminal output differs from the streamed items at ${differences.length} position(s)${
      calls > 0 ? `, ${calls} of them function calls` : ""
    }; the terminal output is what runs`,
    differences: differences.map((difference) => ({
      outputIndex: difference.outputIndex,
      kind: difference.kind,
      itemType: difference.itemType,
      ...(difference.callId === undefined ? {} : { callId: difference.callId }),
      ...(difference.name === undefined ? {} : { name: difference.name })
    }))
  }
}

/** Folds provider events into agent events and the final response. */
class EventFolder {
  readonly turn: number
  responseId: string | undefined
  /** Events received so far (a failure with none came before the first event). */
  received = 0
  /** How the terminal output differs from the streamed items (set by `final`). */
  differences: ReadonlyArray<ResponseAccumulator.OutputDifference> = []
  private terminal: ResponsesSchema.Response | undefined
  private readonly done = new Map<number, ResponsesSchema.OutputItem>()
  private readonly callIds = new Map<number, string>()
  constructor(turn: number) {
    this.turn = turn
  }

  push(event: ResponsesSchema.StreamEvent): AgentEvent | undefined {
    this.received++
    switch (event.type) {
      case "response.created":
        this.responseId = event.response.id
        return undefined
      case "response.output_text.delta":
        return {
          _tag: "TextDelta",
          turn: this.turn,
          itemId: event.item_id ?? `#${event.output_index}`,
          delta: event.delta
        }
      case "response.reasoning_summary_text.delta":
      case "response.reasoning_text.delta":
        return {
          _tag: "ReasoningDelta",
          turn: this.turn,
          itemId: event.item_id ?? `#${event.output_index}`,
          delta: event.delta
        }
      case "response.output_item.added":
        if (event.item.type !== "function_call") return undefined
        this.callIds.set(event.output_index, event.item.call_id)
        return { _tag: "ToolCallStart", turn: this.turn, callId: event.item.call_id, name: event.item.name }
      case "response.function_call_arguments.delta": {
        const callId = this.callIds.get(event.output_index)
        return callId === undefined
          ? undefined
          : { _tag: "ToolCallArgumentsDelta", turn: this.turn, callId, delta: event.delta }
      }
      case "response.output_item.done":
        this.done.set(event.output_index, event.item)
        if (event.item.type !== "function_call") return undefined
        return {
          _tag: "ToolCallEnd",
          turn: this.turn,
          callId: event.item.call_id,
          name: event.item.name,
          arguments: event.item.arguments
        }
      case "response.completed":
      case "response.incomplete":
      case "response.failed":
        this.terminal = event.response
        return undefined
      default:
        return undefined
    }
  }

  items(): Array<ResponsesSchema.OutputItem> {
    // items are usually done in output order: then the map's insertion order is the answer, unsorted
    const items: Array<ResponsesSchema.OutputItem> = []
    let last = -1
    for (const [index, item] of this.done) {
      if (index < last) return [...this.done.entries()].sort((a, b) => a[0] - b[0]).map((entry) => entry[1])
      last = index
      items.push(item)
    }
    return items
  }

  /**
   * The terminal response under core's terminal rule (`ResponseAccumulator.settle`): its output falls back
   * to the `output_item.done` items when empty; a non-empty one wins, its differences left in `differences`.
   */
  final(): ResponsesSchema.Response | undefined {
    if (this.terminal === undefined) return undefined
    const { response, differences } = ResponseAccumulator.settle(this.terminal, this.items())
    this.differences = differences
    return response
  }
}
