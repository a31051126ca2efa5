/**
 * Hand-written checks that vouch for the common shapes of a response and of its structural stream
 * events (response snapshots, `output_item.*`, `content_part.*`, `*.done`): messages, function
 * calls and reasoning items with their text parts. Every wire schema is an open struct whose
 * decoded value deep-equals its input, so a value these checks accept is returned as parsed.
 * Anything they do not fully vouch for (another item or part type, a wrong or unusual field)
 * returns `undefined` and the caller runs the schema, which also names the path of an error.
 * Why: the schema decode of a ~200-word response was ~20 µs per model call (more than parsing its
 * JSON), on every JSON response and on every `response.completed`. Conformance.test.ts checks these
 * against the schema on every recorded response and event, and on mutated copies of them.
 */
import { type Response, ResponseStatus, type StreamEvent } from "../ResponsesSchema.ts"

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)
const isString = (value: unknown): boolean => typeof value === "string"
const isNumber = (value: unknown): boolean => typeof value === "number"
/** `optionalKey(String)`: absent, or a string (JSON has no `undefined`, but a caller's object may). */
const optString = (object: Json, key: string): boolean => !(key in object) || typeof object[key] === "string"
const optNumber = (object: Json, key: string): boolean => !(key in object) || typeof object[key] === "number"
const optNullableString = (object: Json, key: string): boolean => {
  if (!(key in object)) return true
  const value = object[key]
  return value === null || typeof value === "string"
}
const optNullableNumber = (object: Json, key: string): boolean => {
  if (!(key in object)) return true
  const value = object[key]
  return value === null || typeof value === "number"
}
const optArray = (object: Json, key: string): boolean => !(key in object) || Array.isArray(object[key])

/** A content part of a known text kind. */
const isTextPart = (part: unknown): boolean => {
  if (!isObject(part)) return false
  switch (part.type) {
    case "output_text":
      return isString(part.text) && optArray(part, "annotations") && optArray(part, "logprobs")
    case "input_text":
    case "summary_text":
    case "reasoning_text":
      return isString(part.text)
    case "refusal":
      return isString(part.refusal)
    default:
      return false
  }
}

const allParts = (value: unknown): boolean => {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (!isTextPart(value[i])) return false
  return true
}

/** An output item of a common kind: an assistant message, a function call, a reasoning item. */
const isCommonItem = (item: unknown): boolean => {
  if (!isObject(item)) return false
  switch (item.type) {
    case "message":
      return (
        isString(item.id) &&
        item.role === "assistant" &&
        allParts(item.content) &&
        optNullableString(item, "status") &&
        optNullableString(item, "phase")
      )
    case "function_call":
      return (
        optString(item, "id") &&
        isString(item.call_id) &&
        isString(item.name) &&
        isString(item.arguments) &&
        optNullableString(item, "status")
      )
    case "reasoning":
      return (
        optString(item, "id") &&
        allParts(item.summary) &&
        (!("content" in item) || item.content === null || allParts(item.content)) &&
        optNullableString(item, "encrypted_content") &&
        optNullableString(item, "status")
      )
    default:
      return false
  }
}

const statuses: ReadonlySet<unknown> = new Set(ResponseStatus.literals)

/** `key` absent, `null`, or an object that passes `check`. */
const optNullableObject = (
  record: Record<string, unknown>,
  key: string,
  check: (value: Record<string, unknown>) => boolean
): boolean => {
  if (!(key in record)) return true
  const value = record[key]
  return value === null || (isObject(value) && check(value))
}

// Checks of nested objects, defined once (no closure per response on the hot path).
const isInputDetails = (details: Record<string, unknown>) => optNullableNumber(details, "cached_tokens")
const isOutputDetails = (details: Record<string, unknown>) => optNullableNumber(details, "reasoning_tokens")
const isErrorObject = (error: Record<string, unknown>) =>
  optNullableString(error, "code") && optNullableString(error, "message")
const isIncompleteDetails = (details: Record<string, unknown>) => optNullableString(details, "reason")

const isUsage = (usage: unknown): boolean =>
  isObject(usage) &&
  isNumber(usage.input_tokens) &&
  isNumber(usage.output_tokens) &&
  optNumber(usage, "total_tokens") &&
  optNullableObject(usage, "input_tokens_details", isInputDetails) &&
  optNullableObject(usage, "output_tokens_details", isOutputDetails)

/** A response whose every field and item the checks vouch for. */
const isCommonResponse = (response: unknown): response is Response => {
  if (!isObject(response) || !isString(response.id)) return false
  if (!optString(response, "object") || !optNullableNumber(response, "created_at") || !optString(response, "model"))
    return false
  if ("status" in response && !statuses.has(response.status)) return false
  if ("output" in response) {
    const output = response.output
    if (!Array.isArray(output)) return false
    for (let i = 0; i < output.length; i++) if (!isCommonItem(output[i])) return false
  }
  if ("usage" in response && response.usage !== null && !isUsage(response.usage)) return false
  return (
    optNullableObject(response, "error", isErrorObject) &&
    optNullableObject(response, "incomplete_details", isIncompleteDetails)
  )
}

/** The response as parsed when the checks vouch for it, else `undefined` (run the schema). */
export const decodeResponseFast = (json: unknown): Response | undefined => (isCommonResponse(json) ? json : undefined)

const partPosition = (event: Json): boolean =>
  isNumber(event.output_index) && optString(event, "item_id") && isNumber(event.content_index)

/**
 * A structural event (its `type` already known to be a string, `sequence_number` checked) as parsed
 * when the checks vouch for it, else `undefined`.
 */
export const decodeStructuralEventFast = (event: Json): StreamEvent | undefined => {
  let ok: boolean
  switch (event.type) {
    case "response.created":
    case "response.in_progress":
    case "response.queued":
    case "response.completed":
    case "response.failed":
    case "response.incomplete":
      ok = isCommonResponse(event.response)
      break
    case "response.output_item.added":
    case "response.output_item.done":
      ok = isNumber(event.output_index) && isCommonItem(event.item)
      break
    case "response.content_part.added":
    case "response.content_part.done":
      ok = partPosition(event) && isTextPart(event.part)
      break
    case "response.output_text.done":
      ok = partPosition(event) && isString(event.text)
      break
    case "response.function_call_arguments.done":
      ok =
        isNumber(event.output_index) &&
        optString(event, "item_id") &&
        isString(event.arguments) &&
        optString(event, "name")
      break
    default:
      ok = false
  }
  return ok ? (event as unknown as StreamEvent) : undefined
}
