/**
 * `ResponseAccumulator` folds Responses stream events into the final `Response`, equal to what the
 * non-streamed call returns for the same output. Entry points: `make()` gives a small mutable
 * accumulator (`add(event, index)` / `snapshot()`, synchronous: it is the hot path of every stream)
 * and `collect(stream)` runs one over a stream of events. Items are keyed by `output_index`; a
 * finished item (`output_item.done`) wins over the deltas that built it, and a terminal response
 * with a non-empty `output` wins over everything accumulated. Structural contradictions (B08, D08)
 * come back from `add` as a `StreamProtocolError` carrying the partial snapshot; the accumulator
 * never throws.
 * Gotcha: some OpenAI-compatible servers (GitHub Copilot) send a fresh item id on every event. Once
 * a stream shows such rotation, ids are no longer compared; before that, an `output_item.done`
 * whose id differs from the added item is an `ItemIdMismatch`.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { StreamProtocolError, type StreamProtocolReason } from "./ResponsesError.ts"
import type { ContentPart, OutputItem, Response, StreamEvent } from "./ResponsesSchema.ts"

/** A `function_call` whose streamed argument deltas differ from its final arguments (C09). */
export interface ArgumentsMismatch {
  /** `output_index` of the call. */
  readonly outputIndex: number
  /** Item id, when the server sent one. */
  readonly itemId: string | undefined
  /** The call's `call_id`, when known. */
  readonly callId: string | undefined
  /** Length of the concatenated deltas (the argument text itself is not passed: it is content). */
  readonly streamedLength: number
  /** Length of the final arguments, which win. */
  readonly finalLength: number
}

/**
 * How the terminal response's `output` differs from the items the stream announced, at one position:
 * `unannounced` (only in the terminal output: e.g. a call that was never streamed), `dropped` (streamed,
 * but not in the terminal output) or `changed` (both, but a different type, call, arguments or text).
 * Ids, encrypted blobs and hosted-tool details are not compared (servers legitimately rewrite them).
 */
export interface OutputDifference {
  readonly outputIndex: number
  readonly kind: "unannounced" | "dropped" | "changed"
  /** The item's type (the terminal's, or the streamed one's for `dropped`). */
  readonly itemType: string
  /** The call's `call_id` for function and custom tool calls (the terminal's, else the streamed one's). */
  readonly callId: string | undefined
  /** The tool name for function and custom tool calls. */
  readonly name: string | undefined
}

/** Something the stream did that the accumulator tolerated, for the caller to surface (e.g. an agent `Warning`). */
export type StreamWarning =
  | {
      /** The terminal `output` disagrees with the streamed items; the terminal output wins (see `OutputDifference`). */
      readonly _tag: "OutputMismatch"
      readonly differences: ReadonlyArray<OutputDifference>
    }
  | {
      /**
       * An event named an `item_id` no item was added with; it was folded by its `output_index` (servers
       * such as GitHub Copilot send a fresh id on every event). Reported once per stream.
       */
      readonly _tag: "UnknownItemId"
      readonly outputIndex: number
      /** 0-based index of the first such event. */
      readonly eventIndex: number
    }

/** Options of `make`. */
export interface Options {
  /** Called once per call whose deltas disagree with its final arguments; the final item wins. */
  readonly onMismatch?: ((mismatch: ArgumentsMismatch) => void) | undefined
  /** Called with each warning as it is found (at most one of each kind per stream). */
  readonly onWarning?: ((warning: StreamWarning) => void) | undefined
}

/** A mutable fold of stream events into a `Response`. Not shared between streams. */
export interface ResponseAccumulator {
  /** Folds one event (its 0-based index in the stream); returns the contradiction it found, if any. */
  readonly add: (event: StreamEvent, index: number) => StreamProtocolError | undefined
  /** The response as known so far: the terminal response merged with the accumulated items. */
  readonly snapshot: () => Response
  /** True once a terminal event (`response.completed`, `.incomplete` or `.failed`) was added. */
  readonly isTerminal: () => boolean
  /** The warnings found so far (at most one of each kind). */
  readonly warnings: () => ReadonlyArray<StreamWarning>
}

