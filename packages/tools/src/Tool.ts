/**
 * A tool definition: a name, a description and Schemas for its parameters, success and typed failure,
 * plus per-tool options (strict JSON Schema, approval, timeout, failure policy, output cap, idempotency).
 * `Tool.make` computes the model-facing `function` definition at once, so a schema strict mode cannot
 * express, or an invalid name, throws a `ToolDefinitionError` where the tool is defined, not when the
 * model calls it. Handlers are not part of a tool: give them to `Toolkit.toLayer`.
 * Gotcha: Schemas must need no services to decode or encode; use `strict: false` for records and tuples.
 */
import { ResponsesClient, type ResponsesSchema, RetryPolicy } from "@volley/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { ToolDefinitionError, type ToolFailed, type ToolTimeout } from "./ToolError.ts"
import * as ToolJsonSchema from "./ToolJsonSchema.ts"

/** Runtime marker of tools. */
export const TypeId = "~@volley/tools/Tool" as const

/** A Schema usable by a tool: any codec that needs no services. */
export type AnySchema = Schema.Codec<unknown, unknown, never, never>

/** What to do when the handler fails with its typed failure or times out. */
export type FailurePolicy =
  | "feedback"
  | "fail"
  | {
      /** Re-run the handler on typed failure or timeout while this schedule allows. */
      readonly retry: Schedule.Schedule<unknown, ToolFailed | ToolTimeout>
      /** After the last attempt: tell the model (default) or fail the run. */
      readonly whenExhausted?: "feedback" | "fail" | undefined
    }

/**
 * Core's retry schedule (`RetryPolicy.schedule`: exponential backoff with jitter, at most `maxRetries`
 * retries) over a tool's failures, for `failurePolicy: { retry: Tool.retrySchedule() }`, so tool
 * retries back off like model calls do. Each typed failure or timeout counts as retryable.
 */
export const retrySchedule = (
  policy: RetryPolicy.RetryPolicy = RetryPolicy.defaults
): Schedule.Schedule<RetryPolicy.Decision, ToolFailed | ToolTimeout> =>
  Schedule.fromStep(
    Effect.map(
      Schedule.toStep(RetryPolicy.schedule(policy)),
      (step) => (now: number, _failure: ToolFailed | ToolTimeout) => step(now, { retryable: true })
    )
  )

/** Default per-tool timeout (docs/reliability.md, Defaults). */
export const defaultTimeout: Duration.Duration = Duration.seconds(120)

/** Default output cap in UTF-8 bytes (docs/reliability.md, Defaults). */
export const defaultMaxOutputBytes = 65_536

/**
 * Deepest nesting of tool arguments (objects and arrays) accepted where the model's JSON is first
 * parsed: the one limit for model JSON, `ResponsesClient.maxJsonDepth` (256). Deeper arguments are fed
 * back as invalid (`kind: "json"`), and the agent's argument hash hashes them as raw text.
 */
export const maxArgumentsDepth: number = ResponsesClient.maxJsonDepth

/** Valid tool names, as the Responses API requires. */
export const namePattern = /^[a-zA-Z0-9_-]{1,64}$/

/** A tool: what the model sees and how its arguments and results are typed. */
export interface Tool<
  out Name extends string,
  out Parameters extends AnySchema,
  out Success extends AnySchema,
  out Failure extends AnySchema
> {
  readonly [TypeId]: typeof TypeId
  /** The function name the model calls. */
  readonly name: Name
  /** What the tool does, for the model. */
  readonly description: string
  /** Schema of the decoded arguments. */
  readonly parameters: Parameters
  /** Schema of the handler's success value; encoded and sent to the model. */
  readonly success: Success
  /** Schema of the handler's typed failure; encoded and sent to the model. */
  readonly failure: Failure
  /** Whether the definition uses the API's strict mode. */
  readonly strict: boolean
  /** Whether a call needs approval, given its decoded arguments. */
  readonly needsApproval: (args: unknown) => Effect.Effect<boolean>
  /** Whether `needsApproval` was set at all (a static `false` skips decoding). */
  readonly mayNeedApproval: boolean
  /** Per-call timeout. */
  readonly timeout: Duration.Duration
  /** What a typed failure or a timeout does to the run. */
  readonly failurePolicy: FailurePolicy
  /** Outputs larger than this many UTF-8 bytes are cut, with a note. */
  readonly maxOutputBytes: number
  /** `false`: a completed call must never be re-run (the agent reads this). */
  readonly idempotent: boolean
  /** Record arguments and results on the span (off by default). */
  readonly captureContent: boolean
  /** The compiled parameters JSON Schema. */
  readonly jsonSchema: ToolJsonSchema.Compiled
  /** The definition sent in the request's `tools`. */
  readonly definition: ResponsesSchema.FunctionTool
}

