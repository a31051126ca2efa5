/**
 * Shared helpers for the tools tests: building `function_call` items and reading error outputs.
 */
import { assert } from "@effect/vitest"
import type { ResponsesSchema } from "@volley/core"
import { Schema } from "effect"
import type * as Toolkit from "../src/Toolkit.ts"

let next = 0

/** A `function_call` item as the model would send it. */
export const call = (name: string, args: string | object, callId?: string): ResponsesSchema.FunctionCall => ({
  type: "function_call",
  call_id: callId ?? `call_${++next}`,
  name,
  arguments: typeof args === "string" ? args : JSON.stringify(args)
})

/** The `{"error":{type,message}}` payload of an output, or undefined when it is not an error output. */
export const errorOf = (output: ResponsesSchema.FunctionCallOutput): { type: string; message: string } | undefined => {
  if (typeof output.output !== "string") return undefined
  try {
    const parsed = JSON.parse(output.output) as { error?: { type: string; message: string } }
    return parsed.error
  } catch {
    return undefined
  }
}

/** Asserts that a result is an error output of `type` in the fed-back shape; returns its message. */
export const expectError = (result: Toolkit.ToolCallResult, type: string): string => {
  const error = errorOf(result.output)
  assert.isDefined(error, `expected an error output, got ${String(result.output.output)}`)
  assert.strictEqual(error!.type, type)
  assert.deepStrictEqual(Object.keys(JSON.parse(result.output.output as string)), ["error"])
  assert.deepStrictEqual(Object.keys(JSON.parse(result.output.output as string).error), ["type", "message"])
  return error!.message
}

/** The typed failure of the test weather tool. */
export class CityNotFound extends Schema.TaggedError<CityNotFound>()("CityNotFound", { city: Schema.String }) {}
