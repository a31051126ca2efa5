/**
 * Responses output to effect/ai response parts: `fromResponse` maps a finished response (text,
 * refusals as text, reasoning summaries, function calls as tool calls, metadata, usage and the
 * finish reason); `StreamMapper` maps stream events one at a time to the streaming parts
 * (`text-start` / `-delta` / `-end`, `reasoning-*`, `tool-params-*`, `tool-call`, `finish`).
 * Gotcha: tool-call arguments are parsed here with effect/ai's guarded `Tool.unsafeSecureJsonParse`;
 * text that does not parse is passed on as a string, so effect/ai reports it as a parameter error.
 */
import type { ResponsesSchema } from "@volley/core"
import type * as Response from "effect/ai/Response"
import * as Tool from "effect/ai/Tool"

type Usage = Response.FinishPartEncoded["usage"]
type FinishReason = Response.FinishPartEncoded["reason"]

/** The parts of a finished (non-streaming) response. */
export const fromResponse = (response: ResponsesSchema.Response): Array<Response.PartEncoded> => {
  const parts: Array<Response.PartEncoded> = [metadataPart(response)]
  let calls = false
  let refused = false
  for (const item of response.output ?? []) {
    switch (item.type) {
      case "message":
        for (const part of item.content) {
          if (part.type === "output_text") parts.push({ type: "text", text: part.text })
          else if (part.type === "refusal") {
            refused = true
            parts.push({ type: "text", text: part.refusal })
          }
        }
        break
      case "function_call":
        calls = true
        parts.push({ type: "tool-call", id: item.call_id, name: item.name, params: parseArguments(item.arguments) })
        break
      case "reasoning": {
        const text = item.summary.flatMap((p) => ("text" in p && typeof p.text === "string" ? [p.text] : [])).join("\n")
        if (text !== "") parts.push({ type: "reasoning", text })
        break
      }
    }
  }
  parts.push({ type: "finish", reason: finishReason(response, calls, refused), usage: usageOf(response.usage) })
  return parts
}

/** Maps one stream's events to effect/ai stream parts, keeping what the next events need. */
export class StreamMapper {
  private readonly openText = new Set<string>()
  private readonly openReasoning = new Set<string>()
  /** function_call item id → call id and name */
  private readonly calls = new Map<string, { readonly callId: string; readonly name: string }>()
  private sawCalls = false
  private refused = false

  /** The parts for one event (often none). */
  push(event: ResponsesSchema.StreamEvent): Array<Response.StreamPartEncoded> {
    switch (event.type) {
      case "response.created":
        return [metadataPart(event.response)]
      case "response.output_text.delta":
        return this.textDelta(event.item_id ?? `text_${event.output_index}`, event.delta)
      case "response.refusal.delta":
        this.refused = true
        return this.textDelta(event.item_id ?? `text_${event.output_index}`, event.delta)
      case "response.reasoning_summary_text.delta": {
        const id = event.item_id ?? `reasoning_${event.output_index}`
        const start: Array<Response.StreamPartEncoded> = this.openReasoning.has(id)
          ? []
          : [{ type: "reasoning-start", id }]
        this.openReasoning.add(id)
        return [...start, { type: "reasoning-delta", id, delta: event.delta }]
      }
      case "response.output_item.added":
        if (event.item.type === "function_call") {
          const id = event.item.id ?? event.item.call_id
          this.calls.set(id, { callId: event.item.call_id, name: event.item.name })
          return [{ type: "tool-params-start", id: event.item.call_id, name: event.item.name }]
        }
        return []
      case "response.function_call_arguments.delta": {
        const call = this.calls.get(event.item_id ?? "")
        return call === undefined ? [] : [{ type: "tool-params-delta", id: call.callId, delta: event.delta }]
      }
      case "response.output_item.done":
        return this.itemDone(event.item)
      case "response.completed":
      case "response.incomplete":
        return [
          ...this.closeAll(),
          {
            type: "finish",
            reason: finishReason(event.response, this.sawCalls, this.refused),
            usage: usageOf(event.response.usage)
          }
        ]
      default:
        return []
    }
  }

  private textDelta(id: string, delta: string): Array<Response.StreamPartEncoded> {
    const start: Array<Response.StreamPartEncoded> = this.openText.has(id) ? [] : [{ type: "text-start", id }]
    this.openText.add(id)
    return [...start, { type: "text-delta", id, delta }]
  }

  private itemDone(item: ResponsesSchema.OutputItem): Array<Response.StreamPartEncoded> {
    const id = "id" in item && typeof item.id === "string" ? item.id : undefined
    if (item.type === "function_call") {
      this.sawCalls = true
      const started = this.calls.has(item.id ?? item.call_id)
      this.calls.delete(item.id ?? item.call_id)
      return [
        ...(started
          ? []
          : [{ type: "tool-params-start", id: item.call_id, name: item.name } as Response.StreamPartEncoded]),
        { type: "tool-params-end", id: item.call_id },
        { type: "tool-call", id: item.call_id, name: item.name, params: parseArguments(item.arguments) }
      ]
    }
    if (item.type === "message" && id !== undefined && this.openText.delete(id)) return [{ type: "text-end", id }]
    if (item.type === "reasoning" && id !== undefined && this.openReasoning.delete(id))
      return [{ type: "reasoning-end", id }]
    return []
  }

  private closeAll(): Array<Response.StreamPartEncoded> {
    const parts: Array<Response.StreamPartEncoded> = []
    for (const id of this.openText) parts.push({ type: "text-end", id })
    for (const id of this.openReasoning) parts.push({ type: "reasoning-end", id })
    this.openText.clear()
    this.openReasoning.clear()
    return parts
  }
}

const metadataPart = (response: ResponsesSchema.Response): Response.ResponseMetadataPartEncoded => ({
  type: "response-metadata",
  id: response.id,
  ...(typeof response.model === "string" ? { modelId: response.model } : {}),
  ...(typeof response.created_at === "number" ? { timestamp: new Date(response.created_at * 1000).toISOString() } : {})
})

const finishReason = (response: ResponsesSchema.Response, calls: boolean, refused: boolean): FinishReason => {
  if (response.status === "incomplete") {
    const reason = response.incomplete_details?.reason
    return reason === "max_output_tokens" ? "length" : reason === "content_filter" ? "content-filter" : "other"
  }
  if (response.status === "failed") return "error"
  if (refused) return "content-filter"
  return calls ? "tool-calls" : "stop"
}

const usageOf = (usage: ResponsesSchema.Response["usage"]): Usage => {
  if (usage == null) return { inputTokens: {}, outputTokens: {} }
  const cached = usage.input_tokens_details?.cached_tokens ?? undefined
  const reasoning = usage.output_tokens_details?.reasoning_tokens ?? undefined
  return {
    inputTokens: {
      total: usage.input_tokens,
      ...(cached === undefined ? {} : { cacheRead: cached, uncached: usage.input_tokens - cached })
    },
    outputTokens: {
      total: usage.output_tokens,
      ...(reasoning === undefined ? {} : { reasoning, text: usage.output_tokens - reasoning })
    }
  }
}

/**
 * The model's argument text, parsed with effect/ai's guarded parser (no `__proto__` keys); a boundary
 * with a throwing API: unparsable text stays a string, which effect/ai then reports as bad parameters.
 */
const parseArguments = (text: string): unknown => {
  try {
    return Tool.unsafeSecureJsonParse(text === "" ? "{}" : text)
  } catch {
    return text
  }
}
