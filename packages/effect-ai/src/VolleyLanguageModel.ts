/**
 * Volley's `ResponsesClient` as an effect/ai `LanguageModel`: `layer({ model })` (needs a
 * `ResponsesClient`) lets effect/ai's `generateText`, `streamText`, `generateObject`, `Chat` and
 * toolkits run on the Responses API with Volley's retries, timeouts, SSE decoding, byte caps and
 * `chat` spans. Prompts become input items, tools function tools, `generateObject` a json_schema
 * `text.format`; failures become `AiError` with one reason per Volley error. Extra request fields
 * (`provider`, `reasoning`, `temperature`, …) go in `config`, per call through `withConfigOverride`.
 * Gotcha: effect/ai runs one model call per `generateText`; a tool loop is `Chat` plus your loop.
 */
import { ResponsesClient, type ResponsesSchema } from "@volley/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as LanguageModel from "effect/ai/LanguageModel"
import * as OpenAiStructuredOutput from "effect/ai/OpenAiStructuredOutput"
import { toAiError } from "./internal/errors.ts"
import { toRequest } from "./internal/request.ts"
import { fromResponse, StreamMapper } from "./internal/response.ts"

/** Request fields passed through to every call (everything but what the prompt and tools decide). */
export type Config = Omit<
  Partial<ResponsesSchema.CreateRequest>,
  "model" | "input" | "tools" | "tool_choice" | "stream"
>

/** Per-call overrides of `Config`, merged over the layer's (set with `withConfigOverride`). */
export const ConfigOverride = Context.Reference<Config>("@volley/effect-ai/VolleyLanguageModel/ConfigOverride", {
  defaultValue: () => ({})
})

/** How the provider is set up. */
export interface Options {
  /** The model every call uses, e.g. `haoai/gpt-5-mini`. */
  readonly model: string
  /** Request fields for every call: `provider` routing, `temperature`, `max_output_tokens`, `reasoning`, … */
  readonly config?: Config | undefined
  /** Send function tools with `strict: true` (closed object schemas); default false. A tool's own `Tool.Strict` wins. */
  readonly strictTools?: boolean | undefined
  /**
   * How `generateObject` schemas (and strict tools) become JSON Schema and are decoded: default
   * `OpenAiStructuredOutput.toCodecOpenAI` (closed objects, sent with `strict: true`). With another
   * transformer, e.g. `LanguageModel.defaultCodecTransformer`, `text.format` is sent with `strict: false`.
   */
  readonly codecTransformer?: LanguageModel.CodecTransformer | undefined
  /** Use `stream` for `generateText` too (default false: one JSON `create`). */
  readonly streamGenerate?: boolean | undefined
}

/** Builds the `LanguageModel` over the `ResponsesClient` in context. */
export const make = Effect.fnUntraced(function* (options: Options) {
  const client = yield* ResponsesClient.ResponsesClient
  const openAi = OpenAiStructuredOutput.toCodecOpenAI as LanguageModel.CodecTransformer
  const codecTransformer = options.codecTransformer ?? openAi
  const settingsNow = Effect.gen(function* () {
    const override = yield* ConfigOverride
    return {
      model: options.model,
      config: { ...options.config, ...override },
      strictTools: options.strictTools ?? false,
      strictOutput: codecTransformer === openAi,
      codecTransformer
    }
  })
  const request = (provider: LanguageModel.ProviderOptions, method: string) =>
    Effect.flatMap(settingsNow, (settings) => toRequest(settings, provider, method))
  const streamParts = (provider: LanguageModel.ProviderOptions, method: string) =>
    Stream.unwrap(
      Effect.map(request(provider, method), (body) => {
        const mapper = new StreamMapper()
        return client.stream(body).pipe(
          Stream.mapError((error) => toAiError(error, method)),
          Stream.flatMap((event) => Stream.fromIterable(mapper.push(event)))
        )
      })
    )
  return yield* LanguageModel.make({
    codecTransformer,
    supportsSystemMessagesInHistory: Effect.succeed(true),
    generateText: (provider) =>
      options.streamGenerate === true
        ? Effect.map(Stream.runCollect(streamParts(provider, "generateText")), collectParts)
        : request(provider, "generateText").pipe(
            Effect.flatMap((body) => Effect.mapError(client.create(body), (error) => toAiError(error, "generateText"))),
            Effect.map(fromResponse)
          ),
    streamText: (provider) => streamParts(provider, "streamText")
  })
})

/** The `LanguageModel` layer over a `ResponsesClient` layer (e.g. `ResponsesClient.layerConfig()`). */
export const layer = (
  options: Options
): Layer.Layer<LanguageModel.LanguageModel, never, ResponsesClient.ResponsesClient> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

/** Runs `effect` with `overrides` merged over the provider's `config` for the calls it makes. */
export const withConfigOverride: {
  (overrides: Config): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, overrides: Config): Effect.Effect<A, E, R>
} = ((...args: ReadonlyArray<unknown>) => {
  if (args.length === 1)
    return (self: Effect.Effect<unknown, unknown, unknown>) => withOverride(self, args[0] as Config)
  return withOverride(args[0] as Effect.Effect<unknown, unknown, unknown>, args[1] as Config)
}) as never

const withOverride = <A, E, R>(self: Effect.Effect<A, E, R>, overrides: Config): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const current = yield* ConfigOverride
    return yield* Effect.provideService(self, ConfigOverride, { ...current, ...overrides })
  })

/** Stream parts folded into the non-streaming parts (deltas joined), for `streamGenerate`. */
const collectParts = (
  parts: ReadonlyArray<import("effect/ai/Response").StreamPartEncoded>
): Array<import("effect/ai/Response").PartEncoded> => {
  const out: Array<import("effect/ai/Response").PartEncoded> = []
  const text = new Map<string, string>()
  const reasoning = new Map<string, string>()
  for (const part of parts) {
    switch (part.type) {
      case "text-delta":
        text.set(part.id, (text.get(part.id) ?? "") + part.delta)
        break
      case "text-end":
        out.push({ type: "text", text: text.get(part.id) ?? "" })
        text.delete(part.id)
        break
      case "reasoning-delta":
        reasoning.set(part.id, (reasoning.get(part.id) ?? "") + part.delta)
        break
      case "reasoning-end":
        out.push({ type: "reasoning", text: reasoning.get(part.id) ?? "" })
        reasoning.delete(part.id)
        break
      case "tool-call":
      case "response-metadata":
      case "finish":
        out.push(part)
        break
    }
  }
  return out
}
