/**
 * Test helpers for the SSE decoder: the conformance corpus (`test/fixtures/conformance/`, recorded
 * traffic copied from vercel/ai and pydantic/pydantic-ai), re-framing of transcripts (LF / CRLF / CR, with or without `event:` lines), scripted
 * streams, chunk partitions, and a synchronous decode that reports events plus the error as plain
 * data so runs can be compared. Gotcha: do not import the corpus's `inventory.mjs`: importing it
 * rewrites `inventory.json` as a side effect.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type DecodeOptions, decodeEvents, makeEventDecoder, type SseStreamError } from "../../src/internal/sse.ts"
import type { StreamEvent } from "../../src/ResponsesSchema.ts"

/** The corpus root: `test/fixtures/conformance/` of this package. */
export const corpusRoot = new URL("../fixtures/conformance/", import.meta.url)

/** File names (sorted) in one corpus folder. */
export const corpusFiles = (folder: "json" | "sse" | "requests" | "errors"): Array<string> =>
  readdirSync(new URL(`${folder}/`, corpusRoot)).sort()

/** The bytes of one corpus file. */
export const corpusBytes = (folder: string, name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`${folder}/${name}`, corpusRoot)))

/** The text of one corpus file. */
export const corpusText = (folder: string, name: string): string =>
  readFileSync(new URL(`${folder}/${name}`, corpusRoot), "utf8")

/** One SSE frame: optional event name and its data (lines joined with `\n`). */
export interface Frame {
  readonly event: string | undefined
  readonly data: string
}

/** A minimal WHATWG-style splitter used only to *build* test inputs (the decoder under test is Effect's). */
export const framesOf = (text: string): Array<Frame> => {
  const frames: Array<Frame> = []
  let event: string | undefined
  let data: Array<string> = []
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === "") {
      if (data.length > 0) frames.push({ event, data: data.join("\n") })
      event = undefined
      data = []
      continue
    }
    if (line.startsWith(":")) continue
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "event") event = value
    else if (field === "data") data.push(value)
  }
  return frames
}

const terminalTypes = new Set(["response.completed", "response.incomplete", "response.failed"])

/** Splits a recorded file holding several responses (multi-turn recordings) into one frame list each. */
export const responsesOf = (frames: ReadonlyArray<Frame>): Array<Array<Frame>> => {
  const out: Array<Array<Frame>> = []
  let current: Array<Frame> = []
  for (const frame of frames) {
    current.push(frame)
    if (frame.data !== "[DONE]" && terminalTypes.has((JSON.parse(frame.data) as { type: string }).type)) {
      out.push(current)
      current = []
    }
  }
  if (current.some((frame) => frame.data !== "[DONE]")) out.push(current)
  else if (current.length > 0 && out.length > 0) out[out.length - 1]!.push(...current)
  return out
}

/** Line ending of a re-framed transcript. */
export type LineEnding = "LF" | "CRLF" | "CR"
/** `data` = data lines only; `event` = `event: <type>` line before the data. */
export type Framing = "data" | "event"

const eols: Record<LineEnding, string> = { LF: "\n", CRLF: "\r\n", CR: "\r" }

/** Renders frames as SSE text with the given line ending and framing. */
export const render = (frames: ReadonlyArray<Frame>, eol: LineEnding, framing: Framing): string => {
  const nl = eols[eol]
  let out = ""
  for (const frame of frames) {
    if (framing === "event" && frame.data !== "[DONE]") {
      const name = frame.event ?? (JSON.parse(frame.data) as { type?: string }).type
      if (name !== undefined) out += `event: ${name}${nl}`
    } else if (frame.event !== undefined && frame.event === "error") {
      out += `event: error${nl}`
    }
    for (const line of frame.data.split("\n")) out += `data: ${line}${nl}`
    out += nl
  }
  return out
}

/** UTF-8 bytes of a string. */
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** The outcome of a decode as plain data (events, and the error's tag and key fields). */
export interface Outcome {
  readonly events: Array<StreamEvent>
  readonly error: SseStreamError | undefined
}

/** Decodes chunks synchronously with the decoder behind `decodeEvents`. */
export const decodeChunks = (chunks: Iterable<Uint8Array>, options?: DecodeOptions): Outcome => {
  const decoder = makeEventDecoder(options)
  const events: Array<StreamEvent> = []
  for (const chunk of chunks) {
    const error = decoder.feed(chunk, events)
    if (decoder.finished()) return { events, error }
  }
  return { events, error: decoder.end(events) }
}

/** Splits bytes at the given (sorted, distinct, in-range) cut offsets. */
export const splitAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const cut of cuts) {
    chunks.push(bytes.subarray(start, cut))
    start = cut
  }
  chunks.push(bytes.subarray(start))
  return chunks
}