/** Creates an empty accumulator. */
export const make = (options?: Options): ResponseAccumulator => {
  const state: State = {
    slots: [],
    itemIds: new Set(),
    callIds: new Set(),
    latest: undefined,
    terminal: undefined,
    idsRotate: false,
    onMismatch: options?.onMismatch,
    warnings: [],
    onWarning: options?.onWarning
  }
  return {
    add: (event, index) => addEvent(state, event, index),
    snapshot: () => snapshotOf(state),
    isTerminal: () => state.terminal !== undefined,
    warnings: () => state.warnings
  }
}

/**
 * Compares the items a stream announced (`output_item.done`, or what the deltas built) with the
 * terminal response's `output`, position by position. The rule (docs/client.md): the terminal output
 * wins, and every difference is reported. Compared: the item type, and for calls `call_id`, name and
 * arguments (or input); for messages the role and text. At most `maxOutputDifferences` are listed.
 */
export const compareOutput = (
  streamed: ReadonlyArray<OutputItem>,
  terminal: ReadonlyArray<OutputItem>
): ReadonlyArray<OutputDifference> => {
  const differences: Array<OutputDifference> = []
  const length = Math.max(streamed.length, terminal.length)
  for (let i = 0; i < length && differences.length < maxOutputDifferences; i++) {
    const before = streamed[i]
    const after = terminal[i]
    if (before !== undefined && after !== undefined && sameItem(before, after)) continue
    const shown = after ?? before!
    const call = isCall(shown) ? shown : undefined
    differences.push({
      outputIndex: i,
      kind: before === undefined ? "unannounced" : after === undefined ? "dropped" : "changed",
      itemType: shown.type,
      callId: call?.call_id,
      name: call === undefined ? undefined : stringOf((call as { readonly name?: unknown }).name)
    })
  }
  return differences
}

/** True when a terminal response's own `output` wins over the streamed items: it is non-empty. */
export const terminalOutputWins = (
  terminal: Response | undefined
): terminal is Response & { readonly output: ReadonlyArray<OutputItem> } =>
  terminal?.output !== undefined && terminal.output.length > 0

/** A terminal response settled against the streamed items (`settle`). */
export interface Settled {
  /** The terminal response, its output the streamed items when its own is empty. */
  readonly response: Response
  /** How a winning terminal output differs from the streamed items (empty otherwise). */
  readonly differences: ReadonlyArray<OutputDifference>
}

/**
 * The terminal rule, for folds of their own (the agent's event fold): a non-empty terminal `output`
 * wins and every difference from the streamed items is reported; otherwise the streamed items, when
 * there are any, become its output.
 */
export const settle = (terminal: Response, streamed: ReadonlyArray<OutputItem>): Settled => {
  if (terminalOutputWins(terminal)) return { response: terminal, differences: compareOutput(streamed, terminal.output) }
  return { response: streamed.length > 0 ? { ...terminal, output: [...streamed] } : terminal, differences: [] }
}

/** Most differences `compareOutput` lists (a hostile terminal output cannot make the warning unbounded). */
export const maxOutputDifferences = 64

/**
 * Runs an accumulator over a stream of events and returns the final response. A structural
 * contradiction fails with `StreamProtocolError`; a stream that ends without a terminal event still
 * yields its snapshot here (`decodeEvents` is what turns that into `StreamTruncated`).
 */
export const collect = <E, R>(
  stream: Stream.Stream<StreamEvent, E, R>,
  options?: Options
): Effect.Effect<Response, E | StreamProtocolError, R> =>
  Effect.suspend(() => {
    const accumulator = make(options)
    let index = 0
    return Stream.runForEachArray(stream, (events) => {
      for (let i = 0; i < events.length; i++) {
        const error = accumulator.add(events[i]!, index++)
        if (error !== undefined) return Effect.fail(error)
      }
      return Effect.void
    }).pipe(Effect.map(() => accumulator.snapshot()))
  })

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

/** The mutable state behind one accumulator. */
interface State {
  /** Items by `output_index` (holes for indexes never added). */
  readonly slots: Array<Slot | undefined>
  readonly itemIds: Set<string>
  /** `call_id`s of function and custom tool calls seen so far (D08). */
  readonly callIds: Set<string>
  /** The last `response.created` / `.in_progress` / `.queued` snapshot. */
  latest: Response | undefined
  /** The terminal response, once it arrived. */
  terminal: Response | undefined
  /** Set once an event's `item_id` differs from its item's id: ids are not compared after that. */
  idsRotate: boolean
  readonly onMismatch: ((mismatch: ArgumentsMismatch) => void) | undefined
  readonly warnings: Array<StreamWarning>
  readonly onWarning: ((warning: StreamWarning) => void) | undefined
}

