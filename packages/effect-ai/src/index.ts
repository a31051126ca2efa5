/**
 * `@volley/effect-ai`: Volley and the effect/ai modules of Effect 4.1, both ways. Import the modules
 * as namespaces: `VolleyLanguageModel` (Volley's Responses client as an effect/ai `LanguageModel`)
 * and `EffectAiToolkit` (an effect/ai `Toolkit` with its handlers as a toolkit `Agent.make` accepts).
 */
/** Volley's `ResponsesClient` as an effect/ai `LanguageModel`. */
export * as VolleyLanguageModel from "./VolleyLanguageModel.ts"
/** effect/ai toolkits (and `McpClient.toolkit` output) as toolkits `Agent.make` accepts. */
export * as EffectAiToolkit from "./EffectAiToolkit.ts"
