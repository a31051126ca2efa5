/**
 * The scripted model: a script is a list of steps, each a `Turn` built with small builders
 * (`message`, `functionCall`, `reasoning`, `refusal`, `failed`, `incomplete`, `turn({...})`) or a
 * `responder` computing a turn from the request it received. Faults (`withFault`) and usage
 * (`withUsage`) decorate a turn; the server derives both the JSON body and the SSE events from it.
 * Entry points: the builders, `handler(script)` (a `Handler` for `ResponsesServer`), `toResponse`
 * and `toEvents`. Gotcha: ids (`msg_…`, `fc_…`, `call_…`) are counter-based per handler, so two runs
 * of the same script produce the same ids; pin one with the `id` / `callId` options when a test needs it.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { type Handler, plan, ScriptIncomplete } from "./Handler.ts"
import {
  ids,
  type IdGenerator,
  render,
  scriptedDeltas,
  toEvents as renderEvents,
  toResponse as renderResponse
} from "./internal/render.ts"
import type { RecordedRequest } from "./RecordedRequest.ts"
import type { ResponsesSchema } from "@volley/core"

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/** An assistant text message. */
export interface MessageItem {
  readonly _tag: "Message"
  readonly text: string
  readonly id?: string | undefined
}

/** A refusal (a message whose content part is `refusal`). */
export interface RefusalItem {
  readonly _tag: "Refusal"
  readonly text: string
  readonly id?: string | undefined
}

/** A function call; `arguments` is sent verbatim (so malformed JSON can be scripted). */
export interface FunctionCallItem {
  readonly _tag: "FunctionCall"
  readonly name: string
  readonly arguments: string
  readonly callId?: string | undefined
  readonly id?: string | undefined
  readonly status?: string | undefined
  /** Streamed argument deltas, when they must differ from the final `arguments`. */
  readonly deltas?: ReadonlyArray<string> | undefined
}

/** A reasoning item with summary paragraphs and optional encrypted content. */
export interface ReasoningItem {
  readonly _tag: "Reasoning"
  readonly summary: ReadonlyArray<string>
  readonly encrypted?: string | undefined
  readonly id?: string | undefined
}

/** Any item sent verbatim (unknown or hosted item types). */
export interface RawItem {
  readonly _tag: "Raw"
  readonly item: { readonly type: string; readonly [key: string]: unknown }
}

/** One output item of a turn. */
export type TurnItem = MessageItem | RefusalItem | FunctionCallItem | ReasoningItem | RawItem

/** How the SSE body is cut into writes. */
export type Chunking =
  | "event"
  | "byte"
  | "whole"
  | { readonly random: number; readonly maxSize?: number | undefined }
  | { readonly sizes: ReadonlyArray<number> }

/** Line endings of the SSE body. */
export type Framing = "lf" | "crlf" | "cr"

/** Where the response stops and hangs, never finishing. */
export type Stall =
  | "beforeHeaders"
  | "afterHeaders"
  | { readonly afterEvents: number }
  | { readonly afterBytes: number }

/** Keepalives written before the first event, on a schedule. */
export interface Keepalive {
  /** Time between two keepalives. */
  readonly every: Duration.Input
  /** How many to send. */
  readonly times: number
  /** A comment text (`: text`), or `"event"` for a `{"type":"keepalive"}` event. Default `keep-alive`. */
  readonly text?: string | "event" | undefined
}

/** An event inserted into the derived SSE stream (after `after` derived events). */
export interface InsertedEvent {
  readonly after: number
  /** A JSON payload, or a literal `data:` payload string (e.g. truncated JSON). */
  readonly data: unknown
  /** The `event:` line; defaults to the payload's `type`. */
  readonly event?: string | undefined
}

/**
 * Fault injection for one turn. Everything is optional; several combine (e.g. latency + chunking +
 * drop). Event counts refer to the SSE frames actually written, `[DONE]` included.
 */