/** Any tool. */
export interface Any extends Tool<string, AnySchema, AnySchema, AnySchema> {}

/** The decoded arguments of a tool. */
export type Args<T extends Any> = T["parameters"]["Type"]
/** The success value of a tool's handler. */
export type Success<T extends Any> = T["success"]["Type"]
/** The typed failure of a tool's handler. */
export type Failure<T extends Any> = T["failure"]["Type"]

/** Options of `Tool.make`. */
export interface Options<Parameters extends AnySchema, Success extends AnySchema, Failure extends AnySchema> {
  /** What the tool does, for the model. */
  readonly description: string
  /** Schema of the arguments (a struct); default: no parameters. */
  readonly parameters?: Parameters | undefined
  /** Schema of the success value; default `Schema.Unknown` (any JSON value, strings sent as they are). */
  readonly success?: Success | undefined
  /** Schema of the typed failure; default `Schema.Never`. */
  readonly failure?: Failure | undefined
  /** Strict JSON Schema (default true). A schema strict mode cannot express throws; pass `false` explicitly. */
  readonly strict?: boolean | undefined
  /** Pause for approval before running: a boolean or a function of the decoded arguments. */
  readonly needsApproval?: boolean | ((args: Parameters["Type"]) => boolean | Effect.Effect<boolean>) | undefined
  /** Per-call timeout; default 120 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** `feedback` (default), `fail`, or `{ retry: schedule, whenExhausted }`. */
  readonly failurePolicy?: FailurePolicy | undefined
  /** Output cap in UTF-8 bytes; default 64 KiB. */
  readonly maxOutputBytes?: number | undefined
  /** `false` marks a tool with side effects that must never run twice for one call; default true. */
  readonly idempotent?: boolean | undefined
  /** Record arguments and results on the span; default false. */
  readonly captureContent?: boolean | undefined
}

/** The parameters of a tool without parameters. */
export const NoParameters = Schema.Struct({})

/**
 * Define a tool. Throws `ToolDefinitionError` (a definition-time programmer error) when the name is invalid
 * or strict mode was asked for a schema it cannot express.
 */
export const make = <
  const Name extends string,
  Parameters extends AnySchema = typeof NoParameters,
  Success extends AnySchema = typeof Schema.Unknown,
  Failure extends AnySchema = typeof Schema.Never
>(
  name: Name,
  options: Options<Parameters, Success, Failure>
): Tool<Name, Parameters, Success, Failure> => {
  if (!namePattern.test(name)) {
    // Definition-time boundary: a bad tool name is a programmer error surfaced where the tool is declared.
    throw new ToolDefinitionError({ name, message: `Invalid tool name "${name}": must match ${namePattern.source}` })
  }
  const parameters = (options.parameters ?? NoParameters) as Parameters
  const strict = options.strict ?? true
  const compiled = ToolJsonSchema.make(parameters, { strict })
  if (Result.isFailure(compiled)) {
    // Definition-time boundary: the schema cannot be sent as asked; the message says how to fix it.
    throw new ToolDefinitionError({ name, message: `Tool "${name}": ${compiled.failure}` })
  }
  const maxOutputBytes = options.maxOutputBytes ?? defaultMaxOutputBytes
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 256) {
    throw new ToolDefinitionError({ name, message: `Tool "${name}": maxOutputBytes must be an integer ≥ 256` })
  }
  const approval = options.needsApproval ?? false
  const needsApproval = (args: unknown): Effect.Effect<boolean> => {
    if (typeof approval === "boolean") return Effect.succeed(approval)
    return Effect.suspend(() => {
      const answer = approval(args as Parameters["Type"])
      return typeof answer === "boolean" ? Effect.succeed(answer) : answer
    })
  }
  return {
    [TypeId]: TypeId,
    name,
    description: options.description,
    parameters,
    success: (options.success ?? Schema.Unknown) as Success,
    failure: (options.failure ?? Schema.Never) as Failure,
    strict,
    needsApproval,
    mayNeedApproval: approval !== false,
    timeout: Duration.fromInputUnsafe(options.timeout ?? defaultTimeout),
    failurePolicy: options.failurePolicy ?? "feedback",
    maxOutputBytes,
    idempotent: options.idempotent ?? true,
    captureContent: options.captureContent ?? false,
    jsonSchema: compiled.success,
    definition: {
      type: "function",
      name,
      description: options.description,
      parameters: compiled.success.schema,
      strict
    }
  }
}

/** Whether a value is a tool. */
export const isTool = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u
