/**
 * The quickstart's agent: one tool, `get_weather({ city })`, answering with deterministic made-up
 * weather (the same city always gets the same weather), and the agent that uses it. `makeAgent(model)`
 * builds the agent; `WeatherHandlers` is the tool's handler layer.
 * Gotcha: the weather is invented from a hash of the city name; it is a stand-in for a real API.
 */
import { Agent } from "@volley/agent"
import { Tool, Toolkit } from "@volley/tools"
import { Effect, Schema } from "effect"

/** What `get_weather` returns. */
export const Weather = Schema.Struct({
  city: Schema.String,
  temperatureC: Schema.Number,
  conditions: Schema.String,
  windKmh: Schema.Number
})
/** What `get_weather` returns. */
export type Weather = typeof Weather.Type

/** The weather tool: one required string parameter, `city`. */
export const GetWeather = Tool.make("get_weather", {
  description: "Get the current weather for a city",
  parameters: Schema.Struct({
    city: Schema.String.annotate({ description: "City name, e.g. Paris" })
  }),
  success: Weather
})

/** The quickstart's toolkit. */
export const WeatherTools = Toolkit.make(GetWeather)

const skies = ["sunny", "partly cloudy", "overcast", "light rain", "showers", "clear", "windy", "foggy"] as const

/** Deterministic made-up weather: a small string hash picks the numbers. */
export const weatherFor = (city: string): Weather => {
  let hash = 2166136261
  for (const char of city.trim().toLowerCase()) {
    hash ^= char.codePointAt(0) ?? 0
    hash = Math.imul(hash, 16777619) >>> 0
  }
  return {
    city: city.trim(),
    temperatureC: (hash % 36) - 5,
    conditions: skies[(hash >>> 8) % skies.length] ?? "clear",
    windKmh: (hash >>> 16) % 40
  }
}

/** The handler layer of `WeatherTools`. */
export const WeatherHandlers = WeatherTools.toLayer({
  get_weather: ({ city }) => Effect.succeed(weatherFor(city))
})

/** The quickstart agent for a model id. */
export const makeAgent = (model: string) =>
  Agent.make({
    name: "quickstart",
    model,
    instructions:
      "You are a concise weather assistant. Use get_weather for every city the user asks about, then answer in one or two sentences.",
    toolkit: WeatherTools
  })
