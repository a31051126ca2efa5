/**
 * `volley-local`: a deterministic, rule-based stand-in for a real model, so the demo and examples
 * run with no API key. It is honest about what it is (model name `volley-local`). Rules: if tools
 * are offered and the latest user message asks for something a tool can answer, it calls that tool
 * (one call per place named, in parallel, with arguments fitting the tool's JSON Schema); once the
 * outputs of its calls are in the input it answers with a message built from them; with a
 * `json_schema` text format it answers with a JSON object fitting the schema; otherwise a short
 * message. Entry points: `respond(request)`, `responder` (a script step), `layer`.
 * Gotcha: it never calls tools twice for one user message, so an agent loop always ends.
 */
import type { CreateRequest, FunctionCall, FunctionCallOutput, InputItem } from "@volley/core/ResponsesSchema"
import type * as Layer from "effect/Layer"
import { estimateTokens } from "./internal/render.ts"
import { inputItems, messageText } from "./RecordedRequest.ts"
import * as ResponsesServer from "./ResponsesServer.ts"
import * as ScriptedModel from "./ScriptedModel.ts"

/** The model name the local model reports. */
export const modelName = "volley-local"

/** The line the demo and `serve --local` print on stderr. */
export const notice = "volley: using the built-in volley-local model (rule-based, no API key, not a real LLM)"

type JsonSchema = { readonly [key: string]: unknown }

interface FunctionToolInfo {
  readonly name: string
  readonly description: string
  readonly parameters: JsonSchema
}

/** The turn volley-local answers `request` with. */
export const respond = (request: CreateRequest): ScriptedModel.Turn => {
  const items = inputItems(request)
  const lastUser = findLastIndex(items, isUserMessage)
  const question = lastUser === -1 ? "" : messageText(items[lastUser]!)
  const after = items.slice(lastUser + 1)
  const calls = after.filter((item): item is FunctionCall => item.type === "function_call")
  const outputs = after.filter((item): item is FunctionCallOutput => item.type === "function_call_output")
  let turn: ScriptedModel.Turn
  if (calls.length > 0) {
    const summary = summarise(calls, outputs)
    const format = request.text?.format
    turn = ScriptedModel.message(
      format?.type === "json_schema"
        ? JSON.stringify(structuredAnswer(format.schema, question, summary, outputs))
        : summary
    )
  } else {
    const toolCalls = planCalls(request, question)
    const format = request.text?.format
    turn =
      toolCalls.length > 0
        ? ScriptedModel.turn(...toolCalls)
        : format?.type === "json_schema"
          ? ScriptedModel.message(JSON.stringify(fromSchema(format.schema, format.schema, question, "", 0)))
          : ScriptedModel.message(chat(question))
  }
  const outputText = turn.items
    .map((item) => (item._tag === "FunctionCall" ? item.arguments : item._tag === "Message" ? item.text : ""))
    .join("")
  const inputText = JSON.stringify(request.input) + (request.instructions ?? "") + JSON.stringify(request.tools ?? [])
  const input = estimateTokens(inputText)
  const output = Math.max(1, estimateTokens(outputText))
  return {
    ...turn,
    model: modelName,
    usage: { input_tokens: input, output_tokens: output, total_tokens: input + output }
  }
}

/** volley-local as a script step (e.g. the server's `fallback`). */
export const responder: ScriptedModel.Responder = ScriptedModel.responder((body) => respond(body))

/** A local server answering every request with volley-local. */
export const layer = (
  options?: Omit<ResponsesServer.Options, "script" | "fallback" | "handler">
): Layer.Layer<ResponsesServer.ResponsesServer> => ResponsesServer.layer({ ...options, fallback: responder })

// ---------------------------------------------------------------------------------------------
// tools
// ---------------------------------------------------------------------------------------------

const stopwords = new Set(
  "the a an and or of in on at for to is are was be what whats what's how who when where which can could would will please tell me my you your i it its this that with about do does give show get like today now".split(
    " "
  )
)

const words = (text: string): Set<string> =>
  new Set(
    text
      .replace(/([a-z])([A-Z])/g, "$1 $2")
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((w) => w.length > 2 && !stopwords.has(w))
      .map((w) => (w.length > 4 && w.endsWith("s") ? w.slice(0, -1) : w))
  )

