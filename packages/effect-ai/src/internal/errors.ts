/**
 * Volley's typed `ResponsesError` to effect/ai's `AiError`, one reason per failure kind: rate limits
 * keep their Retry-After, authentication keeps its kind, broken streams and undecodable bodies become
 * `InvalidResponseError`, transport failures and timeouts `NetworkError`. The Volley tag, attempts,
 * retryability and request id travel in the reason's `metadata.volley`. Gotcha: Volley's messages are
 * already redacted and bounded (1 KiB), so they are safe to copy into descriptions.
 */
import type { ResponsesError } from "@volley/core"
import * as Duration from "effect/Duration"
import * as AiError from "effect/ai/AiError"

/** The `AiError` for a Volley client failure in `method`. */
export const toAiError = (error: ResponsesError.ResponsesError, method: string): AiError.AiError =>
  AiError.make({ module: "VolleyLanguageModel", method, reason: reasonOf(error) })

const reasonOf = (error: ResponsesError.ResponsesError): AiError.AiErrorReason => {
  const metadata = {
    volley: {
      tag: error._tag,
      retryable: error.retryable,
      attempts: error.attempts,
      ...(error.requestId === undefined ? {} : { requestId: error.requestId })
    }
  }
  const description = error.message
  switch (error._tag) {
    case "RateLimitError":
      return new AiError.RateLimitError({
        metadata,
        http: { response: { status: error.status, headers: {} } },
        ...(error.retryAfter === undefined ? {} : { retryAfter: Duration.millis(error.retryAfter) })
      })
    case "QuotaExhaustedError":
      return new AiError.QuotaExhaustedError({ metadata, http: { response: { status: error.status, headers: {} } } })
    case "AuthenticationError":
      return new AiError.AuthenticationError({
        kind: error.kind,
        description,
        metadata,
        http: { response: { status: error.status, headers: {} } }
      })
    case "InvalidRequestError":
      return new AiError.InvalidRequestError({
        description,
        metadata,
        ...(error.param === undefined ? {} : { parameter: error.param }),
        http: { response: { status: error.status, headers: {} } }
      })
    case "InternalProviderError":
      return new AiError.InternalProviderError({
        description,
        metadata,
        http: { response: { status: error.status, headers: {} } }
      })
    case "ResponseFailed":
      return new AiError.InternalProviderError({ description, metadata })
    case "NetworkError":
    case "RequestTimeout":
      return new AiError.NetworkError({
        reason: "TransportError",
        method: "POST",
        url: "/responses",
        description: `${error._tag}: ${description}`
      })
    case "StreamProtocolError":
    case "EventTooLarge":
    case "ResponseTooLarge":
    case "StreamTruncated":
    case "ResponseDecodeError":
      return new AiError.InvalidResponseError({ description: `${error._tag}: ${description}`, metadata })
  }
}
