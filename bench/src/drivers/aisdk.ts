/**
 * The AI SDK: `generateText` (JSON) or `streamText` (SSE, `fullStream` consumed to the end) with two zod
 * tools and `stopWhen: stepCountIs(turns)`, on `@ai-sdk/openai`'s Responses model pointed at the bench
 * server, `providerOptions.openai.store = false` so the whole history goes back each turn.
 * Gotcha: `result.text` is the last step's text, which is the scripted final answer.
 */
import { createOpenAI } from "@ai-sdk/openai"
import { generateText, stepCountIs, streamText, tool } from "ai"
import { z } from "zod"
import { runDriver } from "../harness.ts"
import { model, prompt, toolSpecs } from "../scenario.ts"

await runDriver("aisdk", ({ baseUrl, apiKey, stream, tools }) => {
  const provider = createOpenAI({ baseURL: baseUrl, apiKey })
  const languageModel = provider.responses(model)
  const toolSet = {
    get_weather: tool({
      description: toolSpecs.get_weather.description,
      inputSchema: z.object({ city: z.string() }),
      execute: async (args) => tools.get_weather(args)
    }),
    get_time: tool({
      description: toolSpecs.get_time.description,
      inputSchema: z.object({ timezone: z.string() }),
      execute: async (args) => tools.get_time(args)
    })
  }
  const providerOptions = { openai: { store: false } }

  return async (turns) => {
    const options = {
      model: languageModel,
      prompt: prompt(turns),
      tools: toolSet,
      stopWhen: stepCountIs(turns),
      providerOptions
    }
    if (!stream) return (await generateText(options)).text
    const result = streamText(options)
    for await (const _part of result.fullStream) {
      // consume every part, as a UI would
    }
    return await result.text
  }
})
