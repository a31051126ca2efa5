/**
 * The Responses API wire format (`POST /v1/responses`) as Effect Schemas: the request body, input
 * and output items, the response object and every stream event seen in recorded traffic.
 * Entry points: `CreateRequest`, `InputItem`, `OutputItem`, `Response`, `StreamEvent`, and the fast
 * dispatching decoders `decodeOutputItem` / `decodeStreamEvent` used on the hot path.
 * Gotcha: an item or event whose `type` we do not know decodes as `UnknownItem` / `UnknownEvent`,
 * kept verbatim (all keys) so it can go back to the API untouched; a *known* type with a malformed
 * body is a `SchemaError` naming the path. Known items also keep keys we do not model, so history
 * round-trips byte-for-byte. Wire snake_case stays in this module.
 */
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** Extra keys are kept on every wire object, so what the API sent goes back to it unchanged. */
const Rest = [Schema.Record(Schema.String, Schema.Unknown)] as const

const open = <const Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.StructWithRest(Schema.Struct(fields), Rest)

const optional = Schema.optionalKey

/**
 * The `type` of an item, part or event we do not model. At run time it is the tag the server sent;
 * at the type level it is a string pattern no known tag matches, so `item.type === "message"`
 * narrows unknown items away (a plain `string` member would defeat discriminated-union narrowing).
 */
export type UnknownType = `${string}\u0000unknown`

const unknownOf = (known: ReadonlySet<string>, what: string) =>
  Schema.StructWithRest(
    Schema.Struct({
      type: Schema.String.check(
        Schema.makeFilter((type: string) => !known.has(type) || `known ${what} type "${type}" did not match its schema`)
      ) as unknown as Schema.Codec<UnknownType, UnknownType>
    }),
    Rest
  )

// ---------------------------------------------------------------------------------------------
// content parts
// ---------------------------------------------------------------------------------------------

/** User text input. */
export const InputText = open({ type: Schema.Literal("input_text"), text: Schema.String })
/** An image input, by URL (incl. data URLs) or uploaded file id. */
export const InputImage = open({
  type: Schema.Literal("input_image"),
  image_url: optional(Schema.NullOr(Schema.String)),
  file_id: optional(Schema.NullOr(Schema.String)),
  detail: optional(Schema.String)
})
/** A file input. */
export const InputFile = open({
  type: Schema.Literal("input_file"),
  file_id: optional(Schema.NullOr(Schema.String)),
  file_url: optional(Schema.String),
  file_data: optional(Schema.String),
  filename: optional(Schema.String)
})
/** Assistant text output (also sent back in history). */
export const OutputText = open({
  type: Schema.Literal("output_text"),
  text: Schema.String,
  annotations: optional(Schema.Array(Schema.Unknown)),
  logprobs: optional(Schema.Array(Schema.Unknown))
})
/** A refusal by the model. */
export const Refusal = open({ type: Schema.Literal("refusal"), refusal: Schema.String })
/** A reasoning summary fragment. */
export const SummaryText = open({ type: Schema.Literal("summary_text"), text: Schema.String })
/** Raw reasoning text (open-weight models). */
export const ReasoningText = open({ type: Schema.Literal("reasoning_text"), text: Schema.String })

const knownContentTypes = new Set([
  "input_text",
  "input_image",
  "input_file",
  "output_text",
  "refusal",
  "summary_text",
  "reasoning_text"
])
/** A content part whose type we do not model, kept verbatim. */
export const UnknownContent = unknownOf(knownContentTypes, "content part")

/** Any content part of a message. */
export const ContentPart = Schema.Union([
  InputText,
  InputImage,
  InputFile,
  OutputText,
  Refusal,
  SummaryText,
  ReasoningText,
  UnknownContent
])
/** Any content part of a message. */
export type ContentPart = typeof ContentPart.Type

// ---------------------------------------------------------------------------------------------
// items
// ---------------------------------------------------------------------------------------------

/** Message roles accepted on input. */
export const Role = Schema.Literals(["user", "assistant", "system", "developer"])
/** Message roles accepted on input. */
export type Role = typeof Role.Type

/** Item status as the API reports it. */
export const ItemStatus = Schema.Literals(["in_progress", "completed", "incomplete", "searching", "failed"])

/**
 * A message item. On input, `type` may be omitted and `content` may be a plain string; assistant
 * messages sent back in history carry `id` and `status`.
 */