const functionTools = (request: CreateRequest): ReadonlyArray<FunctionToolInfo> => {
  if (request.tool_choice === "none") return []
  return (request.tools ?? []).flatMap((tool) => {
    if (tool.type !== "function") return []
    const t = tool as { readonly name: string; readonly description?: string | null; readonly parameters?: unknown }
    const parameters = typeof t.parameters === "object" && t.parameters !== null ? (t.parameters as JsonSchema) : {}
    return [{ name: t.name, description: t.description ?? "", parameters }]
  })
}

const pickTool = (request: CreateRequest, question: string): FunctionToolInfo | undefined => {
  const tools = functionTools(request)
  const choice = request.tool_choice
  if (typeof choice === "object" && choice.type === "function" && typeof choice.name === "string") {
    return tools.find((tool) => tool.name === choice.name)
  }
  const asked = words(question)
  let best: { tool: FunctionToolInfo; score: number } | undefined
  for (const tool of tools) {
    let score = 0
    for (const word of words(`${tool.name} ${tool.description}`)) if (asked.has(word)) score++
    if (score > 0 && (best === undefined || score > best.score)) best = { tool, score }
  }
  if (best !== undefined) return best.tool
  if (choice === "required") return tools[0]
  // A follow-up ("And in Berlin?") reuses the tool the conversation used last, if still offered.
  const previous = inputItems(request)
    .filter((item): item is FunctionCall => item.type === "function_call")
    .at(-1)
  const reused = previous === undefined ? undefined : tools.find((tool) => tool.name === previous.name)
  const properties = (reused?.parameters.properties ?? {}) as Record<string, unknown>
  const takesPlace = Object.keys(properties).some((key) => placeParam.test(key))
  return reused !== undefined && takesPlace && extractPlaces(question).length > 0 ? reused : undefined
}

const placeParam = /city|location|place|town|country|region|destination/i

const planCalls = (request: CreateRequest, question: string): ReadonlyArray<ScriptedModel.Turn> => {
  const tool = pickTool(request, question)
  if (tool === undefined) return []
  const properties = (tool.parameters.properties ?? {}) as Record<string, JsonSchema>
  const required = new Set(Array.isArray(tool.parameters.required) ? (tool.parameters.required as Array<string>) : [])
  const placeKey = Object.keys(properties).find((key) => placeParam.test(key) && properties[key]?.type === "string")
  const places = placeKey === undefined ? [] : extractPlaces(question)
  if (placeKey !== undefined && places.length === 0 && required.has(placeKey)) return []
  const base: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(properties)) {
    if (key === placeKey || !required.has(key)) continue
    base[key] = argumentFor(key, schema, question)
  }
  const targets: ReadonlyArray<string | undefined> =
    placeKey === undefined || places.length === 0 ? [undefined] : places
  return targets.map((place) =>
    ScriptedModel.functionCall(
      tool.name,
      place === undefined || placeKey === undefined ? base : { [placeKey]: place, ...base }
    )
  )
}

const argumentFor = (key: string, schema: JsonSchema, question: string): unknown => {
  if (Array.isArray(schema.enum)) {
    const lower = question.toLowerCase()
    return (
      schema.enum.find((value) => typeof value === "string" && lower.includes(value.toLowerCase())) ?? schema.enum[0]
    )
  }
  switch (schema.type) {
    case "number":
    case "integer": {
      const found = question.match(/-?\d+(\.\d+)?/)
      return clampNumber(found === null ? 1 : Number(found[0]), schema)
    }
    case "boolean":
      return false
    case "array":
      return []
    case "object":
      return {}
    default: {
      if (/expr|formula|calculation/i.test(key)) {
        const math = question.match(/[-\d(][-\d\s+*/().^%]*[\d)]/)
        if (math !== null) return math[0].trim()
      }
      return question
    }
  }
}

const clampNumber = (n: number, schema: JsonSchema): number => {
  let value = schema.type === "integer" ? Math.round(n) : n
  if (typeof schema.minimum === "number") value = Math.max(value, schema.minimum)
  if (typeof schema.maximum === "number") value = Math.min(value, schema.maximum)
  return value
}

