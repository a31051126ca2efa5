/**
 * Values that fit a JSON Schema, for volley-local's tool arguments and `json_schema` answers. One
 * walker (`valueFor`) reads `$ref`, `const`, `enum`, `anyOf`/`oneOf`/`allOf`, type unions, objects,
 * arrays, strings (formats, lengths), numbers (bounds) and booleans; the context says where values
 * come from: earlier tool outputs (chaining), the step's places, quoted strings, numbers and noun
 * phrases of the prompt. Gotcha: in "arguments" mode only required properties are filled, in
 * "answer" mode every property is (strict structured outputs require all of them).
 */
import { extractPlaces, mathExpression, normalise, nounPhrase, numbersAt, quotedAt, words } from "./localText.ts"

/** A JSON Schema node, as far as volley-local reads it. */
export type JsonSchema = { readonly [key: string]: unknown }

/** Where values come from. */
export interface FillContext {
  /** "arguments": a tool call's arguments; "answer": a structured final answer. */
  readonly mode: "arguments" | "answer"
  /** The whole latest user message. */
  readonly question: string
  /** The part of the message this call is for. */
  readonly clause: string
  /** The places this call is about (the first one fills a place-like string). */
  readonly places: ReadonlyArray<string>
  /** Key/value pairs found in earlier tool outputs of this question (chaining). */
  readonly chained: ReadonlyArray<readonly [string, unknown]>
  /** The schema `$ref`s resolve against. */
  readonly root: unknown
  /** Words of the tool's name, skipped at the start of a noun phrase ("find customer Ada" gives "Ada"). */
  readonly toolWords?: ReadonlySet<string>
  /** Quoted strings not yet used (mutated as they are used, so two parameters get two strings). */
  readonly quoted: Array<string>
}

/** Deepest schema nesting walked; deeper nodes get `null`. */
export const maxDepth = 8
/** At most this many properties per object and items per array are generated. */
export const maxEntries = 32

/** A parameter or description naming a place. */
export const placeParam = /city|cities|location|place|town|countr|region|destination/i

/** True when a property (by key or description) takes a place name. */
export const isPlaceProperty = (key: string, schema: JsonSchema | undefined): boolean =>
  placeParam.test(key) || (typeof schema?.description === "string" && placeParam.test(schema.description))

/** A value fitting `schema` for the property `key` (`""` at the root). */
export const valueFor = (schema: unknown, key: string, context: FillContext, depth = 0): unknown => {
  if (schema === true || (typeof schema === "object" && schema !== null && Object.keys(schema).length === 0)) {
    return stringFor(key, {}, context)
  }
  if (typeof schema !== "object" || schema === null || depth > maxDepth) return null
  const s = schema as JsonSchema
  if (typeof s.$ref === "string") return valueFor(resolveRef(s.$ref, context.root), key, context, depth + 1)
  if ("const" in s) return s.const
  if (Array.isArray(s.enum) && s.enum.length > 0) return enumValue(s.enum, context)
  for (const union of ["anyOf", "oneOf"] as const) {
    const options = s[union]
    if (Array.isArray(options) && options.length > 0) {
      const first = options.find((o) => (o as JsonSchema | null)?.type !== "null") ?? options[0]
      return valueFor(first, key, context, depth + 1)
    }
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) return valueFor(mergeAll(s), key, context, depth + 1)
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== "null") ?? s.type[0]) : s.type
  switch (type) {
    case "object":
      return objectFor(s, context, depth)
    case "array":
      return arrayFor(s, key, context, depth)
    case "number":
    case "integer":
      return numberFor(key, s, context)
    case "boolean":
      return booleanFor(key, context)
    case "null":
      return null
    default:
      if (type === undefined && typeof s.properties === "object" && s.properties !== null) {
        return objectFor(s, context, depth)
      }
      return stringFor(key, s, context)
  }
}

const objectFor = (s: JsonSchema, context: FillContext, depth: number): Record<string, unknown> => {
  const properties = (typeof s.properties === "object" && s.properties !== null ? s.properties : {}) as Record<
    string,
    unknown
  >
  const required = new Set(Array.isArray(s.required) ? s.required.filter((r) => typeof r === "string") : [])
  const out: Record<string, unknown> = {}
  for (const [name, sub] of Object.entries(properties).slice(0, maxEntries)) {
    if (context.mode === "arguments" && !required.has(name)) continue
    out[name] = valueFor(sub, name, context, depth + 1)
  }
  return out
}

