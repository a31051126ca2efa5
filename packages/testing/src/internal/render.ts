/**
 * Turns a scripted `Turn` into the response body (JSON or SSE events) and then into low-level
 * actions, applying the turn's faults (latency, framing, chunking, drops, stalls, resets).
 * Everything here is pure and synchronous; the server only interprets the actions.
 */
import type { Action } from "../Handler.ts"
import type { Chunking, Fault, InsertedEvent, Turn, TurnItem } from "../ScriptedModel.ts"
import { mulberry32 } from "./random.ts"
import type { ResponsesSchema } from "@volley/core"

/** Deterministic, counter-based ids per kind (`msg_1`, `call_1`, …), optionally prefixed. */
export interface IdGenerator {
  readonly next: (kind: string) => string
}

/** A fresh id generator. */
export const ids = (prefix = ""): IdGenerator => {
  const counters = new Map<string, number>()
  return {
    next: (kind) => {
      const n = (counters.get(kind) ?? 0) + 1
      counters.set(kind, n)
      return `${kind}_${prefix}${n}`
    }
  }
}

type Json = Record<string, unknown>

const encoder = new TextEncoder()

// ---------------------------------------------------------------------------------------------
// response object
// ---------------------------------------------------------------------------------------------

/** Rough token count: characters / 4, at least 1 for non-empty text. */
export const estimateTokens = (text: string): number =>
  text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4))

const renderItem = (item: TurnItem, idGen: IdGenerator): Json => {
  switch (item._tag) {
    case "Message":
      return {
        id: item.id ?? idGen.next("msg"),
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", annotations: [], text: item.text }]
      }
    case "Refusal":
      return {
        id: item.id ?? idGen.next("msg"),
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "refusal", refusal: item.text }]
      }
    case "FunctionCall":
      return {
        id: item.id ?? idGen.next("fc"),
        type: "function_call",
        status: item.status ?? "completed",
        arguments: item.arguments,
        call_id: item.callId ?? idGen.next("call"),
        name: item.name
      }
    case "Reasoning":
      return {
        id: item.id ?? idGen.next("rs"),
        type: "reasoning",
        summary: item.summary.map((text) => ({ type: "summary_text", text })),
        ...(item.encrypted === undefined ? {} : { encrypted_content: item.encrypted })
      }
    case "Raw":
      return { ...item.item }
  }
}

/** The full response object of a turn. */
export const toResponse = (
  turn: Turn,
  request: ResponsesSchema.CreateRequest,
  idGen: IdGenerator,
  createdAt: number
): Json => {
  const output = turn.items.map((item) => renderItem(item, idGen))
  const usage = turn.usage ?? {
    input_tokens: estimateTokens(JSON.stringify(request.input) + (request.instructions ?? "")),
    output_tokens: estimateTokens(output.map(itemText).join("")),
    total_tokens: 0
  }
  return {
    id: idGen.next("resp"),
    object: "response",
    created_at: createdAt,
    status: turn.status,
    error: turn.error ?? null,
    incomplete_details: turn.incompleteReason === undefined ? null : { reason: turn.incompleteReason },
    instructions: request.instructions ?? null,
    model: turn.model ?? request.model,
    output,
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    usage: {
      ...usage,
      total_tokens:
        usage.total_tokens !== undefined && usage.total_tokens > 0
          ? usage.total_tokens
          : usage.input_tokens + usage.output_tokens
    },
    ...turn.responseFields
  }
}

/** Scripted argument deltas by output index (for calls whose deltas must differ from their arguments). */
export const scriptedDeltas = (turn: Turn): ReadonlyMap<number, ReadonlyArray<string>> => {
  const deltas = new Map<number, ReadonlyArray<string>>()
  turn.items.forEach((item, index) => {
    if (item._tag === "FunctionCall" && item.deltas !== undefined) deltas.set(index, item.deltas)
  })
  return deltas
}

