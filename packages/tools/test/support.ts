/**
 * Shared helpers for the tools tests: building `function_call` items and reading error outputs.
 */
import type { ResponsesSchema } from "@volley/core"

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
