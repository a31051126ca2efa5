/**
 * What the local server received: one `RecordedRequest` per HTTP request (method, path, headers,
 * raw and decoded body, arrival time, connection), plus helpers to assert on them: `inputItems`,
 * `lastUserText`, `toolNames`, `functionCallOutputs`, `headersWithoutKey`. Headers are recorded in
 * full (so tests can check the key and idempotency headers); use `headersWithoutKey` when printing.
 * Gotcha: `body` is undefined for a request that failed validation (it was answered with a 400).
 */
import type { ResponsesSchema } from "@volley/core"

/** One request as the server received it. */
export interface RecordedRequest {
  /** 0-based position among all requests the server received. */
  readonly index: number
  readonly method: string
  /** Path and query, e.g. `/v1/responses`. */
  readonly path: string
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>
  readonly rawBody: string
  /** The decoded body; undefined when the request was invalid (answered with 400). */
  readonly body: ResponsesSchema.CreateRequest | undefined
  /** Milliseconds on the server's Effect clock (virtual under `TestClock`). */
  readonly receivedAt: number
  /** The connection it arrived on (see `ResponsesServer.connectionLog`); -1 in memory. */
  readonly connectionId: number
  /** A fault injected by the server's `chaos` option instead of the handler, if any. */
  readonly injected?: string | undefined
}

const keyHeaders = new Set(["authorization", "api-key", "x-api-key", "x-amz-security-token", "cookie", "set-cookie"])

const isRecorded = (u: RecordedRequest | ResponsesSchema.CreateRequest): u is RecordedRequest =>
  typeof (u as { readonly rawBody?: unknown }).rawBody === "string" &&
  typeof (u as { readonly index?: unknown }).index === "number"

const bodyOf = (request: RecordedRequest | ResponsesSchema.CreateRequest): ResponsesSchema.CreateRequest | undefined =>
  isRecorded(request) ? request.body : request

/** The headers with credentials (`authorization`, `api-key`, `x-api-key`, cookies, …) removed. */
export const headersWithoutKey = (request: RecordedRequest): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) if (!keyHeaders.has(name)) out[name] = value
  return out
}

/** The request's input as items (a string input becomes one user message). */
export const inputItems = (
  request: RecordedRequest | ResponsesSchema.CreateRequest
): ReadonlyArray<ResponsesSchema.InputItem> => {
  const body = bodyOf(request)
  if (body === undefined) return []
  return typeof body.input === "string" ? [{ type: "message", role: "user", content: body.input }] : body.input
}

/** The text of a message item's content (string or parts). */
export const messageText = (item: ResponsesSchema.InputItem): string => {
  if (item.type !== undefined && item.type !== "message") return ""
  const content = (item as { readonly content?: unknown }).content
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content.map((part: { readonly text?: unknown }) => (typeof part.text === "string" ? part.text : "")).join("")
}

/** The text of the latest user message, or "" if there is none. */
export const lastUserText = (request: RecordedRequest | ResponsesSchema.CreateRequest): string => {
  const items = inputItems(request)
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!
    if ((item.type === undefined || item.type === "message") && (item as { readonly role?: unknown }).role === "user") {
      return messageText(item)
    }
  }
  return ""
}

/** The names of the function tools offered. */
export const toolNames = (request: RecordedRequest | ResponsesSchema.CreateRequest): ReadonlyArray<string> => {
  const body = bodyOf(request)
  return (body?.tools ?? []).flatMap((tool) =>
    tool.type === "function" && typeof (tool as { readonly name?: unknown }).name === "string"
      ? [(tool as { readonly name: string }).name]
      : []
  )
}

/** The `function_call_output` items sent back in the input. */
export const functionCallOutputs = (
  request: RecordedRequest | ResponsesSchema.CreateRequest
): ReadonlyArray<ResponsesSchema.FunctionCallOutput> =>
  inputItems(request).filter((item): item is ResponsesSchema.FunctionCallOutput => item.type === "function_call_output")

/** True when `secret` appears anywhere in the request (headers, path or body). */
export const contains = (request: RecordedRequest, secret: string): boolean =>
  request.rawBody.includes(secret) ||
  request.path.includes(secret) ||
  Object.values(request.headers).some((value) => value.includes(secret))
