/**
 * The pure parts: tool names made valid for the Responses API, the strict-mode check of server
 * schemas (bounded on hostile input), and MCP content mapped to one bounded string.
 */
import { assert, describe, it } from "@effect/vitest"
import type { McpSchema } from "effect/ai"
import { resultText } from "../src/internal/content.ts"
import { canBeStrict, maxSchemaDepth, toolName } from "../src/internal/names.ts"

describe("toolName", () => {
  it("prefixes, replaces invalid characters and cuts to 64", () => {
    assert.strictEqual(toolName("gh_", "list-issues"), "gh_list-issues")
    assert.strictEqual(toolName("", "files.read/all"), "files_read_all")
    assert.strictEqual(toolName("p_", "x".repeat(100)), `p_${"x".repeat(62)}`)
    assert.strictEqual(toolName("", ""), undefined)
  })
})

describe("canBeStrict", () => {
  const closed = { type: "object", properties: { a: { type: "string" } }, required: ["a"], additionalProperties: false }
  it("accepts closed objects with every property required, recursively", () => {
    assert.isTrue(canBeStrict(closed).strict)
    assert.isTrue(
      canBeStrict({
        type: "object",
        properties: { list: { type: "array", items: closed } },
        required: ["list"],
        additionalProperties: false
      }).strict
    )
  })
  it("refuses open objects, optional properties, unknown keywords, deep nesting", () => {
    assert.isFalse(canBeStrict({ ...closed, additionalProperties: true }).strict)
    assert.isFalse(canBeStrict({ ...closed, required: [] }).strict)
    assert.isFalse(canBeStrict({ ...closed, properties: { a: { type: "string", default: "x" } } }).strict)
    let deep: Record<string, unknown> = closed
    for (let i = 0; i <= maxSchemaDepth; i++)
      deep = { type: "object", properties: { n: deep }, required: ["n"], additionalProperties: false }
    const result = canBeStrict(deep)
    assert.isFalse(result.strict)
    assert.include(result.strict ? "" : result.reason, "deeper")
  })
})

describe("resultText", () => {
  it("joins blocks and adds structured content only when no text block holds it", () => {
    const text = resultText({ content: [{ type: "text", text: '{"a":1}' }], structuredContent: { a: 1 } }, 1000)
    assert.strictEqual(text, '{"a":1}')
    const added = resultText({ content: [], structuredContent: { a: 1 } }, 1000)
    assert.strictEqual(added, '{"a":1}')
  })
  it("notes binary resources instead of sending them", () => {
    const blob = {
      type: "resource",
      resource: { uri: "file:///a.bin", mimeType: "application/octet-stream", blob: new Uint8Array(10) }
    } as unknown as McpSchema.ContentBlock
    assert.strictEqual(
      resultText({ content: [blob] }, 1000),
      "[resource file:///a.bin (application/octet-stream): 10 bytes of binary data, not shown]"
    )
  })
  it("stops reading blocks past the limit", () => {
    const many = Array.from({ length: 10_000 }, () => ({ type: "text" as const, text: "y".repeat(100) }))
    const text = resultText({ content: many as never }, 5000)
    assert.strictEqual(text.length, 5000)
  })
})