export const MessageItem = open({
  type: optional(Schema.Literal("message")),
  id: optional(Schema.String),
  role: Role,
  content: Schema.Union([Schema.String, Schema.Array(ContentPart)]),
  status: optional(Schema.NullOr(Schema.String)),
  phase: optional(Schema.NullOr(Schema.String))
})
/** A message item. */
export type MessageItem = typeof MessageItem.Type

/** An output message: always typed, always an assistant with an array of parts. */
export const OutputMessage = open({
  type: Schema.Literal("message"),
  id: Schema.String,
  role: Schema.Literal("assistant"),
  content: Schema.Array(ContentPart),
  status: optional(Schema.NullOr(Schema.String)),
  phase: optional(Schema.NullOr(Schema.String))
})
/** An output message. */
export type OutputMessage = typeof OutputMessage.Type

/** The model asks the client to run a function; `arguments` is a JSON string. */
export const FunctionCall = open({
  type: Schema.Literal("function_call"),
  id: optional(Schema.String),
  call_id: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  status: optional(Schema.NullOr(Schema.String))
})
/** A function call item. */
export type FunctionCall = typeof FunctionCall.Type

/** The result of a function call, sent back by the client. */
export const FunctionCallOutput = open({
  type: Schema.Literal("function_call_output"),
  id: optional(Schema.NullOr(Schema.String)),
  call_id: Schema.String,
  output: Schema.Union([Schema.String, Schema.Array(ContentPart)]),
  status: optional(Schema.NullOr(Schema.String))
})
/** A function call output item. */
export type FunctionCallOutput = typeof FunctionCallOutput.Type

/** A reasoning item; `encrypted_content` must go back untouched in stateless mode. */
export const Reasoning = open({
  type: Schema.Literal("reasoning"),
  id: optional(Schema.String),
  summary: Schema.Array(ContentPart),
  content: optional(Schema.NullOr(Schema.Array(ContentPart))),
  encrypted_content: optional(Schema.NullOr(Schema.String)),
  status: optional(Schema.NullOr(Schema.String))
})
/** A reasoning item. */
export type Reasoning = typeof Reasoning.Type

/** A custom (free-form input) tool call. */
export const CustomToolCall = open({
  type: Schema.Literal("custom_tool_call"),
  id: optional(Schema.String),
  call_id: Schema.String,
  name: Schema.String,
  input: Schema.String
})

/**
 * Hosted / server-side tool items seen in recorded traffic. We model their tag and id; their
 * bodies vary by provider and version, so every other key is kept verbatim.
 */
export const hostedItemTypes = [
  "web_search_call",
  "file_search_call",
  "code_interpreter_call",
  "image_generation_call",
  "local_shell_call",
  "shell_call",
  "shell_call_output",
  "apply_patch_call",
  "apply_patch_call_output",
  "mcp_call",
  "mcp_list_tools",
  "mcp_approval_request",
  "mcp_approval_response",
  "tool_search_call",
  "tool_search_output",
  "x_search_call",
  "compaction",
  "program",
  "program_output",
  "additional_tools",
  "computer_call",
  "computer_call_output",
  "item_reference"
] as const

/** A hosted-tool item (web search, code interpreter, MCP, …), modelled by tag and id. */
export const HostedToolItem = open({
  type: Schema.Literals(hostedItemTypes),
  id: optional(Schema.NullOr(Schema.String)),
  status: optional(Schema.NullOr(Schema.String))
})
/** A hosted-tool item. */
export type HostedToolItem = typeof HostedToolItem.Type

const knownItemTypes = new Set<string>([
  "message",
  "function_call",
  "function_call_output",
  "reasoning",
  "custom_tool_call",
  ...hostedItemTypes
])
/** An item whose type we do not know, kept verbatim. Never dropped and never fatal. */
export const UnknownItem = unknownOf(knownItemTypes, "item")
/** An item whose type we do not know. */
export type UnknownItem = typeof UnknownItem.Type

/** Any item the API may return in `output`. */
export const OutputItem = Schema.Union([
  OutputMessage,
  FunctionCall,
  FunctionCallOutput,
  Reasoning,
  CustomToolCall,
  HostedToolItem,
  UnknownItem
])
/** Any item the API may return in `output`. */
export type OutputItem = typeof OutputItem.Type

/** Any item the client may send in `input`. Output items are valid input (stateless history). */
export const InputItem = Schema.Union([
  MessageItem,
  FunctionCall,
  FunctionCallOutput,
  Reasoning,
  CustomToolCall,
  HostedToolItem,
  UnknownItem
])
/** Any item the client may send in `input`. */
export type InputItem = typeof InputItem.Type

