/**
 * openai-node in a hand loop: `client.responses.create` (JSON, or `stream: true` and iterate the events),
 * the history kept in an array, the tools run with `Promise.all`. This is what an application writes when
 * it uses the official SDK without an agent framework.
 * Gotcha: the SDK's defaults are kept (retries, timeouts) except the base URL and the key.
 */
import OpenAI from "openai"
import type { ResponseInputItem, ResponseOutputItem } from "openai/resources/responses/responses"
import { runDriver } from "../harness.ts"
import { model, prompt, type ToolName, toolSpecs } from "../scenario.ts"

const toolDefinitions = Object.entries(toolSpecs).map(([name, spec]) => ({
  type: "function" as const,
  name,
  description: spec.description,
  parameters: spec.parameters as unknown as Record<string, unknown>,
  strict: true
}))

await runDriver("openai", ({ baseUrl, apiKey, stream, tools }) => {
  const client = new OpenAI({ baseURL: baseUrl, apiKey })

  const call = async (input: Array<ResponseInputItem>): Promise<{ items: Array<ResponseOutputItem>; text: string }> => {
    if (!stream) {
      const response = await client.responses.create({ model, input, tools: toolDefinitions, store: false })
      return { items: response.output, text: response.output_text }
    }
    const events = await client.responses.create({ model, input, tools: toolDefinitions, store: false, stream: true })
    let text = ""
    const items: Array<ResponseOutputItem> = []
    for await (const event of events) {
      if (event.type === "response.output_text.delta") text += event.delta
      else if (event.type === "response.output_item.done") items.push(event.item)
      else if (event.type === "response.failed" || event.type === "error") throw new Error(JSON.stringify(event))
    }
    return { items, text }
  }

  return async (turns) => {
    const history: Array<ResponseInputItem> = [{ role: "user", content: prompt(turns) }]
    for (;;) {
      const { items, text } = await call(history)
      const calls = items.filter((item) => item.type === "function_call")
      if (calls.length === 0) return text
      history.push(...(items as Array<ResponseInputItem>))
      const outputs = await Promise.all(
        calls.map(async (fc) => ({
          type: "function_call_output" as const,
          call_id: fc.call_id,
          output: tools[fc.name as ToolName](JSON.parse(fc.arguments))
        }))
      )
      history.push(...outputs)
    }
  }
})