const warn = (state: State, warning: StreamWarning): void => {
  state.warnings.push(warning)
  state.onWarning?.(warning)
}

/** At a terminal event with a non-empty `output`: reports how it differs from what was streamed. */
const checkTerminalOutput = (state: State, terminal: Response): void => {
  if (!terminalOutputWins(terminal) || state.slots.length === 0) return
  const { differences } = settle(terminal, buildOutput(state.slots))
  if (differences.length > 0) warn(state, { _tag: "OutputMismatch", differences })
}

const snapshotOf = (state: State): Response => {
  const { latest, terminal } = state
  const base: Response =
    terminal === undefined ? (latest ?? { id: "" }) : latest === undefined ? terminal : { ...latest, ...terminal }
  const output = terminalOutputWins(terminal) ? terminal.output : buildOutput(state.slots)
  return { ...base, output }
}

const contradiction = (state: State, reason: StreamProtocolReason, index: number, message: string) =>
  new StreamProtocolError({
    message,
    reason,
    eventIndex: index,
    retryable: false,
    attempts: 1,
    causes: [],
    partial: snapshotOf(state)
  })

/**
 * The slot an event refers to, by `output_index`. An `item_id` that is not the item's own: the id of
 * another added item is an `ItemIdMismatch` (the event would land in the wrong item); an id never added
 * is id rotation (GitHub Copilot), tolerated and reported once as an `UnknownItemId` warning.
 */
const slotAt = (
  state: State,
  outputIndex: number,
  itemId: string | undefined,
  type: string,
  index: number
): Slot | StreamProtocolError | undefined => {
  const slot = state.slots[outputIndex]
  if (slot === undefined || itemId === undefined || itemId === slot.id) return slot
  if (state.itemIds.has(itemId)) {
    return contradiction(
      state,
      "ItemIdMismatch",
      index,
      `${type} at output_index ${outputIndex} names item ${itemId}, which was added at another output_index`
    )
  }
  if (!state.idsRotate) {
    state.idsRotate = true
    warn(state, { _tag: "UnknownItemId", outputIndex, eventIndex: index })
  }
  return slot
}

/** Positions above this are refused: a sparse array that large would make every snapshot crawl. */
const maxIndex = 65_536

const isIndex = (value: unknown): boolean =>
  value === undefined || (typeof value === "number" && Number.isInteger(value) && value >= 0 && value < maxIndex)

const isError = (value: Slot | StreamProtocolError): value is StreamProtocolError => "_tag" in value

/** An index that cannot be a position (negative, fractional, absurdly large) is an `InvalidEvent`. */
const invalidIndex = (state: State, event: StreamEvent, index: number): StreamProtocolError | undefined => {
  const positions = event as {
    readonly output_index?: unknown
    readonly content_index?: unknown
    readonly summary_index?: unknown
  }
  // unrolled: a loop over the key names cost an array and a keyed lookup per event (bench/README.md, row 10)
  const key = !isIndex(positions.output_index)
    ? "output_index"
    : !isIndex(positions.content_index)
      ? "content_index"
      : !isIndex(positions.summary_index)
        ? "summary_index"
        : undefined
  return key === undefined
    ? undefined
    : contradiction(state, "InvalidEvent", index, `${event.type} has an invalid ${key}`)
}

/** The slot an event with an `output_index` refers to, or the contradiction that prevents it. */
const locate = (
  state: State,
  event: StreamEvent & { readonly output_index: number; readonly item_id?: string | undefined },
  index: number
): Slot | StreamProtocolError => {
  const invalid = invalidIndex(state, event, index)
  if (invalid !== undefined) return invalid
  const slot = slotAt(state, event.output_index, event.item_id, event.type, index)
  if (slot !== undefined) return slot
  return contradiction(
    state,
    "UnknownOutputIndex",
    index,
    `${event.type} refers to output_index ${event.output_index}, which was never added`
  )
}

const registerCallId = (state: State, item: OutputItem, index: number): StreamProtocolError | undefined => {
  if (!isCall(item)) return undefined
  if (state.callIds.has(item.call_id)) {
    return contradiction(state, "DuplicateCallId", index, `two ${item.type} items share call_id ${item.call_id}`)
  }
  state.callIds.add(item.call_id)
  return undefined
}

