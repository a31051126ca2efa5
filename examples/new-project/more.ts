/**
 * The other packages in a new project: `@volley/mcp` serves a Volley toolkit over MCP stdio (this
 * same file, started again with `--mcp-server`) and gives its tools back to an agent;
 * `@volley/effect-ai` runs one effect/ai `LanguageModel.generateText` on Volley's client;
 * `@volley/observability` exports the spans and metrics to `OTEL_EXPORTER_OTLP_ENDPOINT` when it is
 * set; `@volley/traces` records the run with `--trace`. Its test installs the packed tarballs,
 * compiles this file with tsc and runs it against `volley-serve --local`. Gotcha: the OTLP layer
 * flushes when released, so it wraps the whole program.
 */
import { fileURLToPath } from "node:url"
import { Agent } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { VolleyLanguageModel } from "@volley/effect-ai"
import { McpTools } from "@volley/mcp"
import { Observability } from "@volley/observability"
import { TraceSink } from "@volley/traces"
import { Tool, Toolkit } from "@volley/tools"
import { Effect, Layer, Schema } from "effect"
import { LanguageModel } from "effect/ai"

const model = "openai/gpt-5.4-mini"

const Forecast = Tool.make("forecast", {
  description: "The weather forecast for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, sky: Schema.String })
})
const ForecastTools = Toolkit.make(Forecast)
const ForecastHandlers = ForecastTools.toLayer({ forecast: ({ city }) => Effect.succeed({ city, sky: "clear" }) })

/** The MCP server's tools, from this file started as a child process. */
const Weather = McpTools.stdio({
  name: "weather",
  command: process.execPath,
  args: [fileURLToPath(import.meta.url), "--mcp-server"],
  prefix: "weather_"
})

const program = Effect.gen(function* () {
  const agent = Agent.make({ name: "forecaster", model, instructions: "Use the tools.", toolkit: Weather })
  const result = yield* agent.run(TraceSink.argsWithoutTrace(process.argv.slice(2))[0] ?? "Forecast for Oslo?")
  console.log(`mcp: ${result._tag === "Completed" ? result.output : "(paused)"}`)
  const reply = yield* LanguageModel.generateText({ prompt: "Say hello" }).pipe(
    Effect.provide(VolleyLanguageModel.layer({ model }))
  )
  console.log(`effect/ai: ${reply.text}`)
})

if (process.argv[2] === "--mcp-server") {
  Layer.launch(McpTools.serve(ForecastTools, ForecastHandlers, { transport: "stdio" })).pipe(Effect.runFork)
} else {
  program.pipe(
    Effect.provide(Layer.mergeAll(Weather.layer, ResponsesClient.layerConfig())),
    Effect.provide(TraceSink.layerFromArgv(process.argv)),
    Effect.provide(Observability.layerOtlpConfig()),
    Effect.catch((error) =>
      Effect.sync(() => {
        console.error(`error: ${error._tag}: ${error.message}`)
        process.exitCode = 1
      })
    ),
    Effect.runPromise
  )
}
