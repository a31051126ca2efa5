/**
 * The JSON Schema a model sees for a tool's parameters, built from the parameters Schema with Effect's
 * `Schema.toJsonSchemaDocument` (the encoded side of `Schema.toCodecJson`). `make(schema, { strict })`
 * returns it ready for a `function` tool; in strict mode every object is closed (`additionalProperties:
 * false`), lists every property in `required`, optional properties become nullable (a `null` sent for
 * them is turned back into an absent key by `normalize`), `oneOf` becomes `anyOf` and unsupported
 * keywords are dropped (constraints among them are noted in the description; the decoder still
 * enforces them). `validate` checks a value against the strict subset and names each failing path.
 * Gotcha: what strict mode cannot express (records, tuples, `Schema.Unknown`, intersections) is a
 * definition-time error; choose `strict: false` for those schemas explicitly.
 * Why not Effect's `OpenAiStructuredOutput.toCodecOpenAI` (which agent structured output uses): for
 * tool arguments it is measurably worse. A `Schema.Number` becomes `anyOf [number, "Infinity" |
 * "-Infinity" | "NaN", null, null]` (a model may then send the string), tuples and records are re-shaped
 * into objects and `[key, value]` arrays the model must learn, and its codec reports the first issue,
 * where `validate` lists every failing path for the model to fix in one turn.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { ArgumentIssue } from "./ToolError.ts"

/** A JSON Schema node. */
export type JsonSchema = { [keyword: string]: unknown }

/** A compiled parameters schema: the JSON Schema to send plus what `normalize` needs to undo nullability. */
export interface Compiled {
  /** The root schema (`type: "object"`), with `$defs` when the schema is recursive or has identifiers. */
  readonly schema: JsonSchema
  /** Whether this was compiled for strict mode. */
  readonly strict: boolean
  /** Whether the root object has no properties (a zero-parameter tool). */
  readonly empty: boolean
}

/** Options for `make`. */
export interface MakeOptions {
  readonly strict: boolean
}

/** Object nodes → the property names that were optional and made nullable by strict mode. */
const nullableOptional = new WeakMap<object, ReadonlySet<string>>()
/** Object nodes → the property names that were optional in the Schema (strict mode lists them as required). */
const optionalKeys = new WeakMap<object, ReadonlySet<string>>()

/** The JSON Schema keywords that strict mode accepts and the conversion keeps (others are dropped or rebuilt). */
export const strictKeywords: ReadonlySet<string> = new Set([
  "type",
  "description",
  "title",
  "enum",
  "const",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "anyOf",
  "$ref",
  "pattern",
  "format",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minItems",
  "maxItems"
])

// rebuilt by `convert` / `convertObject` (and emitted in a stable order)
const skipped = new Set(["oneOf", "anyOf", "properties", "items", "required", "additionalProperties"])

const droppedConstraints = new Set(["minLength", "maxLength", "uniqueItems", "minProperties", "maxProperties"])

const impossible: Record<string, string> = {
  not: "negations (not)",
  if: "conditionals (if/then/else)",
  patternProperties: "records (patternProperties)",
  propertyNames: "records (propertyNames)",
  prefixItems: "tuples (prefixItems)",
  dependentSchemas: "dependent schemas",
  unevaluatedProperties: "unevaluatedProperties",
  contains: "contains"
}

const supportedFormats = new Set(["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"])

const isObject = (u: unknown): u is JsonSchema => typeof u === "object" && u !== null && !Array.isArray(u)