const itemText = (item: Json): string => {
  if (item.type === "function_call") return String(item.arguments)
  if (item.type === "message" && Array.isArray(item.content)) {
    return item.content.map((part: Json) => String(part.text ?? part.refusal ?? "")).join("")
  }
  if (item.type === "reasoning" && Array.isArray(item.summary))
    return item.summary.map((p: Json) => String(p.text)).join("")
  return ""
}

// ---------------------------------------------------------------------------------------------
// stream events
// ---------------------------------------------------------------------------------------------

/** Splits text into several deltas on word boundaries (code-point safe). */
export const splitText = (text: string): ReadonlyArray<string> => {
  if (text.length === 0) return []
  const words = text.match(/\s*\S+\s*$|\s*\S+/gu) ?? [text]
  if (words.length > 1) return words
  const chars = Array.from(text)
  if (chars.length < 2) return [text]
  const half = Math.ceil(chars.length / 2)
  return [chars.slice(0, half).join(""), chars.slice(half).join("")]
}

/** Splits function-call arguments into up to four deltas (code-point safe). */
export const splitArguments = (args: string): ReadonlyArray<string> => {
  const chars = Array.from(args)
  if (chars.length === 0) return []
  const size = Math.max(1, Math.ceil(chars.length / 4))
  const parts: Array<string> = []
  for (let i = 0; i < chars.length; i += size) parts.push(chars.slice(i, i + size).join(""))
  return parts
}

const itemEvents = (item: Json, outputIndex: number, scripted: ReadonlyArray<string> | undefined): Array<Json> => {
  const base = { output_index: outputIndex, ...(typeof item.id === "string" ? { item_id: item.id } : {}) }
  const events: Array<Json> = []
  if (item.type === "message" && Array.isArray(item.content)) {
    events.push({
      type: "response.output_item.added",
      output_index: outputIndex,
      item: { ...item, status: "in_progress", content: [] }
    })
    item.content.forEach((part: Json, contentIndex: number) => {
      const at = { ...base, content_index: contentIndex }
      if (part.type === "refusal") {
        const text = String(part.refusal)
        events.push({ type: "response.content_part.added", ...at, part: { type: "refusal", refusal: "" } })
        for (const delta of splitText(text)) events.push({ type: "response.refusal.delta", ...at, delta })
        events.push({ type: "response.refusal.done", ...at, refusal: text })
      } else {
        const text = String(part.text ?? "")
        events.push({
          type: "response.content_part.added",
          ...at,
          part: { type: "output_text", annotations: [], text: "" }
        })
        for (const delta of splitText(text)) events.push({ type: "response.output_text.delta", ...at, delta })
        events.push({ type: "response.output_text.done", ...at, text })
      }
      events.push({ type: "response.content_part.done", ...at, part })
    })
  } else if (item.type === "function_call") {
    events.push({
      type: "response.output_item.added",
      output_index: outputIndex,
      item: { ...item, status: "in_progress", arguments: "" }
    })
    const args = String(item.arguments)
    for (const delta of scripted ?? splitArguments(args))
      events.push({ type: "response.function_call_arguments.delta", ...base, delta })
    events.push({ type: "response.function_call_arguments.done", ...base, name: item.name, arguments: args })
  } else if (item.type === "reasoning" && Array.isArray(item.summary)) {
    events.push({
      type: "response.output_item.added",
      output_index: outputIndex,
      item: { ...item, status: "in_progress", summary: [] }
    })
    item.summary.forEach((part: Json, summaryIndex: number) => {
      const at = { ...base, summary_index: summaryIndex }
      const text = String(part.text)
      events.push({ type: "response.reasoning_summary_part.added", ...at, part: { type: "summary_text", text: "" } })
      for (const delta of splitText(text)) events.push({ type: "response.reasoning_summary_text.delta", ...at, delta })
      events.push({ type: "response.reasoning_summary_text.done", ...at, text })
      events.push({ type: "response.reasoning_summary_part.done", ...at, part })
    })
  } else {
    events.push({ type: "response.output_item.added", output_index: outputIndex, item })
  }
  events.push({ type: "response.output_item.done", output_index: outputIndex, item })
  return events
}

