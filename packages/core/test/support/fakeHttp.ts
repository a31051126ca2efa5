/**
 * An in-memory `HttpClient` for the ResponsesClient tests: a script answers each request with a Web
 * `Response` (or fails it with a transport error), and every request is recorded with its headers,
 * body, full URL and the virtual time it arrived, so tests can assert call counts and backoff windows
 * under `TestClock`. Also the canary key and a helper to build a client over the fake.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as ResponsesClient from "../../src/ResponsesClient.ts"

/** The canary key (G01): the suite-wide one `npm test` sets, else a fresh one per test process. */
export const canaryKey =
  process.env.VOLLEY_CANARY_KEY ??
  `sk-volley-CANARY-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`

/** One request the fake received. */
export interface Seen {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** Virtual time (ms) at which it arrived. */
  readonly at: number
}

/** What the script returns for a request: a Web response, or a transport failure with this cause. */
export type Reply = Response | { readonly transportError: unknown }

/** A script: the 0-based call number and the request, to a reply. */
export type Script = (call: number, request: HttpClientRequest.HttpClientRequest) => Reply | Effect.Effect<Reply>

/** A fake client and what it saw. */
export interface Fake {
  readonly client: HttpClient.HttpClient
  readonly seen: Array<Seen>
}

/** Builds a fake client answering with `script`. */
export const makeFake = (script: Script): Fake => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      const call = seen.length
      const bodyBytes = (request.body as { readonly body?: unknown }).body
      seen.push({
        url: url.href,
        headers: { ...request.headers },
        body: bodyBytes instanceof Uint8Array ? new TextDecoder().decode(bodyBytes) : "",
        at
      })
      const outcome = script(call, request)
      const reply = Effect.isEffect(outcome) ? yield* outcome : outcome
      if ("transportError" in reply) {
        return yield* Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({ request, cause: reply.transportError })
          })
        )
      }
      return HttpClientResponse.fromWeb(request, reply)
    })
  )
  return { client, seen }
}

/** A completed response body. */
export const completed = (overrides: Record<string, unknown> = {}) => ({
  id: "resp_1",
  object: "response",
  model: "openai/gpt-5.4-mini",
  status: "completed",
  output: [
    {
      type: "message",
      id: "msg_1",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "hello", annotations: [] }]
    }
  ],
  usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
  ...overrides
})

/** A JSON response. */
export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** An OpenAI-style error response. */
export const errorResponse = (
  status: number,
  headers: Record<string, string> = {},
  error: Record<string, unknown> = { message: `status ${status}`, type: "server_error" }
): Response => json({ error }, status, headers)

/** Builds a `ResponsesClient` over the fake (canary key, loopback-free fake base URL over https). */
export const clientOver = (fake: Fake, options: ResponsesClient.Options = {}) =>
  ResponsesClient.make({ baseUrl: "https://fake.test/v1", apiKey: Redacted.make(canaryKey), ...options }).pipe(
    Effect.provideService(HttpClient.HttpClient, fake.client)
  )

/** A minimal request. */
export const request = { model: "openai/gpt-5.4-mini", input: "hi" } as const