/** Build the JSON Schema for a parameters Schema; fails with a reason when strict mode cannot express it. */
export const make = (parameters: Schema.Constraint, options: MakeOptions): Result.Result<Compiled, string> => {
  const document = Schema.toJsonSchemaDocument(parameters, { onExcessProperty: "error", generateDescriptions: false })
  const { root: top, definitions } = inlineTopLevelRef(
    document.schema as JsonSchema,
    document.definitions as Record<string, JsonSchema>
  )
  const root = isEmptyStruct(top) ? emptyObject(top) : top
  if (!options.strict) {
    if (root.type !== "object") return Result.fail("the parameters schema must describe a JSON object")
    const schema = Object.keys(definitions).length > 0 ? { ...root, $defs: definitions } : root
    return Result.succeed({ schema, strict: false, empty: isEmptyObject(schema) })
  }
  const converted = convert(root, "")
  if (Result.isFailure(converted)) return Result.fail(converted.failure)
  const schema = converted.success
  if (schema.type !== "object") return Result.fail("the parameters schema must describe a JSON object")
  const defs = Object.keys(definitions)
  if (defs.length > 0) {
    const out: Record<string, JsonSchema> = {}
    for (const name of defs) {
      const def = convert(definitions[name] ?? {}, `$defs.${name}`)
      if (Result.isFailure(def)) return Result.fail(def.failure)
      out[name] = def.success
    }
    schema.$defs = out
  }
  return Result.succeed({ schema, strict: true, empty: isEmptyObject(schema) })
}

// A schema with an identifier (a Schema.Class, `.annotate({ identifier })`) is emitted as `{ $ref }` + `$defs`;
// the API wants the object itself at the root. The definition stays only if something else still refers to it.
const inlineTopLevelRef = (
  schema: JsonSchema,
  definitions: Record<string, JsonSchema>
): { readonly root: JsonSchema; readonly definitions: Record<string, JsonSchema> } => {
  const ref = typeof schema.$ref === "string" && schema.$ref.startsWith("#/$defs/") ? schema.$ref : undefined
  const name = ref?.slice("#/$defs/".length)
  if (ref === undefined || name === undefined || !Object.hasOwn(definitions, name)) return { root: schema, definitions }
  const { [name]: target, ...rest } = definitions
  const { $ref: _, ...annotations } = schema
  const root = { ...target, ...annotations }
  const stillReferenced = JSON.stringify([root, rest]).includes(JSON.stringify(ref))
  return { root, definitions: stillReferenced ? definitions : rest }
}

// Schema.Struct({}) is emitted as `{ not: { type: "null" } }` (any non-null value); tools want `{}`.
const isEmptyStruct = (schema: JsonSchema): boolean =>
  isObject(schema.not) && schema.not.type === "null" && Object.keys(schema.not).length === 1

const emptyObject = (schema: JsonSchema): JsonSchema => {
  const out: JsonSchema = { type: "object", properties: {}, required: [], additionalProperties: false }
  if (typeof schema.description === "string") out.description = schema.description
  return out
}

const isEmptyObject = (schema: JsonSchema): boolean =>
  schema.type === "object" && (!isObject(schema.properties) || Object.keys(schema.properties).length === 0)

