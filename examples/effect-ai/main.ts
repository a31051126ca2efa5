/**
 * effect/ai on Volley, both ways. `chatLoop` runs effect/ai's own `Chat` with an effect/ai `Toolkit`
 * on `VolleyLanguageModel` (Volley's Responses client as the `LanguageModel`): each `generateText` is
 * one model call, and the loop calls again while the model asks for tools. `agentRun` hands the same
 * effect/ai toolkit to a Volley agent through `EffectAiToolkit.toVolley`. Run:
 * `node examples/effect-ai/main.ts "What's the weather in Paris?"` (volley-local unless
 * `HAOAI_API_KEY` is set). Gotcha: effect/ai has no agent loop of its own; the loop here is six lines.
 */
import { Agent } from "@volley/agent"
import { EffectAiToolkit, VolleyLanguageModel } from "@volley/effect-ai"
import { TraceSink } from "@volley/traces"
import { Effect, Layer, Schema } from "effect"
import { Chat, Tool, Toolkit } from "effect/ai"
import { Weather, weatherFor } from "../quickstart/weather.ts"
import { Backend, defaultModel } from "../shared/backend.ts"

/** The weather tool, defined with effect/ai. */
export const GetWeather = Tool.make("get_weather", {
  description: "Get the current weather for a city",
  parameters: Schema.Struct({ city: Schema.String.annotate({ description: "City name, e.g. Paris" }) }),
  success: Weather
})

/** The effect/ai toolkit and its handlers. */
export const WeatherKit = Toolkit.make(GetWeather)
/** The handler layer of `WeatherKit`. */
export const WeatherKitHandlers = WeatherKit.toLayer({ get_weather: ({ city }) => Effect.succeed(weatherFor(city)) })

/** Most model calls of `chatLoop`. */
export const maxSteps = 4

/** effect/ai's `Chat` driving the tool loop; the final text. */
export const chatLoop = (prompt: string) =>
  Effect.gen(function* () {
    const toolkit = yield* WeatherKit
    const chat = yield* Chat.fromPrompt([{ role: "user", content: prompt }])
    for (let step = 0; step < maxSteps; step++) {
      const response = yield* chat.generateText({ prompt: [], toolkit })
      if (response.toolCalls.length === 0) return response.text
    }
    return "(step limit reached)"
  })

/** A Volley agent using the effect/ai toolkit; the final text. */
export const agentRun = (model: string, prompt: string) =>
  Agent.make({
    name: "effect-ai-tools",
    model,
    instructions: "Answer weather questions with the get_weather tool.",
    toolkit: EffectAiToolkit.toVolley(WeatherKit)
  })
    .run(prompt)
    .pipe(Effect.map((result) => (result._tag === "Completed" ? result.output : "(paused)")))

/** Both programs on one model: effect/ai's `LanguageModel` and the agent share the Volley client. */
export const program = (prompt: string) =>
  Effect.gen(function* () {
    const model = yield* defaultModel
    const viaChat = yield* chatLoop(prompt).pipe(Effect.provide(VolleyLanguageModel.layer({ model })))
    const viaAgent = yield* agentRun(model, prompt)
    return { viaChat, viaAgent }
  })

if (import.meta.main) {
  program(TraceSink.argsWithoutTrace(process.argv.slice(2)).join(" ") || "What's the weather in Paris?").pipe(
    Effect.provide(Layer.mergeAll(WeatherKitHandlers, Backend)),
    Effect.provide(TraceSink.layerFromArgv(process.argv)),
    Effect.match({
      onSuccess: ({ viaChat, viaAgent }) =>
        process.stdout.write(`effect/ai Chat: ${viaChat}\nVolley agent: ${viaAgent}\n`),
      onFailure: (error) => {
        process.stderr.write(`error: ${error._tag}: ${error.message}\n`)
        process.exitCode = 1
      }
    }),
    Effect.runPromise
  )
}