const itemAdded = (state: State, outputIndex: number, item: OutputItem, index: number) => {
  const id = itemId(item)
  if (state.slots[outputIndex] !== undefined) {
    return contradiction(state, "DuplicateItem", index, `output_index ${outputIndex} was added twice`)
  }
  if (id !== undefined && state.itemIds.has(id)) {
    return contradiction(state, "DuplicateItem", index, `item ${id} was added twice`)
  }
  const duplicateCall = registerCallId(state, item, index)
  if (duplicateCall !== undefined) return duplicateCall
  if (id !== undefined) state.itemIds.add(id)
  state.slots[outputIndex] = newSlot(item, id)
  return undefined
}

const itemDone = (state: State, outputIndex: number, item: OutputItem, index: number) => {
  const slot = state.slots[outputIndex]
  const id = itemId(item)
  if (slot === undefined) {
    // A finished item without `added` carries everything we need: accept it (lenient, no contradiction).
    const duplicateCall = registerCallId(state, item, index)
    if (duplicateCall !== undefined) return duplicateCall
    if (id !== undefined) state.itemIds.add(id)
    const fresh = newSlot(item, id)
    fresh.done = true
    state.slots[outputIndex] = fresh
    return undefined
  }
  if (!state.idsRotate && slot.id !== undefined && id !== undefined && id !== slot.id) {
    return contradiction(
      state,
      "ItemIdMismatch",
      index,
      `output_item.done at output_index ${outputIndex} has id ${id}, but the added item was ${slot.id}`
    )
  }
  if (isCall(item) && isCall(slot.item) && item.call_id !== slot.item.call_id) {
    state.callIds.delete(slot.item.call_id)
    const duplicateCall = registerCallId(state, item, index)
    if (duplicateCall !== undefined) return duplicateCall
  }
  if (item.type === "function_call" && !slot.mismatchReported) checkArguments(state, slot, outputIndex, item.arguments)
  slot.item = item
  slot.done = true
  return undefined
}

/** Compares streamed argument deltas with the final arguments (C09); reports a mismatch once. */
const checkArguments = (state: State, slot: Slot, outputIndex: number, final: string) => {
  if (slot.args === undefined || slot.args.length === 0) return
  const streamed = slot.args.join("")
  slot.args = [streamed]
  if (streamed === final) return
  slot.mismatchReported = true
  state.onMismatch?.({
    outputIndex,
    itemId: slot.id,
    callId: isCall(slot.item) ? slot.item.call_id : undefined,
    streamedLength: streamed.length,
    finalLength: final.length
  })
}

const addEvent = (state: State, event: StreamEvent, index: number): StreamProtocolError | undefined => {
  switch (event.type) {
    case "response.created":
    case "response.in_progress":
    case "response.queued": {
      state.latest = event.response
      return undefined
    }
    case "response.completed":
    case "response.incomplete": {
      state.terminal = event.response
      checkTerminalOutput(state, event.response)
      return undefined
    }
    case "response.failed": {
      state.terminal = event.response
      return undefined
    }
    case "response.output_item.added":
    case "response.output_item.done": {
      const invalid = invalidIndex(state, event, index)
      if (invalid !== undefined) return invalid
      return event.type === "response.output_item.added"
        ? itemAdded(state, event.output_index, event.item, index)
        : itemDone(state, event.output_index, event.item, index)
    }
    case "response.content_part.added":
    case "response.content_part.done": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      announce(partAt(slot, event.content_index, event.part), event.part, event.type === "response.content_part.done")
      return undefined
    }
    case "response.output_text.delta":
    case "response.refusal.delta": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      partAt(slot, event.content_index, event.type).chunks.push(event.delta)
      return undefined
    }
    case "response.output_text.done":
    case "response.refusal.done": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      partAt(slot, event.content_index, event.type).final =
        event.type === "response.refusal.done" ? event.refusal : event.text
      return undefined
    }
    case "response.output_text.annotation.added": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      const part = partAt(slot, event.content_index, "response.output_text.delta")
      if (part.annotations === undefined) part.annotations = []
      part.annotations.push(event.annotation)
      return undefined
    }
    default:
      return addReasoningOrCall(state, event, index)
  }
}