const knownPlaces = [
  "New York",
  "San Francisco",
  "Los Angeles",
  "Mexico City",
  "São Paulo",
  "Buenos Aires",
  "Cape Town",
  "Hong Kong",
  "Paris",
  "Tokyo",
  "London",
  "Berlin",
  "Beijing",
  "Madrid",
  "Rome",
  "Sydney",
  "Moscow",
  "Cairo",
  "Lisbon",
  "Amsterdam",
  "Toronto",
  "Seoul",
  "Mumbai",
  "Delhi",
  "Dubai",
  "Singapore",
  "Chicago",
  "Boston",
  "Seattle",
  "Vienna",
  "Prague",
  "Oslo",
  "Stockholm",
  "Helsinki",
  "Dublin",
  "Zurich",
  "Bangkok",
  "Nairobi",
  "Istanbul",
  "Athens",
  "Warsaw",
  "Lagos",
  "Shanghai",
  "Sofia",
  "Barcelona",
  "Munich",
  "Kyoto",
  "Osaka",
  "Vancouver",
  "Montreal"
]

const notPlaces = new Set(
  "What Whats What's How Who When Where Which Is Are Tell Please Can Could Would Do Does Give Show Get And Or The I In For Weather Today Hi Hello Thanks Also Then Compare Check".split(
    " "
  )
)

/** Place names in a prompt, in order: known cities first, else capitalised words ("Paris and Tokyo"). */
export const extractPlaces = (text: string): ReadonlyArray<string> => {
  const found: Array<{ readonly at: number; readonly name: string }> = []
  const lower = text.toLowerCase()
  for (const place of knownPlaces) {
    const at = lower.search(new RegExp(`\\b${place.toLowerCase()}\\b`, "u")) // static-scan-allow: a constant place name, no metacharacters
    if (at !== -1 && !found.some((f) => f.name.includes(place))) found.push({ at, name: place })
  }
  if (found.length === 0) {
    for (const match of text.matchAll(/\p{Lu}[\p{Ll}'’-]+(?:\s+\p{Lu}[\p{Ll}'’-]+)*/gu)) {
      const name = match[0]
        .split(/\s+/)
        .filter((w) => !notPlaces.has(w))
        .join(" ")
      if (name.length > 1 && !found.some((f) => f.name === name)) found.push({ at: match.index ?? 0, name })
    }
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.name)
}

// ---------------------------------------------------------------------------------------------
// answers
// ---------------------------------------------------------------------------------------------

const summarise = (calls: ReadonlyArray<FunctionCall>, outputs: ReadonlyArray<FunctionCallOutput>): string =>
  calls
    .map((call) => {
      const args = parseJson(call.arguments)
      const label =
        typeof args === "object" && args !== null
          ? (Object.values(args).find((v): v is string => typeof v === "string") ?? call.name)
          : call.name
      const output = outputs.find((o) => o.call_id === call.call_id)
      if (output === undefined) return `${label}: no result.`
      const raw =
        typeof output.output === "string"
          ? output.output
          : output.output.map((part) => ("text" in part && typeof part.text === "string" ? part.text : "")).join("")
      return `${label}: ${describe(parseJson(raw), raw, label)}.`
    })
    .join(" ")

const describe = (value: unknown, raw: string, label: string): string => {
  if (typeof value !== "object" || value === null) return raw.trim().slice(0, 200).replace(/\.$/, "")
  const record = value as Record<string, unknown>
  if (typeof record.error === "object" && record.error !== null) {
    return `the tool failed (${String((record.error as { message?: unknown }).message ?? "error")})`
  }
  const parts = Object.entries(record).flatMap(([key, v]) => {
    if (v === label || v === null || typeof v === "object") return []
    return [typeof v === "number" ? withUnit(key, v) : String(v)]
  })
  return parts.length === 0 ? raw.slice(0, 200) : parts.join(", ")
}

// Units from key names in the usual spellings: `celsius`, `temp_c`, `temperatureC`, `wind_kmh`, `windKmh`.
const withUnit = (key: string, value: number): string => {
  if (/celsius|_c$|[a-z]C$/.test(key) || /celsius/i.test(key)) return `${value}°C`
  if (/fahrenheit|_f$|[a-z]F$/.test(key) || /fahrenheit/i.test(key)) return `${value}°F`
  if (/temp/i.test(key)) return `${value}°`
  if (/humidity|percent|pct/i.test(key)) return `${value}%`
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/_/g, " ")
    .toLowerCase()
  const speed = /^(.*?)\s*(kmh|kph|km h|mph)$/.exec(words)
  if (speed !== null) return `${speed[1] === "" ? "speed" : speed[1]} ${value} ${speed[2] === "mph" ? "mph" : "km/h"}`
  return `${words} ${value}`
}