/** Fixed-size chunks (`size` bytes each, the last one shorter). */
export const chunksOf = (bytes: Uint8Array, size: number): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  return chunks
}

/** A comparable fingerprint of an outcome: events as JSON plus the error's tag, reason and index. */
export const fingerprint = (outcome: Outcome): string => {
  const error = outcome.error as
    | (SseStreamError & { readonly reason?: string; readonly eventIndex?: number; readonly code?: string })
    | undefined
  const errorPart =
    error === undefined ? "ok" : `${error._tag}/${error.reason ?? ""}/${error.eventIndex ?? ""}/${error.code ?? ""}`
  return `${errorPart}\n${JSON.stringify(outcome.events)}`
}

/** Runs `decodeEvents` over chunks as an Effect stream; collects events and the error. */
export const decodeViaStream = (chunks: ReadonlyArray<Uint8Array>, options?: DecodeOptions): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    const events: Array<StreamEvent> = []
    const result = yield* Stream.fromIterable(chunks).pipe(
      decodeEvents(options),
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.result
    )
    return { events, error: result._tag === "Failure" ? result.failure : undefined }
  })

/** An upstream body under test control: counts pulls, records its release, and after the script ends, hangs, dies or ends. */
export interface ScriptedUpstream {
  readonly stream: Stream.Stream<Uint8Array>
  /** Pulls made so far (including the one past the script, if any). */
  readonly pulls: () => number
  /** Bytes handed out so far. */
  readonly bytesRead: () => number
  /** True once the upstream's scope was closed (the body was released / the socket aborted). */
  readonly released: () => boolean
}

/**
 * An upstream that yields `chunkAt(0)`, `chunkAt(1)`, ... up to `count` chunks, one per pull, then
 * `after`: `"end"` (clean EOF), `"die"` (a defect: proves nobody pulls again) or `"hang"`.
 */
export const scriptedUpstream = (
  count: number,
  chunkAt: (index: number) => Uint8Array,
  after: "end" | "die" | "hang"
): ScriptedUpstream => {
  let pulls = 0
  let bytesRead = 0
  let released = false
  const pull = Effect.suspend(() => {
    const index = pulls++
    if (index < count) {
      const chunk = chunkAt(index)
      bytesRead += chunk.length
      return Effect.succeed([chunk] as const)
    }
    if (after === "end") return Cause.done()
    if (after === "die") return Effect.die(new Error("the upstream was pulled after its script"))
    return Effect.never
  })
  const stream = Stream.fromPull(Effect.succeed(pull)).pipe(
    Stream.ensuring(
      Effect.sync(() => {
        released = true
      })
    )
  )
  return { stream, pulls: () => pulls, bytesRead: () => bytesRead, released: () => released }
}

/** `scriptedUpstream` over a fixed list of chunks. */
export const upstreamOf = (chunks: ReadonlyArray<Uint8Array>, after: "end" | "die" | "hang"): ScriptedUpstream =>
  scriptedUpstream(chunks.length, (index) => chunks[index]!, after)

/** SSE text of payloads, one `data:` frame each (objects are JSON-encoded, strings kept raw), LF framing. */
export const sse = (...payloads: ReadonlyArray<unknown>): string =>
  payloads.map((payload) => `data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`).join("")

// ---------------------------------------------------------------------------------------------
// scripted streams (B01, B02, ...): written here, not recorded
// ---------------------------------------------------------------------------------------------

const responseBase = (id: string, status: string) => ({
  id,
  object: "response",
  created_at: 1_700_000_000,
  status,
  model: "scripted-model",
  output: [] as Array<unknown>,
  usage: null,
  error: null
})

