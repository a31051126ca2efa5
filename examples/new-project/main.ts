/**
 * The first program of a new project that installs Volley's packages (docs/getting-started.md, "A new
 * project", quotes everything below this header): a weather tool, its handler, an agent, one run.
 * It talks to `HAOAI_BASE_URL` with `HAOAI_API_KEY`; without a key, point `HAOAI_BASE_URL` at
 * `npx volley-serve --local`. Its test packs the nine packages, installs them with plain npm into a
 * project outside the repository, compiles this file with tsc and runs the JavaScript. Gotcha: any
 * failure ends in one line on stderr and exit code 1, never a stack trace.
 */
import { Agent } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { Tool, Toolkit } from "@volley/tools"
import { Effect, Layer, Schema } from "effect"

const GetWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number, sky: Schema.String })
})
const WeatherTools = Toolkit.make(GetWeather)

const WeatherHandlers = WeatherTools.toLayer({
  get_weather: ({ city }) => Effect.succeed({ city, celsius: 18, sky: "light rain" })
})

const agent = Agent.make({
  name: "weather",
  model: "openai/gpt-5.4-mini",
  instructions: "Answer briefly. Use the tools for facts.",
  toolkit: WeatherTools
})

const program = Effect.gen(function* () {
  const result = yield* agent.run(process.argv[2] ?? "What's the weather in Paris and Tokyo?")
  if (result._tag === "Completed") console.log(result.output)
  else console.log(`paused: ${result.pending.length} call(s) await approval`)
})

program.pipe(
  Effect.provide(Layer.mergeAll(WeatherHandlers, ResponsesClient.layerConfig())),
  Effect.catch((error) =>
    Effect.sync(() => {
      console.error(`error: ${error._tag}: ${error.message}`)
      process.exitCode = 1
    })
  ),
  Effect.runPromise
)
