/**
 * History helpers of the loop: turning the user's input into items, the D07 pairing validator,
 * the synthetic outputs the loop writes (errors, cancellations), canonical argument hashing and
 * byte accounting for `maxInputBytes`. Everything here is pure and synchronous. Gotcha: items
 * are never copied or re-keyed: a response's output items go into the history as the same objects,
 * which is what keeps each request's prefix byte-identical to the previous request.
 */
import { hash } from "node:crypto"
import type { ResponsesSchema } from "@volley/core"
import { Tool } from "@volley/tools"

/** The user's input as history items: a string becomes one user message. */
export const inputItems = (
  input: string | ReadonlyArray<ResponsesSchema.InputItem>
): Array<ResponsesSchema.InputItem> =>
  typeof input === "string" ? [{ type: "message", role: "user", content: input }] : [...input]

/** Output items are valid input items; they go back unchanged (ids, status, encrypted reasoning). */
export const asInput = (item: ResponsesSchema.OutputItem): ResponsesSchema.InputItem =>
  item as ResponsesSchema.InputItem

/** A pairing violation found by `validatePairing`. */
export interface PairingIssue {
  readonly issue: "MissingOutput" | "OrphanOutput" | "DuplicateOutput" | "DuplicateCall"
  readonly callId: string
}

/** D07 checked incrementally over a history that only grows: the calls seen so far and how far it was checked. */
export interface PairingState {
  /** `call_id` -> whether its output was seen, in call order. */
  readonly calls: Map<string, boolean>
  /** Items already checked. */
  checked: number
  /** Calls without an output so far. */
  open: number
}

/** A state for a history nothing of which was checked yet. */
export const pairingState = (): PairingState => ({ calls: new Map(), checked: 0, open: 0 })

/**
 * D07 over the items appended since the last check (O(new items)); the same answer as
 * `validatePairing` of the whole history, as long as items are only ever appended and a check that
 * found an issue is the last one.
 */
export const checkPairing = (
  state: PairingState,
  items: ReadonlyArray<ResponsesSchema.InputItem>
): PairingIssue | undefined => {
  for (; state.checked < items.length; state.checked++) {
    const item = items[state.checked]!
    if (item.type === "function_call") {
      if (state.calls.has(item.call_id)) return { issue: "DuplicateCall", callId: item.call_id }
      state.calls.set(item.call_id, false)
      state.open++
    } else if (item.type === "function_call_output") {
      const seen = state.calls.get(item.call_id)
      if (seen === undefined) return { issue: "OrphanOutput", callId: item.call_id }
      if (seen) return { issue: "DuplicateOutput", callId: item.call_id }
      state.calls.set(item.call_id, true)
      state.open--
    }
  }
  if (state.open > 0) for (const [callId, seen] of state.calls) if (!seen) return { issue: "MissingOutput", callId }
  return undefined
}

/**
 * D07: every `function_call` has exactly one later `function_call_output` with its `call_id`, and
 * no output lacks an earlier call. Returns the first violation, or `undefined`. O(n).
 */
export const validatePairing = (items: ReadonlyArray<ResponsesSchema.InputItem>): PairingIssue | undefined =>
  checkPairing(pairingState(), items)

/** The JSON text `{"error":{"type":…,"message":…}}` fed back to the model (docs/reliability.md, Conventions). */
export const errorText = (type: string, message: string): string =>
  JSON.stringify({ error: { type, message: message.length > 2000 ? `${message.slice(0, 2000)}…` : message } })

/** A `function_call_output` item. */
export const outputItem = (callId: string, output: string): ResponsesSchema.FunctionCallOutput => ({
  type: "function_call_output",
  call_id: callId,
  output
})

/** The output written for a call that was cancelled (interrupted run, or stopped before running). */
export const cancelledOutput = (callId: string, message: string): ResponsesSchema.FunctionCallOutput =>
  outputItem(callId, errorText("cancelled", message))

/**
 * JSON with object keys sorted, for hashing arguments independent of key order; `undefined` when the
 * value nests deeper than `Tool.maxArgumentsDepth` (the walk is bounded, never a stack overflow).
 */
export const canonicalJson = (value: unknown, depth = 0): string | undefined => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (depth >= Tool.maxArgumentsDepth) return undefined
  const parts: Array<string> = []
  if (Array.isArray(value)) {
    for (const item of value) {
      const part = canonicalJson(item, depth + 1)
      if (part === undefined) return undefined
      parts.push(part)
    }
    return `[${parts.join(",")}]`
  }
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record).sort()) {
    const part = canonicalJson(record[key], depth + 1)
    if (part === undefined) return undefined
    parts.push(`${JSON.stringify(key)}:${part}`)
  }
  return `{${parts.join(",")}}`
}

const parseOrUndefined = (text: string): unknown => {
  // Boundary: JSON.parse throws on malformed model output (it is iterative: deep nesting cannot overflow).
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * A stable hash of a call's arguments: SHA-256 of their canonical JSON, hex, prefixed. Malformed or
 * too deeply nested arguments (which the toolkit refuses) hash as their raw text.
 */
export const argsHash = (args: string): string => {
  const parsed = parseOrUndefined(args)
  const canonical = (parsed === undefined ? undefined : canonicalJson(parsed)) ?? `{"$raw":${JSON.stringify(args)}}`
  return `sha256:${hash("sha256", canonical, "hex")}`
}

/**
 * Whether a JSON text nests objects and arrays deeper than `limit`: one iterative pass over the
 * characters (strings skipped), so a hostile text cannot overflow the stack before a recursive
 * decoder sees it. Malformed text is left for the decoder to refuse.
 */
export const nestsDeeperThan = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

/** The UTF-8 size of an item as it will appear in a request body. */
export const itemBytes = (item: ResponsesSchema.InputItem): number => Buffer.byteLength(JSON.stringify(item), "utf8")

/** The concatenated refusal text of the messages in an output list, or `undefined`. */
export const refusalText = (output: ReadonlyArray<ResponsesSchema.OutputItem>): string | undefined => {
  let text: string | undefined
  for (const item of output) {
    if (item.type !== "message") continue
    for (const part of item.content) if (part.type === "refusal") text = (text ?? "") + part.refusal
  }
  return text
}
