/**
 * `ResponsesClient`: the Effect service that speaks `POST /v1/responses`. `create` sends a JSON
 * request and decodes the response; `stream` sends `stream: true` and yields typed events decoded
 * from SSE, ending after the terminal event. Build it with `layer(options)` (needs an
 * `HttpClient`) or `layerConfig` (reads `HAOAI_API_KEY` / `HAOAI_BASE_URL`, brings undici).
 * Gotcha: the client retries only while nothing has reached the consumer; once a stream event was
 * emitted, a failure is final here and it is the agent's job to re-run the whole turn.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { ResponsesError } from "./ResponsesError.ts"
import type { CreateRequest, Response, StreamEvent } from "./ResponsesSchema.ts"

/** Per-call options. */
export interface CallOptions {
  /** HTTP attempts already spent on this logical call by an outer layer (the agent's turn retry). */
  readonly previousAttempts?: number | undefined
  /** Extra headers for this call only (never logged). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** The Responses API client. */
export interface ResponsesClientShape {
  /** Sends a non-streaming request; fails on HTTP errors, `status: "failed"` and malformed bodies. */
  readonly create: (request: CreateRequest, options?: CallOptions) => Effect.Effect<Response, ResponsesError>
  /** Sends a streaming request; emits every decoded event up to and including the terminal one. */
  readonly stream: (request: CreateRequest, options?: CallOptions) => Stream.Stream<StreamEvent, ResponsesError>
}

/** The Responses API client service. */
export class ResponsesClient extends Context.Service<ResponsesClient, ResponsesClientShape>()(
  "@volley/core/ResponsesClient"
) {}
