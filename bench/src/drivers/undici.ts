/**
 * The floor: a hand-written agent loop straight on undici (`request` with a keep-alive Agent), a
 * straightforward JSON body per turn, `JSON.parse` per SSE event, and no framework at all. Every other
 * contender is reported as a ratio to this driver's CPU time per run.
 * Gotcha: it is deliberately plain, not tuned: the reference is "what you would write by hand".
 */
import { Agent, request } from "undici"
import { runDriver } from "../harness.ts"
import { model, prompt, type ToolName, toolSpecs } from "../scenario.ts"

interface FunctionCall {
  readonly type: "function_call"
  readonly call_id: string
  readonly name: string
  readonly arguments: string
}
type Item = Record<string, unknown>

const toolDefinitions = Object.entries(toolSpecs).map(([name, spec]) => ({
  type: "function",
  name,
  description: spec.description,
  parameters: spec.parameters,
  strict: true
}))

/** Reads an SSE body and returns the output items of `response.completed`. */
const readSse = async (body: AsyncIterable<Buffer>): Promise<{ items: Array<Item>; text: string }> => {
  const decoder = new TextDecoder()
  let buffer = ""
  let text = ""
  const items: Array<Item> = []
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true })
    let end = buffer.indexOf("\n\n")
    while (end >= 0) {
      const frame = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf("\n\n")
      const dataAt = frame.indexOf("data: ")
      if (dataAt < 0) continue
      const event = JSON.parse(frame.slice(dataAt + 6)) as { type: string; delta?: string; item?: Item }
      if (event.type === "response.output_text.delta") text += event.delta
      else if (event.type === "response.output_item.done" && event.item !== undefined) items.push(event.item)
      else if (event.type === "response.failed" || event.type === "error") throw new Error(JSON.stringify(event))
    }
  }
  return { items, text }
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
