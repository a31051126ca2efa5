/**
 * `@openai/agents`: an `Agent` with two zod tools run by `run(agent, prompt)` (or `{ stream: true }`,
 * consumed to the end), over the SDK's own `OpenAIResponsesModel` on an openai-node client pointed at the
 * bench server. Tracing is disabled (no exporter would be configured in a fair comparison) and
 * `modelSettings.store` is false so the whole history goes back each turn.
 * Gotcha: `maxTurns` is raised to the scripted turn count for the scaling mode (its default is 10).
 */
import { Agent, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, tool } from "@openai/agents"
import OpenAI from "openai"
import { z } from "zod"
import { runDriver } from "../harness.ts"
import { model, prompt, toolSpecs } from "../scenario.ts"

await runDriver("agents", ({ baseUrl, apiKey, stream, tools }) => {
  setDefaultOpenAIClient(new OpenAI({ baseURL: baseUrl, apiKey }))
  setOpenAIAPI("responses")
  setTracingDisabled(true)

  const agent = new Agent({
    name: "planner",
    model,
    modelSettings: { store: false },
    tools: [
      tool({
        name: "get_weather",
        description: toolSpecs.get_weather.description,
        parameters: z.object({ city: z.string() }),
        execute: async (args) => tools.get_weather(args)
      }),
      tool({
        name: "get_time",
        description: toolSpecs.get_time.description,
        parameters: z.object({ timezone: z.string() }),
        execute: async (args) => tools.get_time(args)
      })
    ]
  })

  return async (turns) => {
    if (!stream) {
      const result = await run(agent, prompt(turns), { maxTurns: turns })
      return String(result.finalOutput)
    }
    const result = await run(agent, prompt(turns), { maxTurns: turns, stream: true })
    for await (const _event of result) {
      // consume every event, as a UI would
    }
    await result.completed
    return String(result.finalOutput)
  }
})