export interface Fault {
  /** HTTP status (default 200). A non-2xx status without `body` gets an API-style error body. */
  readonly status?: number | undefined
  /** Extra response headers (e.g. `retry-after`). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A literal body (string sent as is, anything else as JSON), replacing the derived one. */
  readonly body?: unknown
  /** The content type, overriding the derived one. */
  readonly contentType?: string | undefined
  /** Delay before the response headers. */
  readonly latency?: Duration.Input | undefined
  /** Delay between two writes of the body. */
  readonly chunkDelay?: Duration.Input | undefined
  /** How the body is cut into writes (default: one write per SSE event). */
  readonly chunking?: Chunking | undefined
  /** Line endings of the SSE body (default `lf`). */
  readonly framing?: Framing | undefined
  /** Write `event:` lines (default true). */
  readonly eventLines?: boolean | undefined
  /** A comment line written between every two events. */
  readonly comments?: string | undefined
  /** A `retry: N` line first in the stream. */
  readonly retry?: number | undefined
  /** Keepalives before the first event. */
  readonly keepalive?: Keepalive | undefined
  /** Stop after N events: `end` closes cleanly (EOF), `reset` destroys the socket (RST). */
  readonly dropAfterEvents?: number | undefined
  /** How `dropAfterEvents` ends the connection (default `reset`). */
  readonly drop?: "end" | "reset" | undefined
  /** Write half of event N (0-based) and reset the socket. */
  readonly resetMidEvent?: number | undefined
  /** Replace event N's (0-based) JSON by a truncated copy (invalid JSON). */
  readonly malformedFrameAt?: number | undefined
  /** Insert `response.future_thing.delta` / `.done` events of a type nobody knows. */
  readonly unknownEvents?: boolean | undefined
  /** Insert arbitrary events (unknown types, typeless objects, literal payloads, contradictions). */
  readonly insertEvents?: ReadonlyArray<InsertedEvent> | undefined
  /** Hang forever at the given point (for headers / idle timeouts). */
  readonly stall?: Stall | undefined
  /** Reset the socket after reading the request, before any header. */
  readonly resetBeforeHeaders?: boolean | undefined
  /** Answer with a redirect. */
  readonly redirect?: { readonly location: string; readonly status?: number | undefined } | undefined
  /** End with `data: [DONE]` (default true). */
  readonly done?: boolean | undefined
  /** Bytes written after `[DONE]`. */
  readonly afterDone?: string | undefined
  /** Keep the connection open after the last write instead of ending it. */
  readonly holdOpen?: boolean | undefined
}

/** Literal SSE bytes, written exactly as split (one write per chunk). */
export interface LiteralBody {
  readonly chunks: ReadonlyArray<string | Uint8Array>
  readonly contentType?: string | undefined
}

/** Status of a turn's response; `failed` and `incomplete` end the stream with their own event. */
export type TurnStatus = "completed" | "failed" | "incomplete" | "in_progress" | "cancelled" | "queued"

/** One scripted model turn: items, status, usage and faults. */
export interface Turn {
  readonly _tag: "Turn"
  readonly items: ReadonlyArray<TurnItem>
  readonly status: TurnStatus
  readonly error?: { readonly code: string; readonly message: string } | undefined
  readonly incompleteReason?: string | undefined
  readonly usage?: ResponsesSchema.Usage | undefined
  readonly model?: string | undefined
  /** Extra top-level fields of the response object (e.g. unknown fields a gateway adds). */
  readonly responseFields?: Readonly<Record<string, unknown>> | undefined
  readonly fault?: Fault | undefined
  readonly literal?: LiteralBody | undefined
}

/** A turn computed from the request (the decoded body and the recorded request). */
export interface Responder {
  readonly _tag: "Responder"
  readonly respond: (body: ResponsesSchema.CreateRequest, request: RecordedRequest) => Turn | Effect.Effect<Turn>
}

/** One entry of a script. */
export type Step = Turn | Responder

/** The JSON-friendly description of a turn, accepted by `turn(...)` and by `serve --script x.json`. */
export interface TurnSpec {
  readonly text?: string | undefined
  readonly calls?:
    | ReadonlyArray<{ readonly name: string; readonly arguments?: unknown; readonly callId?: string | undefined }>
    | undefined
  readonly reasoning?:
    | { readonly summary: string | ReadonlyArray<string>; readonly encrypted?: string | undefined }
    | undefined
  readonly refusal?: string | undefined
  readonly items?: ReadonlyArray<RawItem["item"]> | undefined
  readonly failed?: { readonly code: string; readonly message: string } | undefined
  readonly incomplete?: string | undefined
  readonly usage?: ResponsesSchema.Usage | undefined
  readonly model?: string | undefined
  readonly status?: TurnStatus | undefined
  readonly responseFields?: Readonly<Record<string, unknown>> | undefined
  readonly fault?: Fault | undefined
}

// ---------------------------------------------------------------------------------------------
// builders
// ---------------------------------------------------------------------------------------------

const single = (item: TurnItem): Turn => ({ _tag: "Turn", items: [item], status: "completed" })

/** A turn answering with one assistant message. */
export const message = (text: string, options?: { readonly id?: string }): Turn =>
  single({ _tag: "Message", text, id: options?.id })

