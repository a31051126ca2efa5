/**
 * effect/ai toolkits where Volley takes a toolkit: `toVolley(toolkit)` (needs the toolkit's handler
 * layer) and `fromHandled(withHandler)` (e.g. what `McpClient.toolkit` gives) produce the handled
 * toolkit `Agent.make({ toolkit })` accepts. Each effect/ai tool becomes a Volley tool whose
 * definition carries effect/ai's JSON Schema and whose handler runs effect/ai's `handle` (which decodes
 * the parameters), so Volley's timeouts, output caps, approvals and `execute_tool` spans apply.
 * Gotcha: parameters are validated by effect/ai, so a bad argument reaches the model as a tool failure
 * (`ToolParameterValidationError`), not as Volley's argument error; definitions are `strict: false`.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as AiError from "effect/ai/AiError"
import * as AiTool from "effect/ai/Tool"
import type * as AiToolkit from "effect/ai/Toolkit"
import { Tool, Toolkit, ToolError } from "@volley/tools"

/** How the effect/ai tools run under Volley. */
export interface Options {
  /** Per-call timeout (Volley's default, 120 s, when unset). */
  readonly timeout?: Duration.Input | undefined
  /** Output cap in UTF-8 bytes, at least 256 (Volley's default, 64 KiB, when unset). */
  readonly maxOutputBytes?: number | undefined
  /** Whether a call needs approval, given the tool name and the model's (encoded) parameters. */
  readonly needsApproval?:
    | ((name: string, params: Readonly<Record<string, unknown>>) => boolean | Effect.Effect<boolean>)
    | undefined
  /** Tools that must never run twice for one call (Volley's `idempotent: false`). */
  readonly nonIdempotent?: ReadonlyArray<string> | undefined
}

/** The handled toolkit the agent uses. */
export type Handled = Toolkit.Handled<Record<string, Tool.Any>>

/** An effect/ai toolkit with its handlers (provided as effect/ai's handler layer) as a Volley toolkit. */
export const toVolley = <Tools extends Record<string, AiTool.Any>>(
  toolkit: AiToolkit.Toolkit<Tools>,
  options: Options = {}
): Effect.Effect<Handled, never, AiTool.HandlersFor<Tools>> =>
  Effect.flatMap(toolkit, (handled) => fromHandled(handled, options))

/** An effect/ai toolkit that already has its handlers (`yield* toolkit`, `McpClient.toolkit`) as a Volley toolkit. */
export const fromHandled = <Tools extends Record<string, AiTool.Any>>(
  handled: AiToolkit.WithHandler<Tools>,
  options: Options = {}
): Effect.Effect<Handled> =>
  Effect.gen(function* () {
    const tools = Object.values(handled.tools) as ReadonlyArray<AiTool.Any>
    for (const tool of tools) {
      if (!Tool.namePattern.test(tool.name))
        return yield* Effect.die(
          new ToolError.ToolDefinitionError({
            name: tool.name.slice(0, 64),
            message: `effect/ai tool name "${tool.name.slice(0, 64)}" must match ${Tool.namePattern.source}`
          })
        )
    }
    const volleyTools = tools.map((tool) => toVolleyTool(tool, options))
    const toolkit = Toolkit.make(...volleyTools)
    const handlers: Record<string, Toolkit.Handler<Tool.Any, unknown>> = {}
    for (const tool of tools)
      handlers[tool.name] = (args, context) => run(handled as unknown as AnyHandled, tool, args, context.callId)
    return yield* toolkit.asEffect().pipe(Effect.provide(toolkit.toLayer(handlers as never)))
  })

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

type AnyHandled = AiToolkit.WithHandler<Record<string, AiTool.Any>>

/** Any JSON object: Volley only checks the shape; effect/ai decodes the parameters. */
const Parameters = Schema.Record(Schema.String, Schema.Unknown)

const toVolleyTool = (tool: AiTool.Any, options: Options): Tool.Any => {
  const approval = tool.needsApproval === true ? true : options.needsApproval
  const base = Tool.make(tool.name, {
    description: AiTool.getDescription(tool) ?? "",
    parameters: Parameters,
    success: Schema.Unknown,
    failure: Schema.Unknown,
    strict: false,
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.maxOutputBytes === undefined
      ? {}
      : { maxOutputBytes: Math.max(256, Math.floor(options.maxOutputBytes)) }),
    ...(approval === undefined
      ? {}
      : {
          needsApproval:
            typeof approval === "boolean"
              ? approval
              : (args: Readonly<Record<string, unknown>>) => approval(tool.name, args)
        }),
    idempotent: !(options.nonIdempotent ?? []).includes(tool.name)
  }) as unknown as Tool.Any
  // what the model sees: effect/ai's JSON Schema of the parameters (or the dynamic tool's own schema)
  return {
    ...base,
    definition: { ...base.definition, parameters: AiTool.getJsonSchema(tool) as Record<string, unknown> }
  }
}

/** Runs effect/ai's handler to its final (non-preliminary) result: the encoded result, or the encoded failure. */
const run = (handled: AnyHandled, tool: AiTool.Any, params: unknown, callId: string): Effect.Effect<unknown, unknown> =>
  handled.handle(tool.name, params as never, callId).pipe(
    Effect.flatMap((results) => Stream.runLast(Stream.filter(results, (result) => !result.preliminary))),
    Effect.catch((error: unknown) =>
      AiError.isAiError(error)
        ? Effect.fail({ error: error.reason._tag, message: error.message })
        : // `failureMode: "error"` (McpClient's tools): the handler's failure as the tool's failure schema encodes it
          encodeFailure(tool, error).pipe(Effect.flatMap(Effect.fail))
    ),
    Effect.flatMap((last) => {
      if (Option.isNone(last)) return Effect.fail({ error: "NoResult", message: "the tool produced no result" })
      // `failureMode: "return"`: the failure is already encoded
      return last.value.isFailure ? Effect.fail(last.value.encodedResult) : Effect.succeed(last.value.encodedResult)
    })
  ) as Effect.Effect<unknown, unknown>

const encodeFailure = (tool: AiTool.Any, error: unknown): Effect.Effect<unknown> =>
  (
    Schema.encodeUnknownEffect(tool.failureSchema as Schema.Codec<unknown, unknown>)(error) as Effect.Effect<
      unknown,
      unknown
    >
  ).pipe(Effect.orElseSucceed(() => plainFailure(error)))

/** A failure the schema could not encode: its tag and message only. */
const plainFailure = (error: unknown): { readonly error: string; readonly message: string } => {
  const fields = typeof error === "object" && error !== null ? (error as { _tag?: unknown; message?: unknown }) : {}
  return {
    error: typeof fields._tag === "string" ? fields._tag : "ToolFailed",
    message: typeof fields.message === "string" ? fields.message : String(error)
  }
}