// ---------------------------------------------------------------------------------------------
// request
// ---------------------------------------------------------------------------------------------

/** A function tool declaration. `parameters` is a JSON Schema object. */
export const FunctionTool = open({
  type: Schema.Literal("function"),
  name: Schema.String,
  description: optional(Schema.NullOr(Schema.String)),
  parameters: optional(Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown))),
  strict: optional(Schema.NullOr(Schema.Boolean))
})
/** A function tool declaration. */
export type FunctionTool = typeof FunctionTool.Type

/** Any other tool declaration (hosted tools), kept verbatim. */
export const OtherTool = Schema.StructWithRest(
  Schema.Struct({
    type: Schema.String.check(Schema.makeFilter((t: string) => t !== "function" || "invalid function tool"))
  }),
  Rest
)
/** A tool declaration in the request. */
export const ToolDefinition = Schema.Union([FunctionTool, OtherTool])
/** A tool declaration in the request. */
export type ToolDefinition = typeof ToolDefinition.Type

/** `tool_choice`: a mode string, or a forced function / hosted tool. */
export const ToolChoice = Schema.Union([
  Schema.Literals(["auto", "none", "required"]),
  open({ type: Schema.Literal("function"), name: Schema.String }),
  open({ type: Schema.String })
])
/** `tool_choice`. */
export type ToolChoice = typeof ToolChoice.Type

/** `text.format`: plain text, JSON object mode, or a JSON Schema (structured output). */
export const TextFormat = Schema.Union([
  open({ type: Schema.Literal("text") }),
  open({ type: Schema.Literal("json_object") }),
  open({
    type: Schema.Literal("json_schema"),
    name: Schema.String,
    schema: Schema.Record(Schema.String, Schema.Unknown),
    description: optional(Schema.String),
    strict: optional(Schema.NullOr(Schema.Boolean))
  })
])
/** `text.format`. */
export type TextFormat = typeof TextFormat.Type

/** The `text` configuration object. */
export const TextConfig = open({ format: optional(TextFormat), verbosity: optional(Schema.String) })

/** `reasoning` configuration (effort and summary). */
export const ReasoningConfig = open({
  effort: optional(Schema.NullOr(Schema.String)),
  summary: optional(Schema.NullOr(Schema.String)),
  generate_summary: optional(Schema.NullOr(Schema.String))
})

/** HaoAI's `provider` extension: routing order and fallbacks across upstream providers. */
export const ProviderRouting = open({
  order: optional(Schema.Array(Schema.String)),
  only: optional(Schema.Array(Schema.String)),
  ignore: optional(Schema.Array(Schema.String)),
  allow_fallbacks: optional(Schema.Boolean),
  require_parameters: optional(Schema.Boolean),
  sort: optional(Schema.String),
  data_collection: optional(Schema.String)
})
/** HaoAI's `provider` extension. */
export type ProviderRouting = typeof ProviderRouting.Type

/** The body of `POST /v1/responses`. */
export const CreateRequest = open({
  model: Schema.String,
  input: Schema.Union([Schema.String, Schema.Array(InputItem)]),
  instructions: optional(Schema.NullOr(Schema.String)),
  stream: optional(Schema.Boolean),
  max_output_tokens: optional(Schema.NullOr(Schema.Number)),
  temperature: optional(Schema.NullOr(Schema.Number)),
  top_p: optional(Schema.NullOr(Schema.Number)),
  tools: optional(Schema.Array(ToolDefinition)),
  tool_choice: optional(ToolChoice),
  parallel_tool_calls: optional(Schema.NullOr(Schema.Boolean)),
  truncation: optional(Schema.NullOr(Schema.Literals(["auto", "disabled"]))),
  text: optional(TextConfig),
  reasoning: optional(Schema.NullOr(ReasoningConfig)),
  include: optional(Schema.Array(Schema.String)),
  store: optional(Schema.NullOr(Schema.Boolean)),
  metadata: optional(Schema.NullOr(Schema.Record(Schema.String, Schema.String))),
  previous_response_id: optional(Schema.NullOr(Schema.String)),
  user: optional(Schema.String),
  provider: optional(ProviderRouting)
})
/** The body of `POST /v1/responses`. */
export type CreateRequest = typeof CreateRequest.Type

// ---------------------------------------------------------------------------------------------
// response
// ---------------------------------------------------------------------------------------------

