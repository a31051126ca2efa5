/**
 * A `volley-mcp-serve`-style program: a typed Volley toolkit served to any MCP client with
 * `McpTools.serve`. `node examples/mcp/weather-server.ts` speaks MCP on stdio (what Claude Desktop
 * or an IDE starts); `node examples/mcp/weather-server.ts --http 8931` serves Streamable HTTP on
 * http://127.0.0.1:8931/mcp. `main.ts` starts it over stdio and gives its tools to an agent.
 */
import { NodeRuntime } from "@effect/platform-node"
import { McpTools } from "@volley/mcp"
import { Tool, Toolkit } from "@volley/tools"
import { Effect, Layer, Schema } from "effect"

const Forecast = Tool.make("forecast", {
  description: "The weather forecast for a city, for 1 to 7 days",
  parameters: Schema.Struct({
    city: Schema.String,
    days: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 7 }))
  }),
  success: Schema.Struct({ city: Schema.String, days: Schema.Number, sky: Schema.String, highC: Schema.Number })
})

/** The served toolkit. */
export const WeatherTools = Toolkit.make(Forecast)

/** Its handlers (a real server would call a weather API here). */
export const WeatherHandlers = WeatherTools.toLayer({
  forecast: ({ city, days }) => Effect.succeed({ city, days, sky: "clear", highC: 21 })
})

const httpPort = (argv: ReadonlyArray<string>): number | undefined => {
  const index = argv.indexOf("--http")
  return index === -1 ? undefined : Number(argv[index + 1])
}

if (import.meta.main) {
  const port = httpPort(process.argv.slice(2))
  const transport = port === undefined || !Number.isInteger(port) ? "stdio" : { http: { port } }
  Layer.launch(McpTools.serve(WeatherTools, WeatherHandlers, { transport, name: "weather" })).pipe(NodeRuntime.runMain)
}