/** A scripted text answer streamed as deltas (the final item repeats the text). */
export const textTranscript = (deltas: ReadonlyArray<string>, id = "resp_text"): Array<Frame> => {
  const text = deltas.join("")
  const item = {
    id: "msg_1",
    type: "message",
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text, annotations: [] }]
  }
  const payloads: Array<Record<string, unknown>> = [
    { type: "response.created", response: responseBase(id, "in_progress") },
    { type: "response.in_progress", response: responseBase(id, "in_progress") },
    {
      type: "response.output_item.added",
      output_index: 0,
      item: { id: "msg_1", type: "message", role: "assistant", status: "in_progress", content: [] }
    },
    {
      type: "response.content_part.added",
      output_index: 0,
      item_id: "msg_1",
      content_index: 0,
      part: { type: "output_text", text: "", annotations: [] }
    },
    ...deltas.map((delta) => ({
      type: "response.output_text.delta",
      output_index: 0,
      item_id: "msg_1",
      content_index: 0,
      delta
    })),
    { type: "response.output_text.done", output_index: 0, item_id: "msg_1", content_index: 0, text },
    {
      type: "response.content_part.done",
      output_index: 0,
      item_id: "msg_1",
      content_index: 0,
      part: { type: "output_text", text, annotations: [] }
    },
    { type: "response.output_item.done", output_index: 0, item: item },
    { type: "response.completed", response: { ...responseBase(id, "completed"), output: [item] } }
  ]
  return payloads.map((payload, i) => ({ event: undefined, data: JSON.stringify({ ...payload, sequence_number: i }) }))
}

/** A scripted function call streamed as argument deltas. */
export const functionCallTranscript = (argumentDeltas: ReadonlyArray<string>, final?: string): Array<Frame> => {
  const args = final ?? argumentDeltas.join("")
  const added = {
    id: "fc_1",
    type: "function_call",
    call_id: "call_1",
    name: "get_weather",
    arguments: "",
    status: "in_progress"
  }
  const done = { ...added, arguments: args, status: "completed" }
  const payloads: Array<Record<string, unknown>> = [
    { type: "response.created", response: responseBase("resp_call", "in_progress") },
    { type: "response.output_item.added", output_index: 0, item: added },
    ...argumentDeltas.map((delta) => ({
      type: "response.function_call_arguments.delta",
      output_index: 0,
      item_id: "fc_1",
      delta
    })),
    { type: "response.function_call_arguments.done", output_index: 0, item_id: "fc_1", arguments: args },
    { type: "response.output_item.done", output_index: 0, item: done },
    { type: "response.completed", response: { ...responseBase("resp_call", "completed"), output: [done] } }
  ]
  return payloads.map((payload, i) => ({ event: undefined, data: JSON.stringify({ ...payload, sequence_number: i }) }))
}

/** The B01 scripted transcripts: text, a function call, multi-byte text, U+2028 inside JSON. */
export const scriptedTranscripts = (): Array<{ readonly name: string; readonly frames: Array<Frame> }> => [
  { name: "scripted-text", frames: textTranscript(["Hello", ", ", "world", "!"]) },
  { name: "scripted-function-call", frames: functionCallTranscript(['{"ci', 'ty":', '"Par', 'is"}']) },
  { name: "scripted-multibyte", frames: textTranscript(["извест", "ни ", "北", "京 ", "🌍", " é"], "resp_mb") },
  {
    name: "scripted-u2028",
    // JSON.stringify leaves U+2028/U+2029 raw: they must survive as characters, not line breaks.
    frames: textTranscript(["line\u2028separator", " and\u2029paragraph"], "resp_ls")
  }
]

/** Single payloads for hand-built streams. */
export const payload = {
  created: (id = "resp_1") => ({ type: "response.created", response: responseBase(id, "in_progress") }),
  messageAdded: (outputIndex = 0, id = "msg_1") => ({
    type: "response.output_item.added",
    output_index: outputIndex,
    item: { id, type: "message", role: "assistant", status: "in_progress", content: [] }
  }),
  partAdded: (outputIndex = 0, id = "msg_1") => ({
    type: "response.content_part.added",
    output_index: outputIndex,
    item_id: id,
    content_index: 0,
    part: { type: "output_text", text: "", annotations: [] }
  }),
  textDelta: (delta: string, outputIndex = 0, id = "msg_1") => ({
    type: "response.output_text.delta",
    output_index: outputIndex,
    item_id: id,
    content_index: 0,
    delta
  }),
  callAdded: (outputIndex: number, id: string, callId: string, name = "get_weather") => ({
    type: "response.output_item.added",
    output_index: outputIndex,
    item: { id, type: "function_call", call_id: callId, name, arguments: "", status: "in_progress" }
  }),
  completed: (id = "resp_1", output: ReadonlyArray<unknown> = []) => ({
    type: "response.completed",
    response: { ...responseBase(id, "completed"), output }
  }),
  failed: (id: string, error: { readonly code: string; readonly message: string } | null) => ({
    type: "response.failed",
    response: { ...responseBase(id, "failed"), error }
  })
}

/** The head of a text stream: created, message added, part added. */
export const textHead = (id = "resp_1"): Array<unknown> => [
  payload.created(id),
  payload.messageAdded(),
  payload.partAdded()
]
