/**
 * `@volley/core`: an Effect client for the Responses API. Import the modules as namespaces:
 * `ResponsesSchema` (wire format), `ResponsesError` (typed failures), `ResponsesClient` (the service),
 * `ResponseAccumulator` (fold a stream into the final response), `RetryPolicy` (retry and timeouts).
 */
/** The Responses API wire format as Effect Schemas. */
export * as ResponsesSchema from "./ResponsesSchema.ts"
/** Typed errors of the Responses client. */
export * as ResponsesError from "./ResponsesError.ts"
/** The Responses API client service. */
export * as ResponsesClient from "./ResponsesClient.ts"
