/**
 * volley-local's tool planning: which tools a prompt asks for, in which rounds, and with which
 * arguments. `planRounds` splits the prompt into segments done in order ("…, then …"); in each, every
 * clause (between "and", commas, sentence ends) names at most one tool, the one its words weigh most,
 * which gets the places and the text that follow its mention; a step needing an id the prompt does
 * not give moves to the next round. `callsFor` turns a step into calls (one per place for a place
 * parameter), reading earlier outputs (`chainOf`) for chained values. Gotcha: the plan is recomputed
 * from the prompt on every request and the caller picks the round from the calls in the history.
 */
import {
  type Found,
  maxText,
  placesAt,
  quotedAt,
  sentences,
  sequenceSegments,
  unique,
  wordsAt,
  extractPlaces
} from "./localText.ts"
import {
  type FillContext,
  idKey,
  idToken,
  isPlaceProperty,
  type JsonSchema,
  maxDepth,
  placeParam,
  valueFor
} from "./localValues.ts"
import type { ResponsesSchema } from "@volley/core"

/** A function tool offered in the request, with its matching words (name words weigh 2, description words 1, verbs like "find" 0.5). */
export interface ToolInfo {
  readonly name: string
  readonly parameters: JsonSchema
  readonly keywords: ReadonlyMap<string, number>
}

/** One tool to call in a round: the clause of the prompt it is for and the places it is about. */
export interface Step {
  readonly tool: ToolInfo
  readonly clause: string
  readonly places: ReadonlyArray<string>
  /** True when the only quoted strings to use are the clause's own (several steps share the prompt). */
  readonly shared: boolean
}

/** A planned call. */
export interface PlannedCall {
  readonly name: string
  readonly arguments: Record<string, unknown>
}

const genericVerbs = new Set(["find", "list", "search", "look", "lookup", "fetch", "check", "show", "read"])

// A few words people use for the demo's tools without naming them ("Is it raining in Oslo?").
const synonyms: Readonly<Record<string, ReadonlyArray<string>>> = {
  weather: ["forecast", "rain", "raining", "rainy", "sunny", "snow", "snowing", "temperature", "umbrella", "windy"],
  time: ["clock", "hour", "o'clock"]
}

/** At most this many calls in one turn. */
export const maxCallsPerTurn = 8

/** The function tools of a request (none when `tool_choice` is `"none"`). */
export const functionTools = (request: ResponsesSchema.CreateRequest): ReadonlyArray<ToolInfo> => {
  if (request.tool_choice === "none") return []
  return (request.tools ?? []).slice(0, 128).flatMap((tool) => {
    if (tool.type !== "function") return []
    const t = tool as { readonly name: string; readonly description?: string | null; readonly parameters?: unknown }
    const parameters = typeof t.parameters === "object" && t.parameters !== null ? (t.parameters as JsonSchema) : {}
    const keywords = new Map<string, number>()
    const add = (text: string, weight: number) => {
      for (const { text: word } of wordsAt(text)) {
        // a generic request verb ("find" in find_customer) weighs less than any word of substance
        const w = genericVerbs.has(word) ? 0.5 : weight
        for (const each of [word, ...(synonyms[word] ?? [])]) keywords.set(each, Math.max(keywords.get(each) ?? 0, w))
      }
    }
    add(t.description ?? "", 1)
    add(t.name.replace(/[_-]/g, " "), 2)
    return [{ name: t.name, parameters, keywords }]
  })
}

