/**
 * Tool names and schemas as the Responses API accepts them. `toolName` prefixes a server's tool name and
 * makes it match `^[a-zA-Z0-9_-]{1,64}$` (other characters become `_`, long names are cut).
 * `canBeStrict` says whether a JSON Schema can be sent with `strict: true` as it is: every object closed
 * (`additionalProperties: false`) with every property required, only keywords strict mode knows, all the
 * way down. Gotcha: both walk untrusted server data, so the walk is bounded by depth and node count.
 */
import { Tool, ToolJsonSchema } from "@volley/tools"

/** Deepest schema nesting walked; deeper schemas are sent with `strict: false`. */
export const maxSchemaDepth = 32
/** Most schema nodes walked; larger schemas are sent with `strict: false`. */
export const maxSchemaNodes = 2_000

/** The model-facing name of a server tool, or undefined when nothing valid is left. */
export const toolName = (prefix: string, name: string): string | undefined => {
  const cleaned = `${prefix}${name}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64)
  return Tool.namePattern.test(cleaned) ? cleaned : undefined
}

// strict mode's keywords are tools' (one list); a server schema may also carry `$schema` and `$defs`
const strictKeywords: ReadonlySet<string> = new Set([...ToolJsonSchema.strictKeywords, "$schema", "$defs"])

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Whether strict mode can take this schema unchanged; the reason when not. */
export const canBeStrict = (
  schema: unknown
): { readonly strict: true } | { readonly strict: false; readonly reason: string } => {
  let nodes = 0
  const walk = (node: unknown, path: string, depth: number): string | undefined => {
    if (++nodes > maxSchemaNodes) return `more than ${maxSchemaNodes} schema nodes`
    if (depth > maxSchemaDepth) return `nested deeper than ${maxSchemaDepth}`
    if (!isObject(node)) return `${path || "root"} is not a schema object`
    for (const key of Object.keys(node)) if (!strictKeywords.has(key)) return `${path || "root"} uses '${key}'`
    const isObjectType = node.type === "object" || (Array.isArray(node.type) && node.type.includes("object"))
    if (isObjectType || node.properties !== undefined) {
      if (node.additionalProperties !== false) return `${path || "root"} is not closed (additionalProperties)`
      const properties = node.properties ?? {}
      if (!isObject(properties)) return `${path || "root"} has malformed properties`
      const required = Array.isArray(node.required) ? new Set(node.required) : new Set()
      for (const [name, child] of Object.entries(properties)) {
        if (!required.has(name)) return `${path || "root"}.${name} is optional`
        const reason = walk(child, `${path}.${name}`, depth + 1)
        if (reason !== undefined) return reason
      }
    }
    if (node.items !== undefined) {
      const reason = walk(node.items, `${path}[]`, depth + 1)
      if (reason !== undefined) return reason
    }
    if (node.anyOf !== undefined) {
      if (!Array.isArray(node.anyOf)) return `${path || "root"} has malformed anyOf`
      for (const [index, child] of node.anyOf.entries()) {
        const reason = walk(child, `${path}.anyOf[${index}]`, depth + 1)
        if (reason !== undefined) return reason
      }
    }
    if (node.$defs !== undefined) {
      if (!isObject(node.$defs)) return `${path || "root"} has malformed $defs`
      for (const [name, child] of Object.entries(node.$defs)) {
        const reason = walk(child, `$defs.${name}`, depth + 1)
        if (reason !== undefined) return reason
      }
    }
    return undefined
  }
  const reason = walk(schema, "", 0)
  return reason === undefined ? { strict: true } : { strict: false, reason }
}
