/**
 * MCP tool results as the one string a `function_call_output` carries: text blocks as they are, images
 * and audio as a one-line note (the Responses API takes no binary in a function output), embedded text
 * resources with a header line, blobs and resource links as notes, and structured content as JSON when
 * no text block already holds it. Gotcha: the text is cut once it passes `limit` characters, before
 * anything large is joined; the tool's byte cap then truncates it with the usual note.
 */
import type { McpSchema } from "effect/ai"

const describeBytes = (data: Uint8Array | string): number => (typeof data === "string" ? data.length : data.byteLength)

const block = (content: McpSchema.ContentBlock): string => {
  switch (content.type) {
    case "text":
      return content.text
    case "image":
      return `[image: ${content.mimeType}, ${describeBytes(content.data)} bytes, not shown]`
    case "audio":
      return `[audio: ${content.mimeType}, ${describeBytes(content.data)} bytes, not shown]`
    case "resource": {
      const resource = content.resource
      const mime = resource.mimeType === undefined ? "" : ` (${resource.mimeType})`
      if ("text" in resource && typeof resource.text === "string")
        return `[resource ${resource.uri}${mime}]\n${resource.text}`
      const blob = "blob" in resource ? (resource.blob as Uint8Array | string) : ""
      return `[resource ${resource.uri}${mime}: ${describeBytes(blob)} bytes of binary data, not shown]`
    }
    case "resource_link":
      return `[resource link: ${content.name} <${content.uri}>]`
  }
}

const structuredText = (value: unknown): string | undefined => {
  if (value === undefined) return undefined
  // JSON.stringify of decoded JSON cannot meet cycles or BigInts; anything else is reported, not thrown
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? String(v) : v))
  return typeof text === "string" ? text : undefined
}

/** The output text of a tool result, cut after `limit` characters (the caller's byte cap notes the cut). */
export const resultText = (
  result: { readonly content: ReadonlyArray<McpSchema.ContentBlock>; readonly structuredContent?: unknown },
  limit: number
): string => {
  const parts: Array<string> = []
  let size = 0
  for (const content of result.content) {
    if (size > limit) break
    const text = block(content)
    parts.push(text)
    size += text.length + 1
  }
  const structured = size > limit ? undefined : structuredText(result.structuredContent)
  if (structured !== undefined && !parts.includes(structured)) parts.push(structured)
  const joined = parts.join("\n")
  return joined.length > limit ? joined.slice(0, limit) : joined
}
