/**
 * `volley-local`: a deterministic, rule-based stand-in for a real model (model name `volley-local`),
 * so the demo and examples run with no API key. With tools offered it calls every tool the latest
 * user message mentions, several in one turn, filling their parameters from each tool's JSON Schema
 * and the prompt (places, enums, numbers, quoted strings, noun phrases; never the whole prompt);
 * steps asked in order ("find X, then Y") run in later rounds fed by earlier outputs, one call a turn
 * under `parallel_tool_calls: false`. Once no call is left, an output is an error or `maxToolRounds`
 * is reached, it answers from the outputs (as JSON fitting a `json_schema` text format), and with no
 * tool to call it says what it is. Entry points: `respond`, `responder` (a script step), `layer`.
 * Gotcha: it is stateless like the real API: the round is read from the calls in the request's
 * history, so the same request always gives the same turn.
 */
import type * as Layer from "effect/Layer"
import { chat, failureOf, schemaAnswer, structuredAnswer, summarise } from "./internal/localAnswer.ts"
import { callsFor, chainOf, emptyChain, type PlannedCall, planRounds, type Step } from "./internal/localPlan.ts"
import * as LocalText from "./internal/localText.ts"
import { estimateTokens } from "./internal/render.ts"
import { inputItems, messageText } from "./RecordedRequest.ts"
import * as ResponsesServer from "./ResponsesServer.ts"
import * as ScriptedModel from "./ScriptedModel.ts"
import type { ResponsesSchema } from "@volley/core"

/** The model name the local model reports. */
export const modelName = "volley-local"

/** The line the demo and `serve --local` print on stderr. */
export const notice = "volley: using the built-in volley-local model (rule-based, no API key, not a real LLM)"

/** At most this many rounds of tool calls answer one user message; then it answers from the outputs. */
export const maxToolRounds = 4

/** The turn volley-local answers `request` with. */
export const respond = (request: ResponsesSchema.CreateRequest): ScriptedModel.Turn => {
  const turn = decide(request)
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

/** Place names in a prompt, in order: known cities first, else capitalised words ("Paris and Tokyo"). */
export const extractPlaces = (text: string): ReadonlyArray<string> => LocalText.extractPlaces(text)

// The decision: the next round of calls the prompt asks for, else the final answer.
const decide = (request: ResponsesSchema.CreateRequest): ScriptedModel.Turn => {
  const items = inputItems(request)
  const lastUser = findLastIndex(items, isUserMessage)
  const question = lastUser === -1 ? "" : messageText(items[lastUser]!)
  const before = items.slice(0, Math.max(0, lastUser))
  const after = items.slice(lastUser + 1)
  const calls = after.filter((item): item is ResponsesSchema.FunctionCall => item.type === "function_call")
  const outputs = after.filter(
    (item): item is ResponsesSchema.FunctionCallOutput => item.type === "function_call_output"
  )
  const format = request.text?.format
  const rounds = planRounds(
    request,
    question,
    before.filter((item): item is ResponsesSchema.FunctionCall => item.type === "function_call")
  )
  const settled = calls.every((call) => outputs.some((o) => o.call_id === call.call_id))
  const failed = outputs.some((output) => failureOf(output) !== undefined)
  const next = !settled || failed ? [] : nextCalls(rounds, question, after, request.parallel_tool_calls === false)
  if (next.length > 0)
    return ScriptedModel.turn(...next.map((call) => ScriptedModel.functionCall(call.name, call.arguments)))
  if (calls.length > 0) {
    const summary = summarise(calls, outputs)
    return ScriptedModel.message(
      format?.type === "json_schema"
        ? JSON.stringify(structuredAnswer(format.schema, question, summary, outputs))
        : summary
    )
  }
  return ScriptedModel.message(
    format?.type === "json_schema" ? JSON.stringify(schemaAnswer(format.schema, question)) : chat(question)
  )
}

// The calls of the next round: the round index is the number of batches of calls since the user
// spoke. With `parallel_tool_calls: false` one call a turn: the calls made so far are matched
// against the planned rounds in order, and the first planned call not made yet comes next.
const nextCalls = (
  rounds: ReadonlyArray<ReadonlyArray<Step>>,
  question: string,
  after: ReadonlyArray<ResponsesSchema.InputItem>,
  oneAtATime: boolean
): ReadonlyArray<PlannedCall> => {
  const calls = after.filter((item): item is ResponsesSchema.FunctionCall => item.type === "function_call")
  const outputs = after.filter(
    (item): item is ResponsesSchema.FunctionCallOutput => item.type === "function_call_output"
  )
  const last = Math.min(rounds.length, maxToolRounds)
  if (!oneAtATime) {
    const done = batches(after)
    return done < last ? callsFor(rounds[done]!, question, done === 0 ? emptyChain : chainOf(outputs)) : []
  }
  let made = 0
  for (let round = 0; round < last; round++) {
    const earlier = new Set(calls.slice(0, made).map((call) => call.call_id))
    const chain = round === 0 ? emptyChain : chainOf(outputs.filter((output) => earlier.has(output.call_id)))
    const planned = callsFor(rounds[round]!, question, chain)
    if (calls.length - made < planned.length) return planned.slice(calls.length - made, calls.length - made + 1)
    made += planned.length
  }
  return []
}

// The batches of calls made since the user spoke: each run of consecutive `function_call` items is one.
const batches = (items: ReadonlyArray<ResponsesSchema.InputItem>): number => {
  let count = 0
  let inBatch = false
  for (const item of items) {
    const isCall = item.type === "function_call"
    if (isCall && !inBatch) count++
    inBatch = isCall
  }
  return count
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const isUserMessage = (item: ResponsesSchema.InputItem): boolean =>
  (item.type === undefined || item.type === "message") && (item as { readonly role?: unknown }).role === "user"

const findLastIndex = <A>(items: ReadonlyArray<A>, f: (a: A) => boolean): number => {
  for (let i = items.length - 1; i >= 0; i--) if (f(items[i]!)) return i
  return -1
}