const convert = (input: JsonSchema, path: string): Result.Result<JsonSchema, string> => {
  const at = path === "" ? "the root" : `"${path}"`
  const merged = mergeAllOf(input)
  if (merged === undefined)
    return Result.fail(`strict mode cannot express intersections (allOf) at ${at}; use strict: false`)
  const node = merged
  for (const keyword of Object.keys(node)) {
    const what = impossible[keyword]
    if (what !== undefined) return Result.fail(`strict mode cannot express ${what} at ${at}; use strict: false`)
  }
  if (typeof node.$ref === "string") return Result.succeed({ $ref: node.$ref })
  const branches = Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : undefined
  if (branches === undefined && node.type === undefined && node.enum === undefined && node.const === undefined) {
    return Result.fail(
      `strict mode cannot express a value of any type (Schema.Unknown / Any) at ${at}; use strict: false`
    )
  }
  const out: JsonSchema = {}
  const notes: Array<string> = []
  for (const [keyword, value] of Object.entries(node)) {
    if (skipped.has(keyword)) continue
    if (keyword === "format") {
      if (typeof value === "string" && supportedFormats.has(value)) out.format = value
      else notes.push(`format: ${String(value)}`)
    } else if (droppedConstraints.has(keyword)) {
      notes.push(`${keyword}: ${JSON.stringify(value)}`)
    } else if (strictKeywords.has(keyword)) {
      out[keyword] = value
    }
  }
  if (branches !== undefined) {
    const kept = branches.filter((b) => !isNonFiniteStrings(b))
    if (kept.length === 1 && isObject(kept[0]) && Object.keys(node).every((k) => k === "anyOf" || k === "oneOf")) {
      return convert(kept[0], path)
    }
    const converted: Array<JsonSchema> = []
    for (const [i, branch] of kept.entries()) {
      const r = convert(isObject(branch) ? branch : {}, path)
      if (Result.isFailure(r)) return Result.fail(r.failure.replace(at, `${at} (union member ${i})`))
      converted.push(r.success)
    }
    out.anyOf = converted
  }
  if (node.type === "object") {
    const r = convertObject(node, out, path)
    if (Result.isFailure(r)) return Result.fail(r.failure)
  }
  if (node.type === "array") {
    if (!isObject(node.items)) return Result.fail(`strict mode needs an item schema for the array at ${at}`)
    const items = convert(node.items, `${path}[]`)
    if (Result.isFailure(items)) return items
    out.items = items.success
  }
  if (notes.length > 0) {
    const note = `(checked on receipt: ${notes.join(", ")})`
    out.description = typeof out.description === "string" ? `${out.description} ${note}` : note
  }
  return Result.succeed(out)
}

// Checks are emitted as `allOf: [{ minimum: 1 }, …]`; merge those that only carry constraints (tightest wins).
const mergeable = new Set([
  "description",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "pattern",
  "format"
])
const lower = new Set(["minimum", "exclusiveMinimum", "minItems", "minLength"])
const upper = new Set(["maximum", "exclusiveMaximum", "maxItems", "maxLength"])

const mergeAllOf = (node: JsonSchema): JsonSchema | undefined => {
  if (!Array.isArray(node.allOf)) return node
  const { allOf, ...out } = node
  const patterns: Array<string> = typeof out.pattern === "string" ? [out.pattern] : []
  for (const member of allOf as Array<unknown>) {
    if (!isObject(member)) return undefined
    for (const [key, value] of Object.entries(member)) {
      if (!mergeable.has(key)) return undefined
      const current = out[key]
      if (key === "description") {
        out.description = typeof current === "string" ? `${current}; ${String(value)}` : value
      } else if (key === "pattern" && typeof value === "string") {
        patterns.push(value)
      } else if (typeof value === "number" && typeof current === "number" && (lower.has(key) || upper.has(key))) {
        out[key] = lower.has(key) ? Math.max(current, value) : Math.min(current, value)
      } else if (current !== undefined && current !== value) {
        return undefined
      } else {
        out[key] = value
      }
    }
  }
  if (patterns.length === 1) out.pattern = patterns[0]
  if (patterns.length > 1) out.pattern = `^${patterns.map((p) => `(?=[\\s\\S]*?(?:${p}))`).join("")}`
  return out
}

// `Schema.toCodecJson(Schema.Number)` also accepts "Infinity", "-Infinity" and "NaN"; a model never needs them.
const isNonFiniteStrings = (node: unknown): boolean =>
  isObject(node) &&
  node.type === "string" &&
  Array.isArray(node.enum) &&
  node.enum.length === 3 &&
  ["Infinity", "-Infinity", "NaN"].every((v) => (node.enum as Array<unknown>).includes(v))