/** A turn with one function call; combine several with `turn(...)` for parallel calls. */
export const functionCall = (
  name: string,
  args: unknown = {},
  options?: {
    readonly callId?: string
    readonly id?: string
    readonly status?: string
    readonly deltas?: ReadonlyArray<string>
  }
): Turn =>
  single({
    _tag: "FunctionCall",
    name,
    arguments: typeof args === "string" ? args : JSON.stringify(args),
    callId: options?.callId,
    id: options?.id,
    status: options?.status,
    deltas: options?.deltas
  })

/** A turn with one reasoning item (summary paragraphs, optional encrypted content). */
export const reasoning = (summary: string | ReadonlyArray<string>, encrypted?: string): Turn =>
  single({ _tag: "Reasoning", summary: typeof summary === "string" ? [summary] : summary, encrypted })

/** A turn where the model refuses (a `refusal` content part, streamed as `response.refusal.delta`). */
export const refusal = (text: string): Turn => single({ _tag: "Refusal", text })

/** A turn with one item sent verbatim, e.g. `{ type: "future_item", … }` or a hosted-tool item. */
export const rawItem = (item: RawItem["item"]): Turn => single({ _tag: "Raw", item })

/** A failed response (`status: "failed"`, `response.failed` when streaming) after optional items; `null` error allowed. */
export const failed = (
  error: { readonly code: string; readonly message: string } | null,
  ...parts: ReadonlyArray<Turn>
): Turn => ({ ...concat(parts), status: "failed", error: error ?? undefined })

/** An incomplete response (e.g. reason `max_output_tokens`), holding the given partial items. */
export const incomplete = (reason: string, ...parts: ReadonlyArray<Turn>): Turn => ({
  ...concat(parts),
  status: "incomplete",
  incompleteReason: reason
})

/** A non-2xx answer with an API-style error body (or `body`), e.g. `httpError(429, { headers: { "retry-after": "1" } })`. */
export const httpError = (
  status: number,
  options?: { readonly headers?: Readonly<Record<string, string>>; readonly body?: unknown }
): Turn => ({
  _tag: "Turn",
  items: [],
  status: "completed",
  fault: { status, headers: options?.headers, body: options?.body }
})

/** Literal SSE bytes with an exact chunk split (one write per chunk; strings are UTF-8). */
export const sse = (chunks: ReadonlyArray<string | Uint8Array>, options?: { readonly contentType?: string }): Turn => ({
  _tag: "Turn",
  items: [],
  status: "completed",
  literal: { chunks, contentType: options?.contentType }
})

/**
 * A turn from parts or from a spec: `turn(message("Let me check"), functionCall("get_weather", { city }))`
 * or `turn({ text: "…", calls: [{ name, arguments }], usage })`. Parts concatenate their items.
 */
export const turn: {
  (...parts: ReadonlyArray<Turn>): Turn
  (spec: TurnSpec): Turn
} = (...args: ReadonlyArray<Turn | TurnSpec>): Turn => {
  const first = args[0]
  if (first !== undefined && !isTurn(first)) return fromSpec(first)
  return concat(args.filter(isTurn))
}

/** A step computed from the request, e.g. `responder((body) => message(lastText(body)))`. */
export const responder = (respond: Responder["respond"]): Responder => ({ _tag: "Responder", respond })

/** Sets the usage numbers reported by a turn. */
export const withUsage: {
  (usage: ResponsesSchema.Usage): (self: Turn) => Turn
  (self: Turn, usage: ResponsesSchema.Usage): Turn
} = dual(2, (self: Turn, usage: ResponsesSchema.Usage): Turn => ({ ...self, usage }))

/** Sets the response status (e.g. a non-streaming 200 with `in_progress` or `cancelled`). */
export const withStatus: {
  (status: TurnStatus): (self: Turn) => Turn
  (self: Turn, status: TurnStatus): Turn
} = dual(2, (self: Turn, status: TurnStatus): Turn => ({ ...self, status }))

/** Adds top-level fields to the response object (merged last, so they may override). */
export const withResponseFields: {
  (fields: Readonly<Record<string, unknown>>): (self: Turn) => Turn
  (self: Turn, fields: Readonly<Record<string, unknown>>): Turn
} = dual(
  2,
  (self: Turn, fields: Readonly<Record<string, unknown>>): Turn => ({
    ...self,
    responseFields: { ...self.responseFields, ...fields }
  })
)

/** Adds fault injection to a turn (merged with any fault it already has). */
export const withFault: {
  (fault: Fault): (self: Turn) => Turn
  (self: Turn, fault: Fault): Turn
} = dual(2, (self: Turn, fault: Fault): Turn => ({ ...self, fault: { ...self.fault, ...fault } }))

