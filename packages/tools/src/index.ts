/**
 * `@volley/tools`: tools defined once from Effect Schemas give the model-facing JSON Schema, the argument
 * decoder, typed handlers provided as a layer, and outputs the model can act on for every failure.
 * Import the modules as namespaces: `Tool` (definitions), `Toolkit` (registry, handlers, running calls),
 * `ToolError` (typed failures), `ToolJsonSchema` (strict JSON Schema and its validator).
 */
/** Tool definitions. */
export * as Tool from "./Tool.ts"
/** Toolkits: registry, handlers as a layer, running calls. */
export * as Toolkit from "./Toolkit.ts"
/** Typed tool failures. */
export * as ToolError from "./ToolError.ts"
/** The parameters JSON Schema (strict mode) and its validator. */
export * as ToolJsonSchema from "./ToolJsonSchema.ts"
/** The shipped `fetch` tool with SSRF protection. */
export * as FetchTool from "./FetchTool.ts"
