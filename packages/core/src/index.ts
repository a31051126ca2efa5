/**
 * `@volley/core`: an Effect client for the Responses API. Import the modules as namespaces:
 * `ResponsesSchema` (wire format), `ResponsesError` (typed failures), `ResponsesClient` (the service),
 * `ResponseAccumulator` (fold a stream into the final response), `RetryPolicy` (retries),
 * `Redaction` (secret redaction helpers shared by every package).
 */
/** The Responses API wire format as Effect Schemas. */
export * as ResponsesSchema from "./ResponsesSchema.ts"
/** Typed errors of the Responses client. */
export * as ResponsesError from "./ResponsesError.ts"
/** The Responses API client service. */
export * as ResponsesClient from "./ResponsesClient.ts"
/** When and how long the client waits before retrying. */
export * as RetryPolicy from "./RetryPolicy.ts"
/** Secret redaction shared by every Volley package: one placeholder, one set of credential shapes. */
export * as Redaction from "./Redaction.ts"
/** Folds Responses stream events into the final response. */
export * as ResponseAccumulator from "./ResponseAccumulator.ts"
