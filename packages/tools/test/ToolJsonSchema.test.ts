/**
 * The strict-schema matrix (snapshots of the parameters JSON Schema sent to the model), definition-time
 * errors for what strict mode cannot express, non-strict mode, and the property that the generated JSON
 * Schema and the decoder agree on generated and mutated values.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Result, Schema } from "effect"
import * as fc from "fast-check"
import * as Tool from "../src/Tool.ts"
import { ToolDefinitionError } from "../src/ToolError.ts"
import * as ToolJsonSchema from "../src/ToolJsonSchema.ts"

const params = (parameters: Tool.AnySchema, strict = true) =>
  Tool.make("t", { description: "d", parameters, strict }).definition.parameters

interface Category {
  readonly name: string
  readonly children: ReadonlyArray<Category>
}
const Category: Schema.Codec<Category> = Schema.Struct({
  name: Schema.String,
  children: Schema.Array(Schema.suspend((): Schema.Codec<Category> => Category))
}).annotate({ identifier: "Category" })

const Shape = Schema.Union([
  Schema.TaggedStruct("Circle", { radius: Schema.Finite }),
  Schema.TaggedStruct("Square", { side: Schema.Finite })
])

/** The schemas of the matrix, shared by the snapshots and the agreement property. */
const matrix = {
  nested: Schema.Struct({ address: Schema.Struct({ city: Schema.String, zip: Schema.String }) }),
  arrays: Schema.Struct({ tags: Schema.Array(Schema.String), matrix: Schema.Array(Schema.Array(Schema.Finite)) }),
  unions: Schema.Struct({ value: Schema.Union([Schema.String, Schema.Finite, Schema.Boolean]) }),
  literals: Schema.Struct({ unit: Schema.Literals(["celsius", "fahrenheit"]), version: Schema.Literal(2) }),
  optional: Schema.Struct({
    a: Schema.optionalKey(Schema.String),
    b: Schema.optional(Schema.Int),
    c: Schema.optionalKey(Schema.NullOr(Schema.String))
  }),
  nullable: Schema.Struct({ note: Schema.NullOr(Schema.String) }),
  refinements: Schema.Struct({
    days: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 7 })),
    code: Schema.String.check(Schema.isPattern(/^[A-Z]{3}$/u)),
    items: Schema.Array(Schema.String).check(Schema.isMinLength(1), Schema.isMaxLength(3))
  }),
  branded: Schema.Struct({ userId: Schema.String.pipe(Schema.brand("UserId")) }),
  recursive: Schema.Struct({ root: Category }),
  tagged: Schema.Struct({ shape: Shape }),
  numbers: Schema.Struct({ any: Schema.Number, finite: Schema.Finite }),
  nestedOptional: Schema.Struct({
    items: Schema.Array(Schema.Struct({ name: Schema.String, note: Schema.optionalKey(Schema.String) })),
    shape: Schema.optionalKey(Shape),
    maybe: Schema.optionalKey(Schema.NullOr(Schema.Struct({ deep: Schema.optionalKey(Schema.Boolean) })))
  }),
  annotated: Schema.Struct({
    city: Schema.String.annotate({ title: "City", description: "The city name" })
  }).annotate({ description: "Where to look" })
}