const convertObject = (node: JsonSchema, out: JsonSchema, path: string): Result.Result<void, string> => {
  const at = path === "" ? "the root" : `"${path}"`
  if (node.additionalProperties !== undefined && node.additionalProperties !== false) {
    return Result.fail(`strict mode cannot express records or open objects at ${at}; use strict: false`)
  }
  const properties = isObject(node.properties) ? node.properties : {}
  const required = new Set(Array.isArray(node.required) ? node.required.filter((k) => typeof k === "string") : [])
  const props: Record<string, JsonSchema> = {}
  const madeNullable = new Set<string>()
  const optional = new Set<string>()
  for (const [key, value] of Object.entries(properties)) {
    const child = convert(isObject(value) ? value : {}, path === "" ? key : `${path}.${key}`)
    if (Result.isFailure(child)) return Result.fail(child.failure)
    if (!required.has(key)) optional.add(key)
    if (required.has(key) || acceptsNull(child.success)) {
      props[key] = child.success
    } else {
      props[key] = { anyOf: [child.success, { type: "null" }] }
      madeNullable.add(key)
    }
  }
  out.properties = props
  out.required = Object.keys(props)
  out.additionalProperties = false
  if (madeNullable.size > 0) nullableOptional.set(out, madeNullable)
  if (optional.size > 0) optionalKeys.set(out, optional)
  return Result.void
}

const acceptsNull = (node: JsonSchema): boolean =>
  node.type === "null" ||
  (Array.isArray(node.type) && node.type.includes("null")) ||
  (Array.isArray(node.enum) && node.enum.includes(null)) ||
  (Array.isArray(node.anyOf) && node.anyOf.some((b) => isObject(b) && acceptsNull(b)))

// ---------------------------------------------------------------------------------------------
// validation (the strict subset, plus string lengths)
// ---------------------------------------------------------------------------------------------

/**
 * Check a value against a compiled schema; every failing path is reported, in document order.
 * Lenient on one point: a key that was optional in the Schema may be absent even though strict mode lists it
 * in `required` (the decoder accepts that too).
 */
export const validate = (root: JsonSchema, value: unknown): ReadonlyArray<ArgumentIssue> => {
  const issues: Array<ArgumentIssue> = []
  check(root, root, value, "", issues)
  return issues
}

const resolve = (root: JsonSchema, node: JsonSchema): JsonSchema => {
  let current = node
  for (let i = 0; i < 64 && typeof current.$ref === "string"; i++) {
    const name = current.$ref.startsWith("#/$defs/") ? current.$ref.slice("#/$defs/".length) : undefined
    const defs = isObject(root.$defs) ? root.$defs : {}
    const next = name !== undefined && Object.hasOwn(defs, name) ? defs[name] : undefined
    if (!isObject(next)) return {}
    current = next
  }
  return current
}

const matchesType = (type: unknown, value: unknown): boolean => {
  if (Array.isArray(type)) return type.some((t) => matchesType(t, value))
  switch (type) {
    case "object":
      return isObject(value)
    case "array":
      return Array.isArray(value)
    case "string":
      return typeof value === "string"
    case "number":
      return typeof value === "number" && Number.isFinite(value)
    case "integer":
      return typeof value === "number" && Number.isInteger(value)
    case "boolean":
      return typeof value === "boolean"
    case "null":
      return value === null
    default:
      return true
  }
}

const finiteNote = (value: unknown): string =>
  typeof value === "number" && !Number.isFinite(value) ? " (a finite number)" : ""

const show = (value: unknown): string => {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value)
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