/** Function-call arguments and reasoning events; everything else leaves the output unchanged. */
const addReasoningOrCall = (state: State, event: StreamEvent, index: number): StreamProtocolError | undefined => {
  switch (event.type) {
    case "response.function_call_arguments.delta": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      if (slot.args === undefined) slot.args = []
      slot.args.push(event.delta)
      return undefined
    }
    case "response.function_call_arguments.done": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      if (!slot.mismatchReported) checkArguments(state, slot, event.output_index, event.arguments)
      slot.argsFinal = event.arguments
      return undefined
    }
    case "response.reasoning_summary_part.added":
    case "response.reasoning_summary_part.done": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      const part = reasoningTextAt(slot, "summary", event.summary_index)
      if (event.part !== undefined) announce(part, event.part, event.type === "response.reasoning_summary_part.done")
      return undefined
    }
    case "response.reasoning_summary_text.delta":
    case "response.reasoning_summary_text.done":
    case "response.reasoning_text.delta":
    case "response.reasoning_text.done": {
      const slot = locate(state, event, index)
      if (isError(slot)) return slot
      const summary =
        event.type === "response.reasoning_summary_text.delta" || event.type === "response.reasoning_summary_text.done"
      const part = summary
        ? reasoningTextAt(slot, "summary", event.summary_index)
        : reasoningTextAt(slot, "reasoning", event.content_index ?? 0)
      if (event.type === "response.reasoning_summary_text.delta" || event.type === "response.reasoning_text.delta") {
        part.chunks.push(event.delta)
      } else part.final = event.text
      return undefined
    }
    default:
      // error, keepalive, hosted-tool progress and unknown events do not change the output.
      return undefined
  }
}

/** Records a part as announced by an `added` / `done` event; a `done` one also fixes its final text. */
const announce = (state: TextState, part: ContentPart, done: boolean): void => {
  state.part = part
  if (done) state.final = partText(part)
}

/** Streamed text of one content part, summary part or reasoning text. */
interface TextState {
  /** The part as last announced (`added` / `done`); `undefined` when deltas came first. */
  part: ContentPart | undefined
  /** Deltas, joined only when a snapshot is taken (no quadratic concatenation). */
  readonly chunks: Array<string>
  /** The final text from a `.done` event; wins over the deltas. */
  final: string | undefined
  /** Annotations announced by `output_text.annotation.added`. */
  annotations: Array<unknown> | undefined
  /** `refusal` for refusal parts, `text` otherwise. */
  readonly field: "text" | "refusal"
}

/** Everything known about one output item. */
interface Slot {
  item: OutputItem
  readonly id: string | undefined
  done: boolean
  parts: Array<TextState | undefined> | undefined
  summary: Array<TextState | undefined> | undefined
  reasoning: Array<TextState | undefined> | undefined
  args: Array<string> | undefined
  argsFinal: string | undefined
  mismatchReported: boolean
}

type CallItem = OutputItem & { readonly type: "function_call" | "custom_tool_call"; readonly call_id: string }

const isCall = (item: OutputItem): item is CallItem =>
  (item.type === "function_call" || item.type === "custom_tool_call") &&
  typeof (item as { call_id?: unknown }).call_id === "string"

const stringOf = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

/** Whether two items say the same thing (see `compareOutput` for what is compared). */
const sameItem = (a: OutputItem, b: OutputItem): boolean => {
  if (a.type !== b.type) return false
  const left = a as unknown as Record<string, unknown>
  const right = b as unknown as Record<string, unknown>
  switch (a.type) {
    case "function_call":
      return left.call_id === right.call_id && left.name === right.name && left.arguments === right.arguments
    case "custom_tool_call":
      return left.call_id === right.call_id && left.name === right.name && left.input === right.input
    case "message":
      return left.role === right.role && sameMessageText(left.content, right.content)
    default:
      return true
  }
}

/**
 * Whether two messages' parts carry the same texts and refusals, part by part. Compared in place:
 * joining each side's text first allocated two copies of every answer per streamed turn.
 */
const sameMessageText = (left: unknown, right: unknown): boolean => {
  const a = Array.isArray(left) ? (left as ReadonlyArray<unknown>) : []
  const b = Array.isArray(right) ? (right as ReadonlyArray<unknown>) : []
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (comparedText(a[i]) !== comparedText(b[i])) return false
  return true
}

/** A message part's text, or its refusal, or "" (what `sameMessageText` compares). */
const comparedText = (part: unknown): string => {
  const { text, refusal } = (part ?? {}) as { readonly text?: unknown; readonly refusal?: unknown }
  return typeof text === "string" ? text : typeof refusal === "string" ? refusal : ""
}