describe("strict-schema matrix", () => {
  it("nested structs: every object is closed and lists every property", () => {
    expect(params(matrix.nested)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "address": {
            "additionalProperties": false,
            "properties": {
              "city": {
                "type": "string",
              },
              "zip": {
                "type": "string",
              },
            },
            "required": [
              "city",
              "zip",
            ],
            "type": "object",
          },
        },
        "required": [
          "address",
        ],
        "type": "object",
      }
    `)
  })
  it("arrays", () => {
    expect(params(matrix.arrays)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "matrix": {
            "items": {
              "items": {
                "type": "number",
              },
              "type": "array",
            },
            "type": "array",
          },
          "tags": {
            "items": {
              "type": "string",
            },
            "type": "array",
          },
        },
        "required": [
          "tags",
          "matrix",
        ],
        "type": "object",
      }
    `)
  })
  it("unions become anyOf", () => {
    expect(params(matrix.unions)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "value": {
            "anyOf": [
              {
                "type": "string",
              },
              {
                "type": "number",
              },
              {
                "type": "boolean",
              },
            ],
          },
        },
        "required": [
          "value",
        ],
        "type": "object",
      }
    `)
  })
  it("literals become enums", () => {
    expect(params(matrix.literals)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "unit": {
            "enum": [
              "celsius",
              "fahrenheit",
            ],
            "type": "string",
          },
          "version": {
            "enum": [
              2,
            ],
            "type": "number",
          },
        },
        "required": [
          "unit",
          "version",
        ],
        "type": "object",
      }
    `)
  })
  it("optional fields become required and nullable (already-nullable ones are not wrapped twice)", () => {
    expect(params(matrix.optional)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "a": {
            "anyOf": [
              {
                "type": "string",
              },
              {
                "type": "null",
              },
            ],
          },
          "b": {
            "anyOf": [
              {
                "maximum": 9007199254740991,
                "minimum": -9007199254740991,
                "type": "integer",
              },
              {
                "type": "null",
              },
            ],
          },
          "c": {
            "anyOf": [
              {
                "type": "string",
              },
              {
                "type": "null",
              },
            ],
          },
        },
        "required": [
          "a",
          "b",
          "c",
        ],
        "type": "object",
      }
    `)
  })
  it("nullable", () => {
    expect(params(matrix.nullable)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "note": {
            "anyOf": [
              {
                "type": "string",
              },
              {
                "type": "null",
              },
            ],
          },
        },
        "required": [
          "note",
        ],
        "type": "object",
      }
    `)
  })
  it("refinements: supported keywords kept, others noted in the description", () => {
    expect(params(matrix.refinements)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "code": {
            "pattern": "^[A-Z]{3}$",
            "type": "string",
          },
          "days": {
            "maximum": 7,
            "minimum": 1,
            "type": "integer",
          },
          "items": {
            "items": {
              "type": "string",
            },
            "maxItems": 3,
            "minItems": 1,
            "type": "array",
          },
        },
        "required": [
          "days",
          "code",
          "items",
        ],
        "type": "object",
      }
    `)
    expect(params(Schema.Struct({ name: Schema.String.check(Schema.isMinLength(3)) }))).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "name": {
            "description": "(checked on receipt: minLength: 2)",
            "type": "string",
          },
        },
        "required": [
          "name",
        ],
        "type": "object",
      }
    `)
  })
  it("branded types are their underlying type", () => {
    expect(params(matrix.branded)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "userId": {
            "type": "string",
          },
        },
        "required": [
          "userId",
        ],
        "type": "object",
      }
    `)
  })
  it("recursive schemas use $defs", () => {
    expect(params(matrix.recursive)).toMatchInlineSnapshot(`
      {
        "$defs": {
          "Category": {
            "additionalProperties": false,
            "properties": {
              "children": {
                "items": {
                  "$ref": "#/$defs/Category",
                },
                "type": "array",
              },
              "name": {
                "type": "string",
              },
            },
            "required": [
              "name",
              "children",
            ],
            "type": "object",
          },
        },
        "additionalProperties": false,
        "properties": {
          "root": {
            "$ref": "#/$defs/Category",
          },
        },
        "required": [
          "root",
        ],
        "type": "object",
      }
    `)
  })
  it("tagged unions", () => {
    expect(params(matrix.tagged)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "shape": {
            "anyOf": [
              {
                "additionalProperties": false,
                "properties": {
                  "_tag": {
                    "enum": [
                      "Circle",
                    ],
                    "type": "string",
                  },
                  "radius": {
                    "type": "number",
                  },
                },
                "required": [
                  "_tag",
                  "radius",
                ],
                "type": "object",
              },
              {
                "additionalProperties": false,
                "properties": {
                  "_tag": {
                    "enum": [
                      "Square",
                    ],
                    "type": "string",
                  },
                  "side": {
                    "type": "number",
                  },
                },
                "required": [
                  "_tag",
                  "side",
                ],
                "type": "object",
              },
            ],
          },
        },
        "required": [
          "shape",
        ],
        "type": "object",
      }
    `)
  })
  it("Schema.Number drops the non-finite string encodings", () => {
    expect(params(matrix.numbers)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "any": {
            "type": "number",
          },
          "finite": {
            "type": "number",
          },
        },
        "required": [
          "any",
          "finite",
        ],
        "type": "object",
      }
    `)
  })
  it("descriptions and titles are carried over", () => {
    expect(params(matrix.annotated)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "description": "Where to look",
        "properties": {
          "city": {
            "description": "The city name",
            "title": "City",
            "type": "string",
          },
        },
        "required": [
          "city",
        ],
        "type": "object",
      }
    `)
  })
  it("Schema.Class and identified structs are inlined at the root", () => {
    class Args extends Schema.Class<Args>("Args")({ city: Schema.String }) {}
    expect(params(Args)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "city": {
            "type": "string",
          },
        },
        "required": [
          "city",
        ],
        "type": "object",
      }
    `)
    expect(params(Schema.Struct({ a: Schema.String }).annotate({ identifier: "Named" }))).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "a": {
            "type": "string",
          },
        },
        "required": [
          "a",
        ],
        "type": "object",
      }
    `)
  })
  it("a recursive root keeps its definition for the inner references", () => {
    expect(params(Category)).toMatchInlineSnapshot(`
      {
        "$defs": {
          "Category": {
            "additionalProperties": false,
            "properties": {
              "children": {
                "items": {
                  "$ref": "#/$defs/Category",
                },
                "type": "array",
              },
              "name": {
                "type": "string",
              },
            },
            "required": [
              "name",
              "children",
            ],
            "type": "object",
          },
        },
        "additionalProperties": false,
        "properties": {
          "children": {
            "items": {
              "$ref": "#/$defs/Category",
            },
            "type": "array",
          },
          "name": {
            "type": "string",
          },
        },
        "required": [
          "name",
          "children",
        ],
        "type": "object",
      }
    `)
  })
  it("no parameters: an empty closed object", () => {
    expect(params(Tool.NoParameters)).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {},
        "required": [],
        "type": "object",
      }
    `)
  })
  it("the full definition", () => {
    expect(
      Tool.make("get_weather", { description: "Weather", parameters: matrix.nested }).definition
    ).toMatchInlineSnapshot(`
        {
          "description": "Weather",
          "name": "get_weather",
          "parameters": {
            "additionalProperties": false,
            "properties": {
              "address": {
                "additionalProperties": false,
                "properties": {
                  "city": {
                    "type": "string",
                  },
                  "zip": {
                    "type": "string",
                  },
                },
                "required": [
                  "city",
                  "zip",
                ],
                "type": "object",
              },
            },
            "required": [
              "address",
            ],
            "type": "object",
          },
          "strict": true,
          "type": "function",
        }
      `)
  })
  it("no unsupported keyword appears anywhere in the matrix", () => {
    const allowed = new Set([
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
      "$defs",
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
    const walk = (node: unknown, inProperties: boolean): void => {
      if (Array.isArray(node)) {
        for (const n of node) walk(n, false)
        return
      }
      if (typeof node !== "object" || node === null) return
      for (const [key, value] of Object.entries(node)) {
        if (!inProperties) assert.isTrue(allowed.has(key), `unsupported keyword ${key}`)
        walk(value, !inProperties && (key === "properties" || key === "$defs"))
      }
    }
    for (const schema of Object.values(matrix)) walk(params(schema), false)
  })
})

describe("definition-time errors", () => {
  const strictError = (parameters: Tool.AnySchema) => {
    try {
      Tool.make("t", { description: "d", parameters })
    } catch (error) {
      assert.instanceOf(error, ToolDefinitionError)
      return (error as ToolDefinitionError).message
    }
    return assert.fail("expected a ToolDefinitionError")
  }
  it("records cannot be strict", () => {
    expect(strictError(Schema.Struct({ r: Schema.Record(Schema.String, Schema.Number) }))).toMatchInlineSnapshot(
      `"Tool "t": strict mode cannot express records or open objects at "r"; use strict: false"`
    )
  })
  it("tuples cannot be strict", () => {
    expect(strictError(Schema.Struct({ t: Schema.Tuple([Schema.String, Schema.Number]) }))).toMatchInlineSnapshot(
      `"Tool "t": strict mode cannot express tuples (prefixItems) at "t"; use strict: false"`
    )
  })
  it("Schema.Unknown cannot be strict", () => {
    expect(strictError(Schema.Struct({ u: Schema.Unknown }))).toMatchInlineSnapshot(
      `"Tool "t": strict mode cannot express a value of any type (Schema.Unknown / Any) at "u"; use strict: false"`
    )
  })
  it("the root must be an object", () => {
    expect(strictError(Schema.String)).toMatchInlineSnapshot(
      `"Tool "t": the parameters schema must describe a JSON object"`
    )
  })
  it("non-strict mode, chosen explicitly, accepts records and tuples", () => {
    const schema = Schema.Struct({ r: Schema.Record(Schema.String, Schema.Number), t: Schema.Tuple([Schema.String]) })
    const tool = Tool.make("t", { description: "d", parameters: schema, strict: false })
    assert.strictEqual(tool.definition.strict, false)
    expect(tool.definition.parameters).toMatchInlineSnapshot(`
      {
        "additionalProperties": false,
        "properties": {
          "r": {
            "additionalProperties": {
              "anyOf": [
                {
                  "type": "number",
                },
                {
                  "enum": [
                    "Infinity",
                    "-Infinity",
                    "NaN",
                  ],
                  "type": "string",
                },
              ],
            },
            "type": "object",
          },
          "t": {
            "maxItems": 1,
            "minItems": 1,
            "prefixItems": [
              {
                "type": "string",
              },
            ],
            "type": "array",
          },
        },
        "required": [
          "r",
          "t",
        ],
        "type": "object",
      }
    `)
  })
})

// ---------------------------------------------------------------------------------------------
// agreement: the JSON Schema accepts exactly what the decoder accepts
// ---------------------------------------------------------------------------------------------

/** What the runtime does after the JSON Schema check: undo optional-as-null and decode with the JSON codec. */
const decoderAccepts = (schema: Tool.AnySchema, compiled: ToolJsonSchema.Compiled, wire: unknown): boolean =>
  Result.isSuccess(
    Schema.decodeUnknownExit(Schema.toCodecJson(schema))(ToolJsonSchema.normalize(compiled.schema, wire), {
      onExcessProperty: "error"
    }).pipe((exit) => (exit._tag === "Success" ? Result.succeed(true) : Result.fail(false)))
  )

type Path = ReadonlyArray<string | number>

const positions = (value: unknown, path: Path = []): Array<Path> => {
  const out: Array<Path> = [path]
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...positions(v, [...path, i]))
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push(...positions(v, [...path, k]))
  }
  return out
}

const update = (value: unknown, path: Path, f: (v: unknown) => unknown): unknown => {
  if (path.length === 0) return f(value)
  const [head, ...rest] = path
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? update(v, rest, f) : v))
  const obj = value as Record<string, unknown>
  return { ...obj, [head as string]: update(obj[head as string], rest, f) }
}

type Mutation = { kind: "replace"; with: unknown } | { kind: "add"; key: string } | { kind: "delete" }

const mutate = (value: unknown, path: Path, m: Mutation): unknown =>
  update(value, path, (v) => {
    if (m.kind === "replace") return m.with
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v
    if (m.kind === "add") return { ...v, [`x_${m.key}`]: 1 }
    const keys = Object.keys(v)
    if (keys.length === 0) return v
    const { [keys[0]!]: _, ...rest } = v as Record<string, unknown>
    return rest
  })

// JSON values that exclude the non-finite strings Schema.Number's JSON codec also accepts (documented gap).
const jsonValue = fc.jsonValue({ maxDepth: 2 }).filter((v) => v !== "Infinity" && v !== "-Infinity" && v !== "NaN")
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  jsonValue.map((w) => ({ kind: "replace" as const, with: w })),
  fc.string({ minLength: 1, maxLength: 4 }).map((key) => ({ kind: "add" as const, key })),
  fc.constant({ kind: "delete" as const })
)

describe("JSON Schema / decoder agreement (property)", () => {
  for (const [name, schema] of Object.entries(matrix) as Array<[string, Tool.AnySchema]>) {
    it.effect(`${name}: generated values pass both; mutated values get the same verdict from both`, () =>
      Effect.gen(function* () {
        const compiled = Tool.make("t", { description: "d", parameters: schema }).jsonSchema
        const values = yield* Arbitrary.sampleEffect(Arbitrary.schema(schema), { count: 60, seed: 42, size: 8 })
        const encode = Schema.encodeSync(Schema.toCodecJson(schema))
        // Schema.Number's JSON codec writes non-finite numbers as strings; the strict schema (by design) and the
        // model never use them, so such samples are left out (a documented narrowing, tested in Toolkit.test.ts).
        const wires = values
          .map((v) => ToolJsonSchema.toWire(compiled.schema, encode(v)))
          .filter((w) => !/"(-?Infinity|NaN)"/.test(JSON.stringify(w)))
        assert.isAbove(wires.length, 10)
        for (const wire of wires) {
          assert.deepStrictEqual(ToolJsonSchema.validate(compiled.schema, wire), [], JSON.stringify(wire))
          assert.isTrue(decoderAccepts(schema, compiled, wire), JSON.stringify(wire))
        }
        fc.assert(
          fc.property(fc.nat(wires.length - 1), fc.nat(), mutation, (i, pick, m) => {
            const wire = wires[i]
            const all = positions(wire)
            const mutated = mutate(wire, all[pick % all.length]!, m)
            const bySchema = ToolJsonSchema.validate(compiled.schema, mutated).length === 0
            const byDecoder = decoderAccepts(schema, compiled, mutated)
            return bySchema === byDecoder
          }),
          { seed: 7, numRuns: 300 }
        )
      })
    )
  }
})