/** The rounds of steps the latest user message asks for; `[]` when no tool fits. */
export const planRounds = (
  request: ResponsesSchema.CreateRequest,
  question: string,
  earlierCalls: ReadonlyArray<ResponsesSchema.FunctionCall>
): ReadonlyArray<ReadonlyArray<Step>> => {
  const tools = functionTools(request)
  if (tools.length === 0) return []
  const choice = request.tool_choice
  const whole = (tool: ToolInfo): Step => ({ tool, clause: question, places: extractPlaces(question), shared: false })
  if (typeof choice === "object" && choice !== null && choice.type === "function" && "name" in choice) {
    const forced = tools.find((tool) => tool.name === choice.name)
    return forced === undefined ? [] : [[whole(forced)]]
  }
  const places = placesAt(question)
  const rounds: Array<ReadonlyArray<Step>> = []
  let previous: ToolInfo | undefined
  for (const [start, end] of sequenceSegments(question)) {
    const mentions = mentionsIn(question, start, end, tools)
    const inSegment = places.filter((p) => p.at >= start && p.at < end)
    if (mentions.length === 0) {
      // "Weather in Paris, then Tokyo": a step naming only places repeats the previous step's tool.
      if (previous !== undefined && takesPlace(previous) && inSegment.length > 0) {
        const step = { tool: previous, clause: question.slice(start, end), places: names(inSegment), shared: true }
        rounds.push([step])
      }
      continue
    }
    // a later round may take its places from earlier outputs, so only the first drops place-less steps
    const steps = stepsOf(question, start, end, mentions, inSegment).filter(
      (step) => rounds.length > 0 || step.places.length > 0 || !requiresPlace(step.tool)
    )
    // "find customer Grace and list her orders": a step needing an id the prompt does not give waits
    // for the outputs of the steps before it, as if the prompt had said "then"
    const waiting = steps.filter((step, i) => i > 0 && needsEarlierId(step))
    const ready = steps.filter((step) => !waiting.includes(step))
    for (const round of [ready, waiting]) if (round.length > 0) rounds.push(round)
    previous = steps.at(-1)?.tool ?? previous
  }
  if (rounds.length > 0) return rounds
  if (choice === "required") return [[whole(tools[0]!)]]
  // A follow-up ("And in Berlin?") reuses the tool the conversation used last, if still offered.
  const reused = tools.find((tool) => tool.name === earlierCalls.at(-1)?.name)
  return reused !== undefined && takesPlace(reused) && places.length > 0 ? [[whole(reused)]] : []
}

interface Mention {
  readonly at: number
  readonly tool: ToolInfo
}

// Each chunk of the prompt (between "and", commas and sentence ends) mentions at most one tool: the
// one its words weigh most (see `ToolInfo.keywords`), on a tie the one named first, and
// none when that is still a tie. "find orders for customer c_9" asks for orders, not also a customer.
const mentionsIn = (text: string, start: number, end: number, tools: ReadonlyArray<ToolInfo>): Array<Mention> => {
  const words = wordsAt(text.slice(start, end)).map((w) => ({ at: start + w.at, text: w.text }))
  const bounds = [start, ...chunkStarts(text, start, end), end]
  return bounds.slice(1).flatMap((chunkEnd, i) => {
    const inChunk = words.filter((w) => w.at >= bounds[i]! && w.at < chunkEnd)
    const ranked = tools.flatMap((tool) => {
      const hits = inChunk.filter((w) => tool.keywords.has(w.text))
      const score = hits.reduce((sum, w) => sum + tool.keywords.get(w.text)!, 0)
      return hits.length === 0 ? [] : [{ tool, score, at: hits[0]!.at }]
    })
    ranked.sort((x, y) => y.score - x.score || x.at - y.at)
    const [first, second] = ranked
    if (first === undefined) return []
    return second !== undefined && second.score === first.score && second.at === first.at ? [] : [first]
  })
}

// Where the chunks of [start, end) begin: after " and ", a comma, a semicolon or a sentence end.
const chunkStarts = (text: string, start: number, end: number): ReadonlyArray<number> =>
  [...text.slice(start, end).matchAll(/\s+and\s+|[,;]\s*|[.?!](?:\s+|$)/g)].map(
    (m) => start + (m.index ?? 0) + m[0].length
  )