/** Token usage, with optional details. */
export const Usage = open({
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  total_tokens: optional(Schema.Number),
  input_tokens_details: optional(Schema.NullOr(open({ cached_tokens: optional(Schema.NullOr(Schema.Number)) }))),
  output_tokens_details: optional(Schema.NullOr(open({ reasoning_tokens: optional(Schema.NullOr(Schema.Number)) })))
})
/** Token usage. */
export type Usage = typeof Usage.Type

/** Response status. */
export const ResponseStatus = Schema.Literals([
  "completed",
  "failed",
  "in_progress",
  "cancelled",
  "queued",
  "incomplete"
])
/** Response status. */
export type ResponseStatus = typeof ResponseStatus.Type

/** The error object of a failed response. */
export const ResponseErrorBody = open({
  code: optional(Schema.NullOr(Schema.String)),
  message: optional(Schema.NullOr(Schema.String))
})

/** Why a response is incomplete. */
export const IncompleteDetails = open({ reason: optional(Schema.NullOr(Schema.String)) })

/**
 * The response object. Only `id` is required: stream snapshots (`response.created`) and some
 * OpenAI-compatible servers omit the rest.
 */
export const Response = open({
  id: Schema.String,
  object: optional(Schema.String),
  created_at: optional(Schema.NullOr(Schema.Number)),
  model: optional(Schema.String),
  status: optional(ResponseStatus),
  output: optional(Schema.Array(OutputItem)),
  usage: optional(Schema.NullOr(Usage)),
  error: optional(Schema.NullOr(ResponseErrorBody)),
  incomplete_details: optional(Schema.NullOr(IncompleteDetails))
})
/** The response object. */
export type Response = typeof Response.Type

// ---------------------------------------------------------------------------------------------
// stream events
// ---------------------------------------------------------------------------------------------

const seq = { sequence_number: optional(Schema.Number) }

const responseEvent = <const T extends string>(type: T) =>
  open({ type: Schema.Literal(type), response: Response, ...seq })

/** `response.created`. */
export const ResponseCreated = responseEvent("response.created")
/** `response.in_progress`. */
export const ResponseInProgress = responseEvent("response.in_progress")
/** `response.queued`. */
export const ResponseQueued = responseEvent("response.queued")
/** `response.completed`: terminal. */
export const ResponseCompleted = responseEvent("response.completed")
/** `response.failed`: terminal. */
export const ResponseFailedEvent = responseEvent("response.failed")
/** `response.incomplete`: terminal. */
export const ResponseIncomplete = responseEvent("response.incomplete")

/** `response.output_item.added`. */
export const OutputItemAdded = open({
  type: Schema.Literal("response.output_item.added"),
  output_index: Schema.Number,
  item: OutputItem,
  ...seq
})
/** `response.output_item.done`. */
export const OutputItemDone = open({
  type: Schema.Literal("response.output_item.done"),
  output_index: Schema.Number,
  item: OutputItem,
  ...seq
})

const partFields = {
  output_index: Schema.Number,
  item_id: optional(Schema.String),
  content_index: Schema.Number,
  ...seq
}
/** `response.content_part.added`. */
export const ContentPartAdded = open({
  type: Schema.Literal("response.content_part.added"),
  part: ContentPart,
  ...partFields
})
/** `response.content_part.done`. */
export const ContentPartDone = open({
  type: Schema.Literal("response.content_part.done"),
  part: ContentPart,
  ...partFields
})
/** `response.output_text.delta`. */
export const OutputTextDelta = open({
  type: Schema.Literal("response.output_text.delta"),
  delta: Schema.String,
  ...partFields
})
/** `response.output_text.done`. */
export const OutputTextDone = open({
  type: Schema.Literal("response.output_text.done"),
  text: Schema.String,
  ...partFields
})
/** `response.output_text.annotation.added`. */
export const OutputTextAnnotationAdded = open({
  type: Schema.Literal("response.output_text.annotation.added"),
  annotation_index: optional(Schema.Number),
  annotation: Schema.Unknown,
  ...partFields
})
/** `response.refusal.delta`. */
export const RefusalDelta = open({
  type: Schema.Literal("response.refusal.delta"),
  delta: Schema.String,
  ...partFields
})
/** `response.refusal.done`. */
export const RefusalDone = open({
  type: Schema.Literal("response.refusal.done"),
  refusal: Schema.String,
  ...partFields
})