const arrayFor = (s: JsonSchema, key: string, context: FillContext, depth: number): Array<unknown> => {
  const min = typeof s.minItems === "number" ? Math.min(s.minItems, maxEntries) : 0
  const max = typeof s.maxItems === "number" ? Math.min(s.maxItems, maxEntries) : maxEntries
  const items = (typeof s.items === "object" && s.items !== null ? s.items : {}) as JsonSchema
  const itemType = Array.isArray(items.type) ? items.type.find((t) => t !== "null") : items.type
  let values: Array<unknown> = []
  if (itemType === "string" && !Array.isArray(items.enum)) {
    if (isPlaceProperty(key, s))
      values = [...(context.places.length > 0 ? context.places : extractPlaces(context.clause))]
    else if (context.mode === "arguments") values = context.quoted.splice(0, 1)
  }
  const count = Math.max(min, context.mode === "answer" ? 1 : 0)
  for (let i = values.length; i < count; i++) {
    const value = valueFor(items, key, context, depth + 1)
    values.push(s.uniqueItems === true && values.includes(value) ? distinct(value, i) : value)
  }
  return values.slice(0, Math.max(max, min))
}

const distinct = (value: unknown, i: number): unknown =>
  typeof value === "string" ? `${value} ${i + 1}` : typeof value === "number" ? value + i : value

const enumValue = (options: ReadonlyArray<unknown>, context: FillContext): unknown => {
  for (const text of [context.clause, context.question]) {
    const lower = text.toLowerCase()
    let best: { readonly value: unknown; readonly at: number } | undefined
    for (const value of options) {
      if (typeof value !== "string" || value === "") continue
      const at = lower.indexOf(value.toLowerCase())
      if (at !== -1 && (best === undefined || at < best.at)) best = { value, at }
    }
    if (best !== undefined) return best.value
  }
  return options[0]
}

const numberFor = (key: string, s: JsonSchema, context: FillContext): number => {
  const chained = chainedValue(key, context.chained, "number")
  if (typeof chained === "number") return clampNumber(chained, s)
  const keyWords = words(key)
  const named = (word: string | undefined) => word !== undefined && keyWords.has(normalise(word))
  const pick = (text: string): number | undefined => {
    const numbers = numbersAt(text)
    // a number right next to a word of the key ("3 days", "limit: 5") beats the first number
    const near = numbers.find(
      (n) =>
        named(/^\s*([\p{L}]+)/u.exec(text.slice(n.at + n.text.length))?.[1]) ||
        named(/([\p{L}]+)\s*[:=]?\s*$/u.exec(text.slice(0, n.at))?.[1])
    )
    const found = near ?? numbers[0]
    return found === undefined ? undefined : Number(found.text)
  }
  const found = pick(context.clause) ?? pick(context.question)
  const fallback = typeof s.minimum === "number" ? s.minimum : typeof s.default === "number" ? s.default : 1
  return clampNumber(found ?? fallback, s)
}

/** `n` within the schema's bounds (and an integer for `integer`). */
export const clampNumber = (n: number, s: JsonSchema): number => {
  let value = s.type === "integer" ? Math.round(n) : n
  if (typeof s.minimum === "number") value = Math.max(value, s.minimum)
  if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) value = s.exclusiveMinimum + 1
  if (typeof s.maximum === "number") value = Math.min(value, s.maximum)
  if (typeof s.exclusiveMaximum === "number" && value >= s.exclusiveMaximum) value = s.exclusiveMaximum - 1
  return value
}

const genericFlagWords = new Set(["include", "enable", "use", "with", "flag", "has", "should", "want"])

const booleanFor = (key: string, context: FillContext): boolean => {
  if (context.mode === "answer") return true
  const chained = chainedValue(key, context.chained, "boolean")
  if (typeof chained === "boolean") return chained
  const asked = words(context.clause)
  return [...words(key)].some((word) => !genericFlagWords.has(word) && asked.has(word))
}

const stringFor = (key: string, s: JsonSchema, context: FillContext): string => fitLength(rawString(key, s, context), s)