const terminalType = (status: unknown): string =>
  status === "failed" ? "response.failed" : status === "incomplete" ? "response.incomplete" : "response.completed"

/** The SSE event payloads for a response object, without sequence numbers. */
export const eventsOf = (response: Json, deltas?: ReadonlyMap<number, ReadonlyArray<string>>): Array<Json> => {
  const output = (response.output ?? []) as ReadonlyArray<Json>
  const snapshot = {
    ...response,
    status: "in_progress",
    output: [],
    usage: null,
    error: null,
    incomplete_details: null
  }
  return [
    { type: "response.created", response: snapshot },
    ...output.flatMap((item, index) => itemEvents(item, index, deltas?.get(index))),
    { type: terminalType(response.status), response }
  ]
}

const numbered = (events: ReadonlyArray<Json>): Array<Json> =>
  events.map((event, index) => {
    const { type, ...rest } = event
    return { type, sequence_number: index, ...rest }
  })

/** The SSE event payloads of a response object, numbered. */
export const toEvents = (response: Json, deltas?: ReadonlyMap<number, ReadonlyArray<string>>): ReadonlyArray<Json> =>
  numbered(eventsOf(response, deltas))

// ---------------------------------------------------------------------------------------------
// faults -> actions
// ---------------------------------------------------------------------------------------------

interface Unit {
  readonly bytes: Uint8Array
  readonly event: boolean
  readonly delayBefore?: Fault["latency"]
}

const errorTypes: Record<number, readonly [type: string, code: string | null, message: string]> = {
  400: ["invalid_request_error", null, "Invalid request"],
  401: ["invalid_request_error", "invalid_api_key", "Incorrect API key provided"],
  403: ["permission_error", null, "You are not allowed to access this resource"],
  404: ["invalid_request_error", "not_found", "Not found"],
  408: ["timeout", null, "Request timed out"],
  409: ["conflict", null, "Conflict"],
  422: ["invalid_request_error", null, "Unprocessable request"],
  429: ["requests", "rate_limit_exceeded", "Rate limit reached"],
  500: ["server_error", null, "The server had an error while processing your request"],
  502: ["server_error", null, "Bad gateway"],
  503: ["server_error", "server_is_overloaded", "The server is overloaded"],
  504: ["server_error", null, "Gateway timeout"]
}

/** The API-style error body a scripted non-2xx status answers with. */
export const errorBody = (status: number): Json => {
  const [type, code, message] = errorTypes[status] ?? ["server_error", null, `Error ${status}`]
  return { error: { message: `${message} (volley-testing scripted ${status})`, type, param: null, code } }
}

const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const split = (bytes: Uint8Array, chunking: Chunking): Array<Uint8Array> => {
  if (bytes.length === 0) return []
  if (chunking === "whole" || chunking === "event") return [bytes]
  const out: Array<Uint8Array> = []
  if (chunking === "byte") {
    for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1))
    return out
  }
  if ("random" in chunking) {
    const random = mulberry32(chunking.random)
    const max = Math.max(1, chunking.maxSize ?? 16)
    for (let i = 0; i < bytes.length; ) {
      const size = 1 + Math.floor(random() * max)
      out.push(bytes.subarray(i, i + size))
      i += size
    }
    return out
  }
  const sizes = chunking.sizes.length === 0 ? [bytes.length] : chunking.sizes
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length] ?? 1)
    out.push(bytes.subarray(i, i + size))
    i += size
  }
  return out
}

const eventCut = (units: ReadonlyArray<Unit>, events: number): number => {
  let seen = 0
  for (let i = 0; i < units.length; i++) {
    if (seen === events) return i
    if (units[i]!.event) seen++
  }
  return units.length
}

