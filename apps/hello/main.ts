/**
 * apps/hello: the template for a program of your own inside this repository (docs/getting-started.md,
 * "A program inside the repository", quotes everything below this header). A tool, its handler, an
 * agent and one run of the prompt given on the command line. Run it with `node apps/hello/main.ts
 * "Weather in Oslo?"`: the real API with `HAOAI_API_KEY`, the built-in volley-local model without.
 * Gotcha: `hello.test.ts` runs it as a separate process, so keep `import.meta.main` around the run.
 */
import { Agent } from "@volley/agent"
import { TestClient } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import { Effect, Layer, Schema } from "effect"

/** A tool: the model sees its name, description and parameters' JSON Schema. */
export const GetWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number, sky: Schema.String })
})

/** The tools the agent may call. */
export const HelloTools = Toolkit.make(GetWeather)

/** What the tools do, as a layer: a test can provide another one. */
export const HelloHandlers = HelloTools.toLayer({
  get_weather: ({ city }) => Effect.succeed({ city, celsius: 21, sky: "sunny" })
})

/** The agent: a model, instructions and the toolkit. */
export const agent = Agent.make({
  name: "hello",
  model: process.env.HAOAI_API_KEY === undefined ? "volley-local" : "openai/gpt-5.4-mini",
  instructions: "Answer briefly. Use the tools for facts.",
  toolkit: HelloTools
})

/** One run of `prompt`, printing the answer. */
export const main = (prompt: string) =>
  Effect.gen(function* () {
    const result = yield* agent.run(prompt)
    if (result._tag === "Completed") console.log(result.output)
  })

if (import.meta.main) {
  main(process.argv.slice(2).join(" ") || "What's the weather in Oslo?").pipe(
    Effect.provide(Layer.mergeAll(HelloHandlers, TestClient.layerConfigOrLocal())),
    Effect.catch((error) =>
      Effect.sync(() => {
        console.error(`error: ${error._tag}: ${error.message}`)
        process.exitCode = 1
      })
    ),
    Effect.runPromise
  )
}
