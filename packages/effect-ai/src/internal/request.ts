/**
 * effect/ai provider options to a Responses `CreateRequest`: the prompt's system, user, assistant
 * and tool messages become input items (tool calls `function_call`, tool results
 * `function_call_output`), tools become function tools, the tool choice and a JSON response format
 * (`text.format` json_schema) are carried over. Gotcha: reasoning parts and approval parts have no
 * Responses input form here and are dropped; files become `input_image` / `input_file` parts.
 */
import type { ResponsesSchema } from "@volley/core"
import * as Effect from "effect/Effect"
import * as AiError from "effect/ai/AiError"
import type * as LanguageModel from "effect/ai/LanguageModel"
import type * as Prompt from "effect/ai/Prompt"
import * as Tool from "effect/ai/Tool"
import type * as Schema from "effect/Schema"

/** What the request builder needs besides the effect/ai options. */
export interface RequestSettings {
  readonly model: string
  /** Extra request fields (temperature, `provider`, `reasoning`, …), merged under the mapped ones. */
  readonly config: Readonly<Record<string, unknown>>
  readonly strictTools: boolean
  /** Send `text.format` json_schema with `strict: true` (the transformer closes every object). */
  readonly strictOutput: boolean
  readonly codecTransformer: LanguageModel.CodecTransformer
}

/** Builds the request, or fails with `AiError` (a schema the transformer refuses, a bad file part). */
export const toRequest = (
  settings: RequestSettings,
  options: LanguageModel.ProviderOptions,
  method: string
): Effect.Effect<ResponsesSchema.CreateRequest, AiError.AiError> =>
  Effect.gen(function* () {
    const input = options.prompt.content.flatMap(messageItems)
    const tools = yield* Effect.forEach(options.tools, (tool) => toolDefinition(settings, tool, method))
    const format =
      options.responseFormat.type === "json"
        ? yield* jsonFormat(settings, options.responseFormat.objectName, options.responseFormat.schema, method)
        : undefined
    const base = settings.config as Partial<ResponsesSchema.CreateRequest>
    return {
      ...base,
      model: settings.model,
      input,
      ...(tools.length === 0 ? {} : { tools, tool_choice: toolChoice(options.toolChoice) }),
      ...(format === undefined ? {} : { text: { ...base.text, format } })
    } as ResponsesSchema.CreateRequest
  })

const messageItems = (message: Prompt.Message): ReadonlyArray<ResponsesSchema.InputItem> => {
  switch (message.role) {
    case "system":
      return [{ type: "message", role: "system", content: message.content }]
    case "user":
      return [{ type: "message", role: "user", content: message.content.map(userPart) }]
    case "assistant": {
      const items: Array<ResponsesSchema.InputItem> = []
      for (const part of message.content) {
        if (part.type === "text") {
          items.push({ type: "message", role: "assistant", content: [{ type: "output_text", text: part.text }] })
        } else if (part.type === "tool-call" && part.providerExecuted !== true) {
          items.push({ type: "function_call", call_id: part.id, name: part.name, arguments: jsonText(part.params) })
        }
      }
      return items
    }
    case "tool":
      return message.content.flatMap(
        (part): ReadonlyArray<ResponsesSchema.InputItem> =>
          part.type === "tool-result"
            ? [{ type: "function_call_output", call_id: part.id, output: resultText(part.result) }]
            : []
      )
  }
}

const userPart = (part: Prompt.UserMessagePart): ResponsesSchema.ContentPart => {
  if (part.type === "text") return { type: "input_text", text: part.text }
  const url = fileUrl(part)
  if (part.mediaType.startsWith("image/")) return { type: "input_image", image_url: url, detail: "auto" }
  return part.data instanceof URL
    ? { type: "input_file", file_url: url, ...(part.fileName === undefined ? {} : { filename: part.fileName }) }
    : { type: "input_file", file_data: url, filename: part.fileName ?? "file" }
}

const fileUrl = (part: Prompt.FilePart): string => {
  if (part.data instanceof URL) return part.data.toString()
  if (typeof part.data === "string")
    return part.data.startsWith("data:") || /^https?:\/\//.test(part.data)
      ? part.data
      : `data:${part.mediaType};base64,${part.data}`
  return `data:${part.mediaType};base64,${Buffer.from(part.data).toString("base64")}`
}

const jsonText = (value: unknown): string => (typeof value === "string" ? value : (JSON.stringify(value) ?? "null"))

const resultText = (value: unknown): string => (typeof value === "string" ? value : (JSON.stringify(value) ?? "null"))

const toolDefinition = (
  settings: RequestSettings,
  tool: Tool.Any,
  method: string
): Effect.Effect<ResponsesSchema.FunctionTool, AiError.AiError> =>
  Effect.gen(function* () {
    const strict = Tool.getStrictMode(tool) ?? settings.strictTools
    const parameters = strict
      ? yield* transform(() => Tool.getJsonSchema(tool, { transformer: settings.codecTransformer }), method)
      : Tool.getJsonSchema(tool)
    const description = Tool.getDescription(tool)
    return {
      type: "function",
      name: tool.name,
      ...(description === undefined ? {} : { description }),
      parameters: parameters as Record<string, unknown>,
      strict
    }
  })

const jsonFormat = (
  settings: RequestSettings,
  name: string,
  schema: Schema.Top,
  method: string
): Effect.Effect<ResponsesSchema.TextFormat, AiError.AiError> =>
  Effect.map(
    transform(() => settings.codecTransformer(schema as never).jsonSchema, method),
    (jsonSchema) => ({
      type: "json_schema",
      name: validName(name),
      schema: jsonSchema as Record<string, unknown>,
      strict: settings.strictOutput
    })
  )

/** `text.format.name` allows `[a-zA-Z0-9_-]{1,64}`. */
const validName = (name: string): string => name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64) || "output"

/** Runs a codec transformer (a throwing API) as an Effect: a refused schema is `UnsupportedSchemaError`. */
const transform = <A>(f: () => A, method: string): Effect.Effect<A, AiError.AiError> =>
  Effect.try({
    try: f,
    catch: (error) =>
      AiError.make({
        module: "VolleyLanguageModel",
        method,
        reason: new AiError.UnsupportedSchemaError({
          description: error instanceof Error ? error.message : String(error)
        })
      })
  })

const toolChoice = (choice: LanguageModel.ProviderOptions["toolChoice"]): ResponsesSchema.ToolChoice => {
  if (typeof choice === "string") return choice
  if ("tool" in choice) return { type: "function", name: choice.tool }
  return choice.mode === "required" ? "required" : "auto"
}
