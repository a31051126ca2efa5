/**
 * The floor: a hand-written agent loop straight on undici (`request` with a keep-alive Agent), a
 * straightforward JSON body per turn, `JSON.parse` per SSE event, and no framework at all. Every other
 * contender is reported as a ratio to this driver's CPU time per run.
 * Gotcha: it is deliberately plain, not tuned: the reference is "what you would write by hand".
 */
import { Agent, request } from "undici"
import { type Item, readSse, toolDefinitions } from "../floor.ts"
import { runDriver } from "../harness.ts"
import { model, prompt, type ToolName } from "../scenario.ts"

interface FunctionCall {
  readonly type: "function_call"
  readonly call_id: string
  readonly name: string
  readonly arguments: string
}

await runDriver("undici", ({ origin, apiKey, stream, tools }) => {
  const dispatcher = new Agent({ keepAliveTimeout: 60_000, connections: null })
  const url = `${origin}/v1/responses`
  const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }

  const call = async (input: ReadonlyArray<Item>): Promise<{ items: Array<Item>; text: string }> => {
    const response = await request(url, {
      method: "POST",
      dispatcher,
      headers,
      body: JSON.stringify({ model, input, tools: toolDefinitions, store: false, stream })
    })
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${await response.body.text()}`)
    if (stream) return readSse(response.body)
    const json = (await response.body.json()) as { output: Array<Item> }
    let text = ""
    for (const item of json.output) {
      if (item.type === "message") {
        for (const part of item.content as Array<{ type: string; text: string }>) {
          if (part.type === "output_text") text += part.text
        }
      }
    }
    return { items: json.output, text }
  }

  return async (turns) => {
    const history: Array<Item> = [{ role: "user", content: prompt(turns) }]
    for (;;) {
      const { items, text } = await call(history)
      const calls = items.filter((item): item is Item & FunctionCall => item.type === "function_call")
      if (calls.length === 0) return text
      history.push(...items)
      const outputs = await Promise.all(
        calls.map(async (fc) => ({
          type: "function_call_output",
          call_id: fc.call_id,
          output: tools[fc.name as ToolName](JSON.parse(fc.arguments))
        }))
      )
      history.push(...outputs)
    }
  }
})
