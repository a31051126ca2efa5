/**
 * `volley-local`: a deterministic, rule-based stand-in for a real model, so the demo and examples
 * run with no API key (it reports the model name `volley-local`). With tools offered it calls every
 * tool the latest user message mentions, several in one turn (one call per place for a place
 * parameter: "weather in Paris and the time in Tokyo" gives `get_weather` and `get_time`), filling
 * other parameters from the tool's JSON Schema and the prompt (enums named in it, numbers, quoted
 * strings, noun phrases; never the whole prompt). Steps asked in order ("find X, then Y") run in
 * later rounds fed by earlier outputs (ids, cities); once no call is left, or an output is an error,
 * or `maxToolRounds` is reached, it answers from the outputs. With a `json_schema` text format it
 * answers JSON fitting the schema; otherwise a short honest message. Entry points: `respond`,
 * `responder` (a script step), `layer`. Gotcha: it is stateless, like the real API: the round it is
 * in is read from the calls already in the request's history, so the same request gives the same turn.
 */
import type { CreateRequest, FunctionCall, FunctionCallOutput, InputItem } from "@volley/core/ResponsesSchema"
import type * as Layer from "effect/Layer"
import { chat, failureOf, schemaAnswer, structuredAnswer, summarise } from "./internal/localAnswer.ts"
import { callsFor, chainOf, emptyChain, planRounds } from "./internal/localPlan.ts"
import * as LocalText from "./internal/localText.ts"
import { estimateTokens } from "./internal/render.ts"
import { inputItems, messageText } from "./RecordedRequest.ts"
import * as ResponsesServer from "./ResponsesServer.ts"
import * as ScriptedModel from "./ScriptedModel.ts"

/** The model name the local model reports. */
export const modelName = "volley-local"

/** The line the demo and `serve --local` print on stderr. */
export const notice = "volley: using the built-in volley-local model (rule-based, no API key, not a real LLM)"

/** At most this many rounds of tool calls answer one user message; then it answers from the outputs. */
export const maxToolRounds = 4

/** The turn volley-local answers `request` with. */
export const respond = (request: CreateRequest): ScriptedModel.Turn => {
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
const decide = (request: CreateRequest): ScriptedModel.Turn => {
  const items = inputItems(request)
  const lastUser = findLastIndex(items, isUserMessage)
  const question = lastUser === -1 ? "" : messageText(items[lastUser]!)
  const before = items.slice(0, Math.max(0, lastUser))
  const after = items.slice(lastUser + 1)
  const calls = after.filter((item): item is FunctionCall => item.type === "function_call")
  const outputs = after.filter((item): item is FunctionCallOutput => item.type === "function_call_output")
  const format = request.text?.format
  const rounds = planRounds(
    request,
    question,
    before.filter((item): item is FunctionCall => item.type === "function_call")
  )
  const done = roundsDone(after)
  const settled = calls.every((call) => outputs.some((o) => o.call_id === call.call_id))
  const failed = outputs.some((output) => failureOf(output) !== undefined)
  const next =
    settled && !failed && done < maxToolRounds && done < rounds.length
      ? callsFor(rounds[done]!, question, done === 0 ? emptyChain : chainOf(outputs))
      : []
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

// The batches of calls made since the user spoke: each run of consecutive `function_call` items is one.
const roundsDone = (items: ReadonlyArray<InputItem>): number => {
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

const isUserMessage = (item: InputItem): boolean =>
  (item.type === undefined || item.type === "message") && (item as { readonly role?: unknown }).role === "user"

const findLastIndex = <A>(items: ReadonlyArray<A>, f: (a: A) => boolean): number => {
  for (let i = items.length - 1; i >= 0; i--) if (f(items[i]!)) return i
  return -1
}
