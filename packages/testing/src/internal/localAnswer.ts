/**
 * volley-local's final answers: `summarise` turns the calls of one question and their outputs into
 * a message ("Paris: 18°C, light rain. Tokyo: 24°C, clear."), with units read from key names and
 * error outputs (`{"error": …}`) reported as failures; `structuredAnswer` builds a `json_schema`
 * answer from the outputs; `chat` is the honest reply when no tool fits. All pure.
 * Gotcha: only primitive fields (and short lists of them) of an output are described; nested
 * objects are skipped, so a deep output summarises to its top-level facts.
 */
import { outputText, parseJson } from "./localPlan.ts"
import { valueFor } from "./localValues.ts"
import type { ResponsesSchema } from "@volley/core"

/** A short description of a tool failure, when `output` is an error (`{"error": …}`). */
export const failureOf = (output: ResponsesSchema.FunctionCallOutput): string | undefined => {
  const parsed = parseJson(outputText(output))
  if (typeof parsed !== "object" || parsed === null || !("error" in parsed)) return undefined
  const error = (parsed as { readonly error: unknown }).error
  if (error === null || error === undefined || error === false) return undefined
  if (typeof error !== "object") return `the tool failed (${String(error).slice(0, 200)})`
  const { type, message } = error as { readonly type?: unknown; readonly message?: unknown }
  const text = typeof message === "string" ? message.slice(0, 200) : "error"
  return type === "rejected" ? `the call was rejected (${text})` : `the tool failed (${text})`
}

/** The message after tool calls: one sentence per call, labelled by its first string argument. */
export const summarise = (
  calls: ReadonlyArray<ResponsesSchema.FunctionCall>,
  outputs: ReadonlyArray<ResponsesSchema.FunctionCallOutput>
): string =>
  calls
    .slice(0, 32)
    .map((call) => {
      const args = parseJson(call.arguments)
      const label =
        typeof args === "object" && args !== null
          ? (Object.values(args).find((v): v is string => typeof v === "string") ?? call.name)
          : call.name
      const output = outputs.find((o) => o.call_id === call.call_id)
      if (output === undefined) return `${label}: no result.`
      const failure = failureOf(output)
      if (failure !== undefined) return `${label}: ${failure}.`
      const raw = outputText(output)
      return `${label}: ${describe(parseJson(raw), raw, label)}.`
    })
    .join(" ")

const describe = (value: unknown, raw: string, label: string): string => {
  if (typeof value === "string") return value.trim().slice(0, 200).replace(/\.$/, "")
  if (typeof value !== "object" || value === null) return raw.trim().slice(0, 200).replace(/\.$/, "")
  const entries = Array.isArray(value) ? [["items", value] as const] : Object.entries(value).slice(0, 32)
  const parts = entries.flatMap(([key, v]) => {
    if (v === label || v === null) return []
    if (Array.isArray(v)) {
      const listed = v.filter((x) => typeof x !== "object" || x === null).slice(0, 5)
      return listed.length === 0 ? [] : [`${spaced(key)}: ${listed.map(String).join(", ")}`]
    }
    if (typeof v === "object") return []
    return [typeof v === "number" ? withUnit(key, v) : String(v)]
  })
  return parts.length === 0 ? raw.slice(0, 200) : parts.join(", ")
}

const spaced = (key: string): string =>
  key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/_/g, " ")
    .toLowerCase()

// Units from key names in the usual spellings: `celsius`, `temp_c`, `temperatureC`, `wind_kmh`, `windKmh`.
const withUnit = (key: string, value: number): string => {
  if (/celsius|_c$|[a-z]C$/.test(key) || /celsius/i.test(key)) return `${value}°C`
  if (/fahrenheit|_f$|[a-z]F$/.test(key) || /fahrenheit/i.test(key)) return `${value}°F`
  if (/temp/i.test(key)) return `${value}°`
  if (/humidity|percent|pct/i.test(key)) return `${value}%`
  const words = spaced(key)
  const speed = /^(.*?)\s*(kmh|kph|km h|mph)$/.exec(words)
  if (speed !== null) return `${speed[1] === "" ? "speed" : speed[1]} ${value} ${speed[2] === "mph" ? "mph" : "km/h"}`
  return `${words} ${value}`
}

/** The reply when no tool fits: the question echoed and what volley-local is. */
export const chat = (question: string): string => {
  const trimmed = question.trim().replace(/\s+/g, " ")
  if (trimmed === "") return "Hello! I am volley-local, a rule-based stand-in for a real model. Ask me something."
  const quoted = trimmed.length > 120 ? `${trimmed.slice(0, 117)}...` : trimmed
  return `You asked: "${quoted}". I am volley-local, a rule-based stand-in for a real model, so I can only echo your message and call the tools you offer. Set an API key to talk to a real model.`
}

/** A `json_schema` answer with no tool outputs: the schema's shape filled from the prompt. */
export const schemaAnswer = (schema: unknown, question: string): unknown =>
  valueFor(schema, "", {
    mode: "answer",
    question,
    clause: question,
    places: [],
    chained: [],
    root: schema,
    quoted: []
  })

/**
 * A `json_schema` answer after tool calls: the schema's shape, with top-level fields taken from the
 * tool outputs where a key and type match, and prose fields (summary, answer, …) from the summary.
 */
export const structuredAnswer = (
  schema: unknown,
  question: string,
  summary: string,
  outputs: ReadonlyArray<ResponsesSchema.FunctionCallOutput>
): unknown => {
  const value = schemaAnswer(schema, question)
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value
  const record = value as Record<string, unknown>
  const found = new Map<string, unknown>()
  for (const output of outputs) {
    const parsed = parseJson(outputText(output))
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