const join = (path: string, key: string | number): string =>
  typeof key === "number" ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`

const regexCache = new Map<string, RegExp>()
const regex = (pattern: string): RegExp | undefined => {
  let r = regexCache.get(pattern)
  if (r === undefined) {
    // The pattern comes from the developer's Schema (never from model data); invalid ones are ignored.
    const made = Result.try(() => new RegExp(pattern, "u")) // static-scan-allow: the developer-written schema pattern, not model data
    if (Result.isFailure(made)) return undefined
    r = made.success
    regexCache.set(pattern, r)
  }
  return r
}

const check = (root: JsonSchema, raw: JsonSchema, value: unknown, path: string, issues: Array<ArgumentIssue>): void => {
  const node = resolve(root, raw)
  const push = (message: string) => issues.push({ path, message })
  if (Array.isArray(node.anyOf)) {
    const branches = node.anyOf.filter(isObject)
    const results = branches.map((b) => {
      const sub: Array<ArgumentIssue> = []
      check(root, b, value, path, sub)
      return sub
    })
    if (results.some((r) => r.length === 0)) return
    const sameType = branches
      .map((b, i) => ({ b: resolve(root, b), i }))
      .filter(({ b }) => b.type !== undefined && matchesType(b.type, value))
    if (sameType.length === 1) {
      issues.push(...(results[sameType[0]!.i] ?? []))
      return
    }
    const expected = branches.map((b) => describeNode(resolve(root, b))).join(" or ")
    push(`Expected ${expected}${finiteNote(value)}, got ${show(value)}`)
    return
  }
  if (node.type !== undefined && !matchesType(node.type, value)) {
    push(`Expected ${describeNode(node)}${finiteNote(value)}, got ${show(value)}`)
    return
  }
  if (Array.isArray(node.enum) && !node.enum.some((e) => e === value)) {
    push(`Expected one of ${node.enum.map(show).join(", ")}, got ${show(value)}`)
    return
  }
  if (node.const !== undefined && node.const !== value) {
    push(`Expected ${show(node.const)}, got ${show(value)}`)
    return
  }
  if (typeof value === "number") checkNumber(node, value, push)
  if (typeof value === "string") checkString(node, value, push)
  if (Array.isArray(value)) {
    if (typeof node.minItems === "number" && value.length < node.minItems)
      push(`Expected at least ${node.minItems} items`)
    if (typeof node.maxItems === "number" && value.length > node.maxItems)
      push(`Expected at most ${node.maxItems} items`)
    if (isObject(node.items)) {
      const items = node.items
      for (const [i, item] of value.entries()) check(root, items, item, join(path, i), issues)
    }
  }
  if (isObject(value) && (node.type === "object" || isObject(node.properties)))
    checkObject(root, node, value, path, issues)
}

const checkNumber = (node: JsonSchema, value: number, push: (message: string) => void): void => {
  if (typeof node.minimum === "number" && value < node.minimum) push(`Expected a value ≥ ${node.minimum}, got ${value}`)
  if (typeof node.maximum === "number" && value > node.maximum) push(`Expected a value ≤ ${node.maximum}, got ${value}`)
  if (typeof node.exclusiveMinimum === "number" && value <= node.exclusiveMinimum) {
    push(`Expected a value > ${node.exclusiveMinimum}, got ${value}`)
  }
  if (typeof node.exclusiveMaximum === "number" && value >= node.exclusiveMaximum) {
    push(`Expected a value < ${node.exclusiveMaximum}, got ${value}`)
  }
  if (typeof node.multipleOf === "number" && node.multipleOf > 0 && !Number.isInteger(value / node.multipleOf)) {
    push(`Expected a multiple of ${node.multipleOf}, got ${value}`)
  }
}

const checkString = (node: JsonSchema, value: string, push: (message: string) => void): void => {
  const length = typeof node.minLength === "number" || typeof node.maxLength === "number" ? [...value].length : 0
  if (typeof node.minLength === "number" && length < node.minLength) {
    push(`Expected a string of at least ${node.minLength} characters`)
  }
  if (typeof node.maxLength === "number" && length > node.maxLength) {
    push(`Expected a string of at most ${node.maxLength} characters`)
  }
  if (typeof node.pattern === "string" && regex(node.pattern)?.test(value) === false) {
    push(`Expected a string matching ${node.pattern}`)
  }
}

const checkObject = (
  root: JsonSchema,
  node: JsonSchema,
  value: JsonSchema,
  path: string,
  issues: Array<ArgumentIssue>
): void => {
  const properties = isObject(node.properties) ? node.properties : {}
  const required = Array.isArray(node.required) ? node.required : []
  const optional = optionalKeys.get(node)
  for (const key of required) {
    if (typeof key === "string" && !Object.hasOwn(value, key) && optional?.has(key) !== true) {
      issues.push({ path: join(path, key), message: "Missing required property" })
    }
  }
  for (const [key, child] of Object.entries(value)) {
    const schema = Object.hasOwn(properties, key) ? properties[key] : undefined
    if (isObject(schema)) check(root, schema, child, join(path, key), issues)
    else if (node.additionalProperties === false) issues.push({ path: join(path, key), message: "Unexpected property" })
    else if (isObject(node.additionalProperties)) check(root, node.additionalProperties, child, join(path, key), issues)
  }
}

const describeNode = (node: JsonSchema): string => {
  if (Array.isArray(node.enum)) return `one of ${node.enum.map(show).join(", ")}`
  if (node.const !== undefined) return show(node.const)
  const type = Array.isArray(node.type) ? node.type.join(" or ") : typeof node.type === "string" ? node.type : "a value"
  switch (type) {
    case "object":
      return "an object"
    case "array":
      return "an array"
    case "integer":
      return "an integer"
    case "null":
      return "null"
    default:
      return type === "a value" ? type : `a ${type}`
  }
}

// ---------------------------------------------------------------------------------------------
// optional-as-null
// ---------------------------------------------------------------------------------------------

/**
 * Undo strict mode's nullability: drop keys that were optional in the Schema and arrived as `null`.
 * Call it on a value that passed `validate`; it returns a new value and never mutates its input.
 */
export const normalize = (root: JsonSchema, value: unknown): unknown => undoNulls(root, root, value)

const matches = (root: JsonSchema, node: JsonSchema, value: unknown): boolean => {
  const issues: Array<ArgumentIssue> = []
  check(root, node, value, "", issues)
  return issues.length === 0
}

const undoNulls = (root: JsonSchema, raw: JsonSchema, value: unknown): unknown => {
  const node = resolve(root, raw)
  if (Array.isArray(node.anyOf)) {
    for (const branch of node.anyOf) {
      if (isObject(branch) && matches(root, branch, value)) {
        return undoNulls(root, branch, value)
      }
    }
    return value
  }
  if (Array.isArray(value) && isObject(node.items)) {
    const items = node.items
    return value.map((item) => undoNulls(root, items, item))
  }
  if (isObject(value) && isObject(node.properties)) {
    const properties = node.properties
    const nullable = nullableOptional.get(node)
    const out: JsonSchema = {}
    for (const [key, child] of Object.entries(value)) {
      if (child === null && nullable?.has(key) === true) continue
      const schema = Object.hasOwn(properties, key) ? properties[key] : undefined
      const next = isObject(schema) ? undoNulls(root, schema, child) : child
      Object.defineProperty(out, key, { value: next, enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  return value
}

/**
 * The inverse of `normalize`: what a strict-mode model sends for a value, with `null` for absent optional keys.
 * Used by tests and examples to build arguments; values must already be in their JSON-encoded form.
 */
export const toWire = (root: JsonSchema, value: unknown): unknown => addNulls(root, root, value)

const addNulls = (root: JsonSchema, raw: JsonSchema, value: unknown): unknown => {
  const node = resolve(root, raw)
  if (Array.isArray(node.anyOf)) {
    for (const branch of node.anyOf) {
      if (isObject(branch) && matches(root, branch, addNulls(root, branch, value))) return addNulls(root, branch, value)
    }
    return value
  }
  if (Array.isArray(value) && isObject(node.items)) {
    const items = node.items
    return value.map((item) => addNulls(root, items, item))
  }
  if (isObject(value) && isObject(node.properties)) {
    const out: JsonSchema = {}
    for (const [key, schema] of Object.entries(node.properties)) {
      if (Object.hasOwn(value, key)) out[key] = isObject(schema) ? addNulls(root, schema, value[key]) : value[key]
      else if (nullableOptional.get(node)?.has(key) === true || (isObject(schema) && acceptsNull(schema)))
        out[key] = null
    }
    for (const [key, child] of Object.entries(value)) if (!Object.hasOwn(out, key)) out[key] = child
    return out
  }
  return value
}