/** Applies truncation, chunking and delays to body units; ends with the fault's tail action. */
const emit = (units: ReadonlyArray<Unit>, fault: Fault, defaultChunking: Chunking): Array<Action> => {
  let body = units
  let tail: Action = fault.holdOpen === true ? { _tag: "Stall" } : { _tag: "End" }
  const stall = fault.stall
  if (stall === "afterHeaders") {
    body = []
    tail = { _tag: "Stall" }
  } else if (typeof stall === "object" && "afterEvents" in stall) {
    body = body.slice(0, eventCut(body, stall.afterEvents))
    tail = { _tag: "Stall" }
  } else if (typeof stall === "object" && "afterBytes" in stall) {
    body = [{ bytes: concatBytes(body.map((u) => u.bytes)).subarray(0, stall.afterBytes), event: false }]
    tail = { _tag: "Stall" }
  }
  if (fault.dropAfterEvents !== undefined) {
    body = body.slice(0, eventCut(body, fault.dropAfterEvents))
    tail = fault.drop === "end" ? { _tag: "End" } : { _tag: "Reset" }
  }
  if (fault.resetMidEvent !== undefined) {
    const cut = eventCut(body, fault.resetMidEvent)
    const target = body[cut]
    body = body.slice(0, cut)
    if (target !== undefined)
      body = [...body, { ...target, bytes: target.bytes.subarray(0, Math.floor(target.bytes.length / 2)) }]
    tail = { _tag: "Reset" }
  }
  const chunking = fault.chunking ?? defaultChunking
  const actions: Array<Action> = []
  const pushChunk = (chunk: Uint8Array) => {
    if (actions.length > 0 && fault.chunkDelay !== undefined)
      actions.push({ _tag: "Sleep", duration: fault.chunkDelay })
    actions.push({ _tag: "Write", chunk })
  }
  // Units with their own delay (keepalives) split the body into segments chunked separately.
  let segment: Array<Uint8Array> = []
  const flush = () => {
    if (chunking === "event") for (const bytes of segment) pushChunk(bytes)
    else for (const chunk of split(concatBytes(segment), chunking)) pushChunk(chunk)
    segment = []
  }
  for (const unit of body) {
    if (unit.delayBefore !== undefined) {
      flush()
      actions.push({ _tag: "Sleep", duration: unit.delayBefore })
    }
    segment.push(unit.bytes)
  }
  flush()
  actions.push(tail)
  return actions
}

const lineEnding = (framing: Fault["framing"]): string => (framing === "crlf" ? "\r\n" : framing === "cr" ? "\r" : "\n")