/** `response.function_call_arguments.delta`. */
export const FunctionCallArgumentsDelta = open({
  type: Schema.Literal("response.function_call_arguments.delta"),
  output_index: Schema.Number,
  item_id: optional(Schema.String),
  delta: Schema.String,
  ...seq
})
/** `response.function_call_arguments.done`. */
export const FunctionCallArgumentsDone = open({
  type: Schema.Literal("response.function_call_arguments.done"),
  output_index: Schema.Number,
  item_id: optional(Schema.String),
  arguments: Schema.String,
  name: optional(Schema.String),
  ...seq
})

const summaryFields = {
  output_index: Schema.Number,
  item_id: optional(Schema.String),
  summary_index: Schema.Number,
  ...seq
}
/** `response.reasoning_summary_part.added`. */
export const ReasoningSummaryPartAdded = open({
  type: Schema.Literal("response.reasoning_summary_part.added"),
  part: optional(ContentPart),
  ...summaryFields
})
/** `response.reasoning_summary_part.done`. */
export const ReasoningSummaryPartDone = open({
  type: Schema.Literal("response.reasoning_summary_part.done"),
  part: optional(ContentPart),
  ...summaryFields
})
/** `response.reasoning_summary_text.delta`. */
export const ReasoningSummaryTextDelta = open({
  type: Schema.Literal("response.reasoning_summary_text.delta"),
  delta: Schema.String,
  ...summaryFields
})
/** `response.reasoning_summary_text.done`. */
export const ReasoningSummaryTextDone = open({
  type: Schema.Literal("response.reasoning_summary_text.done"),
  text: Schema.String,
  ...summaryFields
})
/** `response.reasoning_text.delta`. */
export const ReasoningTextDelta = open({
  type: Schema.Literal("response.reasoning_text.delta"),
  output_index: Schema.Number,
  item_id: optional(Schema.String),
  content_index: optional(Schema.Number),
  delta: Schema.String,
  ...seq
})
/** `response.reasoning_text.done`. */
export const ReasoningTextDone = open({
  type: Schema.Literal("response.reasoning_text.done"),
  output_index: Schema.Number,
  item_id: optional(Schema.String),
  content_index: optional(Schema.Number),
  text: Schema.String,
  ...seq
})

/** An `error` event: the stream failed after it started. Some servers nest the body under `error`. */
export const ErrorEvent = open({
  type: Schema.Literal("error"),
  code: optional(Schema.NullOr(Schema.String)),
  message: optional(Schema.NullOr(Schema.String)),
  param: optional(Schema.NullOr(Schema.String)),
  error: optional(
    Schema.NullOr(
      open({ code: optional(Schema.NullOr(Schema.String)), message: optional(Schema.NullOr(Schema.String)) })
    )
  ),
  ...seq
})

/** A `keepalive` event (no content). */
export const KeepaliveEvent = open({ type: Schema.Literal("keepalive"), ...seq })

/**
 * Progress events of hosted tools (web search, code interpreter, MCP, shell, …): modelled by tag
 * and position; their payloads are kept verbatim and do not affect accumulation.
 */
export const hostedEventTypes = [
  "response.apply_patch_call_operation_diff.delta",
  "response.apply_patch_call_operation_diff.done",
  "response.code_interpreter_call.completed",
  "response.code_interpreter_call.in_progress",
  "response.code_interpreter_call.interpreting",
  "response.code_interpreter_call_code.delta",
  "response.code_interpreter_call_code.done",
  "response.custom_tool_call_input.delta",
  "response.custom_tool_call_input.done",
  "response.file_search_call.completed",
  "response.file_search_call.in_progress",
  "response.file_search_call.searching",
  "response.image_generation_call.completed",
  "response.image_generation_call.generating",
  "response.image_generation_call.in_progress",
  "response.image_generation_call.partial_image",
  "response.mcp_call.completed",
  "response.mcp_call.failed",
  "response.mcp_call.in_progress",
  "response.mcp_call_arguments.delta",
  "response.mcp_call_arguments.done",
  "response.mcp_list_tools.completed",
  "response.mcp_list_tools.failed",
  "response.mcp_list_tools.in_progress",
  "response.shell_call_command.added",
  "response.shell_call_command.delta",
  "response.shell_call_command.done",
  "response.shell_call_output_content.delta",
  "response.shell_call_output_content.done",
  "response.web_search_call.completed",
  "response.web_search_call.in_progress",
  "response.web_search_call.searching"
] as const