const rawString = (key: string, s: JsonSchema, context: FillContext): string => {
  if (isPlaceProperty(key, s)) {
    const place = context.places[0] ?? extractPlaces(context.clause)[0] ?? extractPlaces(context.question)[0]
    if (place !== undefined) return place
    if (context.mode === "answer") return "Paris"
  }
  const chained = chainedValue(key, context.chained, "string")
  if (typeof chained === "string") return chained
  if (s.format === "date") return context.question.match(/\b\d{4}-\d{2}-\d{2}\b/)?.[0] ?? "2026-01-01"
  if (s.format === "date-time") return "2026-01-01T00:00:00Z"
  if (s.format === "email") return context.question.match(/[\w.+-]+@[\w-]+\.[\w.]+/)?.[0] ?? "user@example.com"
  if (s.format === "uri" || s.format === "url")
    return context.question.match(/https?:\/\/\S+/)?.[0] ?? "https://example.com"
  if (context.mode === "answer") return key === "" ? "example" : `example ${key}`
  if (/expr|formula|calculation|equation/i.test(key)) {
    const math = mathExpression(context.clause) ?? mathExpression(context.question)
    if (math !== undefined) return math
  }
  const quoted = context.quoted.shift()
  if (quoted !== undefined) return quoted
  if (idKey.test(key)) {
    const id = idToken(context.clause) ?? idToken(context.question)
    if (id !== undefined) return id
  }
  const skip = new Set([...(context.toolWords ?? []), ...words(key)])
  const phrase = nounPhrase(context.clause, skip) || nounPhrase(context.question, skip)
  return phrase === "" ? key || "example" : phrase
}

/** A key naming an id: `id`, `customer_id`, `orderId`. */
export const idKey = /(?:^|_|-)id$|[a-z]Id$/

/** The first id-like token of `text` (`c_42`, `ord-7`, `A-1001`), if any. */
export const idToken = (text: string): string | undefined => /\b[A-Za-z]+[_-]\d[\w-]*\b/.exec(text)?.[0]

const fitLength = (value: string, s: JsonSchema): string => {
  let out = value
  if (typeof s.maxLength === "number" && out.length > s.maxLength) out = out.slice(0, Math.max(0, s.maxLength))
  if (typeof s.minLength === "number" && out.length < s.minLength) out = out.padEnd(Math.min(s.minLength, 1_000), "x")
  return out
}

const keyTokens = (key: string): ReadonlyArray<string> =>
  key
    .replace(/(\p{Ll})(\p{Lu})/gu, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((t) => t !== "")

/** The value of an earlier output's key matching `key` (same key, or same last word: `customer_id` ~ `id`) and `type`. */
export const chainedValue = (
  key: string,
  chained: ReadonlyArray<readonly [string, unknown]>,
  type: "string" | "number" | "boolean"
): unknown => {
  const tokens = keyTokens(key)
  if (tokens.length === 0) return undefined
  const typed = chained.filter(([, value]) => typeof value === type)
  const exact = typed.find(([k]) => keyTokens(k).join(" ") === tokens.join(" "))
  if (exact !== undefined) return exact[1]
  return typed.find(([k]) => keyTokens(k).at(-1) === tokens.at(-1))?.[1]
}

const mergeAll = (s: JsonSchema): JsonSchema => {
  const parts = (s.allOf as ReadonlyArray<unknown>).filter((p): p is JsonSchema => typeof p === "object" && p !== null)
  const properties = Object.assign({}, ...parts.map((p) => (p.properties ?? {}) as object))
  const required = parts.flatMap((p) => (Array.isArray(p.required) ? p.required : []))
  const { allOf: _allOf, ...rest } = s
  const merged: Record<string, unknown> = Object.assign({}, ...parts, rest)
  if (Object.keys(properties).length > 0) Object.assign(merged, { properties, required, type: "object" })
  return merged
}

/** The node a local `$ref` ("#/$defs/X") points at, or undefined. */
export const resolveRef = (ref: string, root: unknown): unknown => {
  if (!ref.startsWith("#/")) return undefined
  let node: unknown = root
  for (const part of ref.slice(2).split("/").slice(0, maxDepth)) {
    const name = part.replace(/~1/g, "/").replace(/~0/g, "~")
    node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[name] : undefined
  }
  return node
}

/** The quoted strings of `text` (a fresh queue for one call). */
export const quotedQueue = (text: string): Array<string> => quotedAt(text).map((q) => q.text)
