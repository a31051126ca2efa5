/**
 * The floor's hand-written pieces, shared by the undici driver (`drivers/undici.ts`) and the in-process
 * split (`split.ts`), so both measure the same loop: the tool declarations sent with every request and
 * the SSE reader (`indexOf("\n\n")` framing, `JSON.parse` per event). Nothing here loads a framework.
 */
import { toolSpecs } from "./scenario.ts"

/** An output item as the floor sees it: plain parsed JSON. */
export type Item = Record<string, unknown>

/** The two tools as request declarations (`strict: true`). */
export const toolDefinitions = Object.entries(toolSpecs).map(([name, spec]) => ({
  type: "function",
  name,
  description: spec.description,
  parameters: spec.parameters,
  strict: true
}))

/** Reads an SSE body: the `output_item.done` items and the concatenated text deltas. */
export const readSse = async (body: AsyncIterable<Buffer>): Promise<{ items: Array<Item>; text: string }> => {
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