const chat = (question: string): string => {
  const trimmed = question.trim().replace(/\s+/g, " ")
  if (trimmed === "") return "Hello! I am volley-local, a rule-based stand-in for a real model. Ask me something."
  const quoted = trimmed.length > 120 ? `${trimmed.slice(0, 117)}...` : trimmed
  return `You asked: "${quoted}". I am volley-local, a rule-based stand-in for a real model, so I can only echo your message and call the tools you offer. Set an API key to talk to a real model.`
}

const fromSchema = (schema: unknown, root: unknown, question: string, key: string, depth: number): unknown => {
  if (typeof schema !== "object" || schema === null || depth > 8) return null
  const s = schema as JsonSchema
  if (typeof s.$ref === "string") return fromSchema(resolveRef(s.$ref, root), root, question, key, depth + 1)
  if ("const" in s) return s.const
  if (Array.isArray(s.enum)) return s.enum[0]
  for (const union of ["anyOf", "oneOf"] as const) {
    const options = s[union]
    if (Array.isArray(options)) {
      const first = options.find((o) => (o as JsonSchema)?.type !== "null") ?? options[0]
      return fromSchema(first, root, question, key, depth + 1)
    }
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {}
      const properties = (s.properties ?? {}) as Record<string, unknown>
      for (const [name, sub] of Object.entries(properties)) out[name] = fromSchema(sub, root, question, name, depth + 1)
      return out
    }
    case "array": {
      const count = Math.max(1, typeof s.minItems === "number" ? s.minItems : 1)
      return Array.from({ length: count }, () => fromSchema(s.items, root, question, key, depth + 1))
    }
    case "number":
    case "integer":
      return argumentFor(key, s, question)
    case "boolean":
      return true
    case "null":
      return null
    default: {
      if (placeParam.test(key)) return extractPlaces(question)[0] ?? "Paris"
      if (s.format === "date") return "2026-01-01"
      if (s.format === "date-time") return "2026-01-01T00:00:00Z"
      if (s.format === "email") return "user@example.com"
      return key === "" ? "example" : `example ${key}`
    }
  }
}

// A structured answer after tool calls: the schema's shape, with top-level fields taken from the
// tool outputs where a key and type match, and prose fields (summary, answer, …) from the summary.
const structuredAnswer = (
  schema: unknown,
  question: string,
  summary: string,
  outputs: ReadonlyArray<FunctionCallOutput>
): unknown => {
  const value = fromSchema(schema, schema, question, "", 0)
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value
  const record = value as Record<string, unknown>
  const found = new Map<string, unknown>()
  for (const output of outputs) {
    const parsed = typeof output.output === "string" ? parseJson(output.output) : undefined
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) continue
    for (const [key, v] of Object.entries(parsed)) if (!found.has(key)) found.set(key, v)
  }
  for (const key of Object.keys(record)) {
    const current = record[key]
    const candidate = found.get(key)
    if (candidate !== undefined && typeof candidate === typeof current && typeof candidate !== "object") {
      record[key] = candidate
    } else if (typeof current === "string" && /summary|answer|text|description|note|reply/i.test(key)) {
      record[key] = summary
    }
  }
  return record
}

const resolveRef = (ref: string, root: unknown): unknown => {
  if (!ref.startsWith("#/")) return undefined
  let node: unknown = root
  for (const part of ref.slice(2).split("/")) {
    node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[part] : undefined
  }
  return node
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const isUserMessage = (item: InputItem): boolean =>
  (item.type === undefined || item.type === "message") && (item as { readonly role?: unknown }).role === "user"

const findLastIndex = <A>(items: ReadonlyArray<A>, f: (a: A) => boolean): number => {
  for (let i = items.length - 1; i >= 0; i--) if (f(items[i]!)) return i
  return -1
}

const parseJson = (text: string): unknown => {
  try {
    // boundary: tool output and arguments are untrusted text; anything unparsable is used verbatim
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