const itemId = (item: OutputItem): string | undefined => {
  const id = (item as { id?: unknown }).id
  return typeof id === "string" && id.length > 0 ? id : undefined
}

const newSlot = (item: OutputItem, id: string | undefined): Slot => ({
  item,
  id,
  done: false,
  parts: undefined,
  summary: undefined,
  reasoning: undefined,
  args: undefined,
  argsFinal: undefined,
  mismatchReported: false
})

const newText = (part: ContentPart | undefined, field: "text" | "refusal"): TextState => ({
  part,
  chunks: [],
  final: undefined,
  annotations: undefined,
  field
})

const partText = (part: ContentPart): string | undefined => {
  if (part.type === "refusal") return part.refusal
  const text = (part as { text?: unknown }).text
  return typeof text === "string" ? text : undefined
}

const partAt = (slot: Slot, contentIndex: number, hint: ContentPart | string): TextState => {
  if (slot.parts === undefined) slot.parts = []
  let state = slot.parts[contentIndex]
  if (state === undefined) {
    const isRefusal = typeof hint === "string" ? hint.startsWith("response.refusal") : hint.type === "refusal"
    state = newText(typeof hint === "string" ? undefined : hint, isRefusal ? "refusal" : "text")
    slot.parts[contentIndex] = state
  }
  return state
}

/** The text state at `index` of a reasoning item's `summary` or `reasoning` list, created on first use. */
const reasoningTextAt = (slot: Slot, list: "summary" | "reasoning", index: number): TextState => {
  const states = slot[list] ?? []
  slot[list] = states
  let state = states[index]
  if (state === undefined) {
    state = newText(undefined, "text")
    states[index] = state
  }
  return state
}

const textOf = (state: TextState): string => {
  if (state.final !== undefined) return state.final
  if (state.chunks.length > 1) {
    const joined = state.chunks.join("")
    state.chunks.length = 0
    state.chunks.push(joined)
    return joined
  }
  return state.chunks[0] ?? ""
}

const buildPart = (state: TextState, fallbackType: "output_text" | "summary_text" | "reasoning_text"): ContentPart => {
  const text = textOf(state)
  if (state.field === "refusal") return { ...(state.part ?? {}), type: "refusal", refusal: text } as ContentPart
  const base =
    state.part ??
    (fallbackType === "output_text"
      ? { type: "output_text", text: "", annotations: [] }
      : { type: fallbackType, text: "" })
  const part = { ...base, text } as ContentPart & { annotations?: ReadonlyArray<unknown> }
  if (state.annotations !== undefined && state.final === undefined) {
    return { ...part, annotations: [...(part.annotations ?? []), ...state.annotations] } as ContentPart
  }
  return part
}

/** Parts the item announced (usually none), overlaid with the streamed ones by index. */
const buildParts = (
  announced: ReadonlyArray<ContentPart> | null | undefined,
  states: ReadonlyArray<TextState | undefined>,
  fallbackType: "output_text" | "summary_text" | "reasoning_text"
): Array<ContentPart> => {
  const parts: Array<ContentPart | undefined> = announced === null || announced === undefined ? [] : [...announced]
  for (let i = 0; i < states.length; i++) {
    const state = states[i]
    if (state !== undefined) parts[i] = buildPart(state, fallbackType)
  }
  return parts.filter((part): part is ContentPart => part !== undefined)
}

const buildItem = (slot: Slot): OutputItem => {
  if (slot.done) return slot.item
  const item = slot.item
  switch (item.type) {
    case "message":
      return slot.parts === undefined ? item : { ...item, content: buildParts(item.content, slot.parts, "output_text") }
    case "function_call": {
      if (slot.argsFinal !== undefined) return { ...item, arguments: slot.argsFinal }
      if (slot.args === undefined) return item
      return { ...item, arguments: slot.args.join("") }
    }
    case "reasoning": {
      let next = item
      if (slot.summary !== undefined) {
        next = { ...next, summary: buildParts(item.summary, slot.summary, "summary_text") }
      }
      if (slot.reasoning !== undefined) {
        next = { ...next, content: buildParts(item.content, slot.reasoning, "reasoning_text") }
      }
      return next
    }
    default:
      return item
  }
}

const buildOutput = (slots: ReadonlyArray<Slot | undefined>): Array<OutputItem> => {
  const output: Array<OutputItem> = []
  for (const slot of slots) if (slot !== undefined) output.push(buildItem(slot))
  return output
}
