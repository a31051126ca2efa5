/**
 * Volley's side of the run, shared by the Volley driver (`drivers/volley.ts`) and the in-process split
 * (`split.ts`): the two tools as `Tool.make` with Effect Schema parameters, their `Toolkit`, and the agent
 * (`modelSettings.store = false`, so the whole history goes back each turn).
 */
import { Agent } from "@volley/agent"
import { Tool, Toolkit } from "@volley/tools"
import * as Schema from "effect/Schema"
import { model, toolSpecs } from "./scenario.ts"

/** `get_weather({ city })`. */
export const GetWeather = Tool.make("get_weather", {
  description: toolSpecs.get_weather.description,
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})
/** `get_time({ timezone })`. */
export const GetTime = Tool.make("get_time", {
  description: toolSpecs.get_time.description,
  parameters: Schema.Struct({ timezone: Schema.String }),
  success: Schema.String
})
/** Both tools. */
export const Tools = Toolkit.make(GetWeather, GetTime)

/** The benchmarked agent. */
export const agent = Agent.make({ name: "planner", model, toolkit: Tools, modelSettings: { store: false } })