/** True for a `Turn` (as opposed to a `Responder` or a spec). */
export const isTurn = (u: unknown): u is Turn =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Turn"

// ---------------------------------------------------------------------------------------------
// rendering
// ---------------------------------------------------------------------------------------------

/** The JSON response body a turn produces (ids from `idGenerator`, `created_at` in seconds). */
export const toResponse = (
  self: Turn,
  request: ResponsesSchema.CreateRequest,
  options?: { readonly idGenerator?: IdGenerator; readonly createdAt?: number }
): Record<string, unknown> => renderResponse(self, request, options?.idGenerator ?? ids(), options?.createdAt ?? 0)

/** The SSE events (payloads, with `sequence_number`) a turn produces when `stream` is true. */
export const toEvents = (
  self: Turn,
  request: ResponsesSchema.CreateRequest,
  options?: { readonly idGenerator?: IdGenerator; readonly createdAt?: number }
): ReadonlyArray<Record<string, unknown>> =>
  renderEvents(
    renderResponse(self, request, options?.idGenerator ?? ids(), options?.createdAt ?? 0),
    scriptedDeltas(self)
  )

/**
 * A `Handler` serving the script in order. A request beyond the end gets the `fallback` step if
 * given, otherwise a 500 error body, and counts as an extra request for `assertComplete`.
 */
export const handler = (
  script: ReadonlyArray<Step>,
  options?: { readonly fallback?: Step | undefined; readonly idPrefix?: string | undefined }
): Handler => {
  const idGenerator = ids(options?.idPrefix)
  let next = 0
  let extra = 0
  const handle: Handler["handle"] = (body, request) =>
    Effect.gen(function* () {
      const step = next < script.length ? script[next++] : options?.fallback
      if (step === undefined) {
        extra++
        const message = `volley-testing: no scripted turn left for request #${request.index} (script has ${script.length})`
        return plan(
          render(
            httpError(500, { body: { error: { message, type: "volley_script_exhausted", param: null, code: null } } }),
            body,
            idGenerator,
            0
          )
        )
      }
      const resolved = step._tag === "Turn" ? step : yield* toEffect(step.respond(body, request))
      const createdAt = Math.floor(request.receivedAt / 1000)
      return plan(render(resolved, body, idGenerator, createdAt))
    })
  return {
    handle,
    check: Effect.sync(() => {
      const unused = Math.max(0, script.length - next)
      const problems: Array<string> = []
      if (unused > 0) problems.push(`${unused} scripted turn(s) never requested (used ${next} of ${script.length})`)
      if (extra > 0) problems.push(`${extra} request(s) arrived after the script ended`)
      return problems.length === 0
        ? undefined
        : new ScriptIncomplete({ message: problems.join("; "), unusedTurns: unused, extraRequests: extra, problems })
    })
  }
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const toEffect = (value: Turn | Effect.Effect<Turn>): Effect.Effect<Turn> =>
  Effect.isEffect(value) ? value : Effect.succeed(value)

const concat = (parts: ReadonlyArray<Turn>): Turn => {
  let result: Turn = { _tag: "Turn", items: [], status: "completed" }
  for (const part of parts) {
    result = {
      ...result,
      ...part,
      items: [...result.items, ...part.items],
      fault: part.fault === undefined ? result.fault : { ...result.fault, ...part.fault },
      status: part.status === "completed" ? result.status : part.status
    }
  }
  return result
}

const fromSpec = (spec: TurnSpec): Turn => {
  const parts: Array<Turn> = []
  if (spec.reasoning !== undefined) parts.push(reasoning(spec.reasoning.summary, spec.reasoning.encrypted))
  if (spec.text !== undefined) parts.push(message(spec.text))
  if (spec.refusal !== undefined) parts.push(refusal(spec.refusal))
  for (const call of spec.calls ?? []) {
    parts.push(
      functionCall(call.name, call.arguments ?? {}, call.callId === undefined ? undefined : { callId: call.callId })
    )
  }
  for (const item of spec.items ?? []) parts.push(rawItem(item))
  let result = concat(parts)
  if (spec.failed !== undefined) result = { ...result, status: "failed", error: spec.failed }
  if (spec.incomplete !== undefined) result = { ...result, status: "incomplete", incompleteReason: spec.incomplete }
  if (spec.usage !== undefined) result = { ...result, usage: spec.usage }
  if (spec.model !== undefined) result = { ...result, model: spec.model }
  if (spec.status !== undefined) result = { ...result, status: spec.status }
  if (spec.responseFields !== undefined) result = { ...result, responseFields: spec.responseFields }
  if (spec.fault !== undefined) result = { ...result, fault: spec.fault }
  return result
}