const sseUnits = (response: Json, fault: Fault, deltas: ReadonlyMap<number, ReadonlyArray<string>>): Array<Unit> => {
  const eol = lineEnding(fault.framing)
  const text = (s: string): Uint8Array => encoder.encode(s.replace(/\n/g, eol))
  const derived: Array<Json | { readonly literal: string; readonly event?: string | undefined }> = eventsOf(
    response,
    deltas
  )
  const unknown: ReadonlyArray<InsertedEvent> =
    fault.unknownEvents === true
      ? [
          { after: 1, data: { type: "response.future_thing.delta", output_index: 0, delta: "?" } },
          { after: derived.length - 1, data: { type: "response.future_thing.done", output_index: 0 } }
        ]
      : []
  const inserted = [...unknown, ...(fault.insertEvents ?? [])]
  for (const insert of [...inserted].sort((a, b) => b.after - a.after)) {
    const entry =
      typeof insert.data === "string"
        ? { literal: insert.data, event: insert.event }
        : { ...(insert.data as Json), ...(insert.event === undefined ? {} : { "~event": insert.event }) }
    derived.splice(Math.min(insert.after, derived.length), 0, entry)
  }
  let sequence = 0
  const units: Array<Unit> = []
  if (fault.retry !== undefined) units.push({ bytes: text(`retry: ${fault.retry}\n\n`), event: false })
  if (fault.keepalive !== undefined) {
    const ka = fault.keepalive
    for (let i = 0; i < ka.times; i++) {
      const body =
        ka.text === "event"
          ? `event: keepalive\ndata: ${JSON.stringify({ type: "keepalive", sequence_number: -1 - i })}\n\n`
          : `: ${ka.text ?? "keep-alive"}\n\n`
      units.push({ bytes: text(body), event: false, delayBefore: ka.every })
    }
  }
  derived.forEach((entry, index) => {
    let data: string
    let eventName: string | undefined
    if ("literal" in entry && typeof entry.literal === "string") {
      data = entry.literal
      eventName = typeof entry.event === "string" ? entry.event : undefined
    } else {
      const { "~event": explicit, ...payload } = entry as Json
      const numberedPayload =
        typeof payload.type === "string" ? { type: payload.type, sequence_number: sequence++, ...payload } : payload
      data = JSON.stringify(numberedPayload)
      eventName = typeof explicit === "string" ? explicit : typeof payload.type === "string" ? payload.type : undefined
    }
    if (fault.malformedFrameAt === index) data = data.slice(0, Math.floor(data.length / 2))
    const eventLine = fault.eventLines === false || eventName === undefined ? "" : `event: ${eventName}\n`
    if (index > 0 && fault.comments !== undefined) units.push({ bytes: text(`: ${fault.comments}\n\n`), event: false })
    units.push({ bytes: text(`${eventLine}data: ${data}\n\n`), event: true })
  })
  if (fault.done !== false) units.push({ bytes: text("data: [DONE]\n\n"), event: true })
  if (fault.afterDone !== undefined) units.push({ bytes: encoder.encode(fault.afterDone), event: false })
  return units
}

/** The actions answering `request` with `turn` (faults applied). */
export const render = (
  turn: Turn,
  request: ResponsesSchema.CreateRequest,
  idGen: IdGenerator,
  createdAt: number
): Array<Action> => {
  const fault = turn.fault ?? {}
  const actions: Array<Action> = []
  if (fault.latency !== undefined) actions.push({ _tag: "Sleep", duration: fault.latency })
  if (fault.resetBeforeHeaders === true) return [...actions, { _tag: "Reset" }]
  if (fault.stall === "beforeHeaders") return [...actions, { _tag: "Stall" }]
  if (fault.redirect !== undefined) {
    const headers = { location: fault.redirect.location, "content-length": "0", ...fault.headers }
    return [...actions, { _tag: "Head", status: fault.redirect.status ?? 307, headers }, { _tag: "End" }]
  }
  const status = fault.status ?? 200
  const requestId = idGen.next("req")
  const head = (contentType: string, extra?: Record<string, string>): Action => ({
    _tag: "Head",
    status,
    headers: { "content-type": fault.contentType ?? contentType, "x-request-id": requestId, ...extra, ...fault.headers }
  })
  if (turn.literal !== undefined) {
    const units = turn.literal.chunks.map((chunk) => ({
      bytes: typeof chunk === "string" ? encoder.encode(chunk) : chunk,
      event: true
    }))
    actions.push(head(turn.literal.contentType ?? "text/event-stream", { "cache-control": "no-cache" }))
    return [...actions, ...emit(units, fault, "event")]
  }
  if (fault.body !== undefined || status >= 300) {
    const body = fault.body === undefined ? errorBody(status) : fault.body
    const bytes = encoder.encode(typeof body === "string" ? body : JSON.stringify(body))
    actions.push(head("application/json"))
    return [...actions, ...emit([{ bytes, event: true }], fault, "whole")]
  }
  const response = toResponse(turn, request, idGen, createdAt)
  if (request.stream === true) {
    actions.push(head("text/event-stream", { "cache-control": "no-cache" }))
    return [...actions, ...emit(sseUnits(response, fault, scriptedDeltas(turn)), fault, "event")]
  }
  actions.push(head("application/json"))
  return [...actions, ...emit([{ bytes: encoder.encode(JSON.stringify(response)), event: true }], fault, "whole")]
}