const stepsOf = (
  text: string,
  start: number,
  end: number,
  mentions: ReadonlyArray<Mention>,
  places: ReadonlyArray<Found>
): Array<Step> => {
  const firsts: Array<Mention> = []
  for (const mention of mentions) if (!firsts.some((m) => m.tool === mention.tool)) firsts.push(mention)
  // each place goes to the nearest place-taking mention before it (or the first one after it)
  const placesOf = new Map<ToolInfo, Array<string>>()
  const placeTaking = mentions.filter((m) => takesPlace(m.tool))
  for (const place of places) {
    const owner = placeTaking.filter((m) => m.at < place.at).at(-1) ?? placeTaking[0]
    if (owner !== undefined) placesOf.set(owner.tool, [...(placesOf.get(owner.tool) ?? []), place.text])
  }
  const clauses = clausesOf(text, start, end, firsts)
  return firsts.map((mention, i): Step => {
    let own = unique(placesOf.get(mention.tool) ?? [])
    if (own.length === 0 && takesPlace(mention.tool)) {
      // "weather and time in Paris": a tool without places borrows the next (else previous) tool's
      const next = [...firsts.slice(i + 1), ...firsts.slice(0, i).reverse()].find((m) => placesOf.has(m.tool))
      own = next === undefined ? [] : unique(placesOf.get(next.tool)!)
    }
    return { tool: mention.tool, clause: clauses[i]!, places: own, shared: firsts.length > 1 }
  })
}

// Each step's clause: its sentence, cut between two steps at the last "and" or comma before the next mention.
const clausesOf = (text: string, start: number, end: number, firsts: ReadonlyArray<Mention>): Array<string> => {
  const bounds = sentences(text).map(([s, e]) => [Math.max(s, start), Math.min(e, end)] as const)
  return firsts.map((mention, i) => {
    const [sentenceStart, sentenceEnd] = bounds.find(([s, e]) => mention.at >= s && mention.at < e) ?? [start, end]
    const cut = (from: number, to: number): number => {
      const between = text.slice(from, to)
      const separators = [...between.matchAll(/\s+and\s+|,\s*/g)]
      const last = separators.at(-1)
      return last === undefined ? to : from + (last.index ?? 0)
    }
    const previous = firsts[i - 1]
    const next = firsts[i + 1]
    const from = previous !== undefined && previous.at >= sentenceStart ? cut(previous.at, mention.at) : sentenceStart
    const to = next !== undefined && next.at < sentenceEnd ? cut(mention.at, next.at) : sentenceEnd
    return text.slice(from, to)
  })
}

const propertiesOf = (tool: ToolInfo): Record<string, JsonSchema> =>
  (typeof tool.parameters.properties === "object" && tool.parameters.properties !== null
    ? tool.parameters.properties
    : {}) as Record<string, JsonSchema>

const placeKeyOf = (tool: ToolInfo): string | undefined =>
  Object.entries(propertiesOf(tool)).find(
    ([key, schema]) => isPlaceProperty(key, schema) && (schema.type === "string" || schema.type === undefined)
  )?.[0]

const takesPlace = (tool: ToolInfo): boolean => placeKeyOf(tool) !== undefined

const requiresPlace = (tool: ToolInfo): boolean => {
  const key = placeKeyOf(tool)
  return key !== undefined && Array.isArray(tool.parameters.required) && tool.parameters.required.includes(key)
}

// A required id parameter that the step's clause gives no value for (no id-like token, no quote).
const needsEarlierId = (step: Step): boolean => {
  const required = Array.isArray(step.tool.parameters.required) ? step.tool.parameters.required : []
  const wantsId = Object.keys(propertiesOf(step.tool)).some((key) => idKey.test(key) && required.includes(key))
  return wantsId && idToken(step.clause) === undefined && quotedAt(step.clause).length === 0
}

