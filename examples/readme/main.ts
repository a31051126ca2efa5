/**
 * The code sample of README.md, verbatim apart from this header and the exports: a weather tool
 * defined from a Schema, its handler as a layer, and an agent run. `program` is exported so the test
 * can run it against the local model. `node examples/readme/main.ts` talks to the real API with
 * `HAOAI_API_KEY` set and to the built-in volley-local model without one; a failure is one line on
 * stderr and exit code 1. Gotcha: keep README.md's block in step with this file.
 */
import { Agent } from "@volley/agent"
import { TestClient } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import { TraceSink } from "@volley/traces"
import { Effect, Layer, Schema } from "effect"

const GetWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number, sky: Schema.String })
})
const WeatherTools = Toolkit.make(GetWeather)

/** The tool's handler, as a layer (tests swap it for another layer). */
export const WeatherHandlers = WeatherTools.toLayer({
  get_weather: ({ city }) => Effect.succeed({ city, celsius: 18, sky: "light rain" })
})

/** The agent: a model, instructions and the toolkit. */
export const agent = Agent.make({
  name: "weather",
  model: "openai/gpt-5.4-mini",
  instructions: "Answer briefly. Use the tools for facts.",
  toolkit: WeatherTools
})

/** One run, printing the answer. */
export const program = Effect.gen(function* () {
  const result = yield* agent.run("What's the weather in Paris and Tokyo?")
  if (result._tag === "Completed") console.log(result.output) // the answer, after both tool calls ran in parallel
})

if (import.meta.main) {
  // The real API with HAOAI_API_KEY, else volley-local on 127.0.0.1; any failure is one line on stderr.
  program.pipe(
    Effect.provide(Layer.mergeAll(WeatherHandlers, TestClient.layerConfigOrLocal())),
    Effect.provide(TraceSink.layerFromArgv(process.argv)),
    Effect.catch((error) =>
      Effect.sync(() => {
        console.error(`error: ${error._tag}: ${error.message}`)
        process.exitCode = 1
      })
    ),
    Effect.runPromise
  )
}