/** A hosted-tool progress event. */
export const HostedToolEvent = open({
  type: Schema.Literals(hostedEventTypes),
  output_index: optional(Schema.Number),
  item_id: optional(Schema.String),
  ...seq
})

const knownEventMembers = [
  ResponseCreated,
  ResponseInProgress,
  ResponseQueued,
  ResponseCompleted,
  ResponseFailedEvent,
  ResponseIncomplete,
  OutputItemAdded,
  OutputItemDone,
  ContentPartAdded,
  ContentPartDone,
  OutputTextDelta,
  OutputTextDone,
  OutputTextAnnotationAdded,
  RefusalDelta,
  RefusalDone,
  FunctionCallArgumentsDelta,
  FunctionCallArgumentsDone,
  ReasoningSummaryPartAdded,
  ReasoningSummaryPartDone,
  ReasoningSummaryTextDelta,
  ReasoningSummaryTextDone,
  ReasoningTextDelta,
  ReasoningTextDone,
  ErrorEvent,
  KeepaliveEvent
] as const

const knownEventTypes = new Set<string>([
  ...knownEventMembers.map((member) => member.schema.fields.type.literal as string),
  ...hostedEventTypes
])

/** A stream event whose type we do not know (e.g. `response.future_thing.delta`), kept verbatim. */
export const UnknownEvent = unknownOf(knownEventTypes, "event")
/** A stream event whose type we do not know. */
export type UnknownEvent = typeof UnknownEvent.Type

/** Any event of a Responses SSE stream. */
export const StreamEvent = Schema.Union([...knownEventMembers, HostedToolEvent, UnknownEvent])
/** Any event of a Responses SSE stream. */
export type StreamEvent = typeof StreamEvent.Type

/** The terminal event types: the stream is complete once one of them arrived. */
export const terminalEventTypes: ReadonlySet<string> = new Set([
  "response.completed",
  "response.failed",
  "response.incomplete"
])

// ---------------------------------------------------------------------------------------------
// fast decoders: dispatch on `type` instead of trying every union member
// ---------------------------------------------------------------------------------------------

const parseOptions = { errors: "first" } as const

// Per-type decoders built once. Trying ~60 union members per event costs far more than one lookup.
const eventDecoders = new Map<string, (input: unknown) => StreamEvent>()
for (const member of knownEventMembers) {
  const decode = Schema.decodeUnknownSync(member as Schema.Codec<StreamEvent, unknown>)
  eventDecoders.set(member.schema.fields.type.literal as string, (input) => decode(input, parseOptions))
}
const decodeHostedEvent = Schema.decodeUnknownSync(HostedToolEvent)
for (const type of hostedEventTypes) eventDecoders.set(type, (input) => decodeHostedEvent(input, parseOptions))
const decodeUnknownEventSync = Schema.decodeUnknownSync(UnknownEvent)
const decodeStreamEventSync = Schema.decodeUnknownSync(StreamEvent)

/**
 * Decodes one parsed SSE payload. Throws `SchemaError` (naming the path) for a malformed known
 * event or a payload without a string `type`; callers in the client turn that into a typed error.
 */
export const decodeStreamEventUnsafe = (input: unknown): StreamEvent => {
  if (typeof input === "object" && input !== null && typeof (input as { type?: unknown }).type === "string") {
    const decode = eventDecoders.get((input as { type: string }).type)
    return decode === undefined ? decodeUnknownEventSync(input, parseOptions) : decode(input)
  }
  return decodeStreamEventSync(input, parseOptions)
}

/** Decodes one output item (see `decodeStreamEventUnsafe` for the error contract). */
export const decodeOutputItemUnsafe = Schema.decodeUnknownSync(OutputItem)
/** Decodes a full response object. */
export const decodeResponseUnsafe = Schema.decodeUnknownSync(Response)

// ---------------------------------------------------------------------------------------------
// guards and small accessors
// ---------------------------------------------------------------------------------------------

/** True for a `function_call` item. */
export const isFunctionCall = (item: { readonly type?: string | undefined }): item is FunctionCall =>
  item.type === "function_call"

/** True for a `function_call_output` item. */
export const isFunctionCallOutput = (item: { readonly type?: string | undefined }): item is FunctionCallOutput =>
  item.type === "function_call_output"

/** The concatenated `output_text` of every assistant message in an output list. */
export const outputText = (output: ReadonlyArray<OutputItem>): string => {
  let text = ""
  for (const item of output) {
    if (item.type !== "message") continue
    for (const part of item.content) if (part.type === "output_text") text += part.text
  }
  return text
}