const names = (found: ReadonlyArray<Found>): ReadonlyArray<string> => unique(found.map((f) => f.text))

/** What earlier tool outputs of this question offer a chained step: key/value pairs, places, their text. */
export interface Chain {
  readonly pairs: ReadonlyArray<readonly [string, unknown]>
  readonly places: ReadonlyArray<string>
}

/** No earlier outputs. */
export const emptyChain: Chain = { pairs: [], places: [] }

const maxPairs = 256

/** The chain offered by `outputs` (JSON walked to `maxDepth`, at most `maxPairs` pairs; text scanned for places and ids). */
export const chainOf = (outputs: ReadonlyArray<ResponsesSchema.FunctionCallOutput>): Chain => {
  const pairs: Array<readonly [string, unknown]> = []
  const keyed: Array<string> = []
  const texts: Array<string> = []
  const walk = (value: unknown, key: string, depth: number): void => {
    if (pairs.length >= maxPairs || depth > maxDepth) return
    if (Array.isArray(value)) {
      for (const item of value.slice(0, 32)) walk(item, key, depth + 1)
    } else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value).slice(0, 64)) walk(v, k, depth + 1)
    } else {
      pairs.push([key, value])
      if (typeof value === "string") {
        texts.push(value)
        if (placeParam.test(key)) keyed.push(value)
      }
    }
  }
  for (const output of outputs) {
    const raw = outputText(output).slice(0, maxText)
    const parsed = parseJson(raw)
    if (typeof parsed === "object" && parsed !== null) walk(parsed, "", 0)
    else texts.push(typeof parsed === "string" ? parsed : raw)
  }
  const text = texts.join(". ").slice(0, maxText)
  const id = idToken(text)
  if (id !== undefined && !pairs.some(([k]) => /(?:^|_)id$|Id$/.test(k))) pairs.push(["id", id])
  // from free text only known places: capitalised words there are names as often as places
  return { pairs, places: unique(keyed.length > 0 ? keyed : extractPlaces(text, true)) }
}

/** The calls of one round: one per step, or one per place for a step whose tool takes a place. */
export const callsFor = (steps: ReadonlyArray<Step>, question: string, chain: Chain): ReadonlyArray<PlannedCall> =>
  steps
    .flatMap((step) => {
      const placeKey = placeKeyOf(step.tool)
      const places = step.places.length > 0 ? step.places : placeKey === undefined ? [] : chain.places
      if (placeKey !== undefined && places.length === 0 && requiresPlace(step.tool)) return []
      const targets: ReadonlyArray<string | undefined> =
        placeKey === undefined || places.length === 0 ? [undefined] : places
      return targets.map((place): PlannedCall => {
        const context: FillContext = {
          mode: "arguments",
          question,
          clause: step.clause,
          places: place === undefined ? [] : [place],
          chained: chain.pairs,
          root: step.tool.parameters,
          toolWords: new Set([...step.tool.keywords].flatMap(([word, weight]) => (weight === 2 ? [word] : []))),
          quoted: quotedAt(step.shared || quotedAt(step.clause).length > 0 ? step.clause : question).map((q) => q.text)
        }
        const args = valueFor({ ...step.tool.parameters, type: "object" }, "", context) as Record<string, unknown>
        return {
          name: step.tool.name,
          arguments: place === undefined || placeKey === undefined ? args : { [placeKey]: place, ...args }
        }
      })
    })
    .slice(0, maxCallsPerTurn)

/** The text of a tool output (string, or the text parts of a content list). */
export const outputText = (output: ResponsesSchema.FunctionCallOutput): string =>
  typeof output.output === "string"
    ? output.output
    : output.output.map((part) => ("text" in part && typeof part.text === "string" ? part.text : "")).join("")

/** `text` parsed as JSON, or undefined. */
export const parseJson = (text: string): unknown => {
  try {
    // boundary: tool output and arguments are untrusted text; anything unparsable is used verbatim
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
