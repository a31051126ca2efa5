/**
 * Runs one function call end to end: lookup (own keys only), JSON parse, strict-schema validation,
 * optional-as-null undone, Schema decode, the handler under a timeout with a stop grace period and an
 * AbortSignal, the failure policy (feedback, fail, retry), result encoding, truncation, and the
 * `execute_tool {name}` span. Every failure becomes a well-formed `function_call_output`; the error
 * channel only carries what a policy turns into a run failure. Synchronous decoding and encoding are read
 * as `Exit`s through the named combinators of `fast.ts`, and a handler that completes while it is forked
 * needs no timer, so a fast call stays cheap.
 * Gotcha: a handler that ignores interruption is left running after the grace period (with a
 * `tool.did_not_stop` warning) so the turn can proceed; it is detached, never awaited again.
 */
import type { ResponsesSchema } from "@volley/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type * as Tool from "../Tool.ts"
import {
  type ArgumentIssue,
  type ToolCallError,
  ToolCancelled,
  ToolArgumentsInvalid,
  ToolDefect,
  ToolFailed,
  ToolNotFound,
  ToolResultEncodingError,
  type ToolRunError,
  ToolTimeout,
  errorType
} from "../ToolError.ts"
import * as ToolJsonSchema from "../ToolJsonSchema.ts"
import type { HandlerContext, ToolCallResult, ToolOutcome, ToolSuccess } from "../Toolkit.ts"
import { clip, cutBytes, errorOutput, redact, stringify, truncate } from "./output.ts"
import { flatMapNow, resultNow, succeeded } from "./fast.ts"
import * as SafeJson from "./safeJson.ts"

/** A handler with its types erased, as stored by `toLayer`. */
export type RawHandler = (args: unknown, context: HandlerContext) => Effect.Effect<unknown, unknown, unknown>

/** A tool with its handler and the services captured when the handler layer was built. */
export interface Entry {
  readonly tool: Tool.Any
  readonly handler: RawHandler
  readonly context: Context.Context<never>
}

/** Resolved options for one call. */
export interface CallOptions {
  readonly enabled: ReadonlySet<string> | undefined
  readonly unknownTool: "feedback" | "fail"
  readonly captureContent: boolean
  readonly grace: Duration.Duration
}

const MAX_LISTED_TOOLS = 50
/** Span attributes are capped at 8 KiB (docs/reliability.md G03). */
const MAX_CAPTURED = 8192

/** Look a tool up by own name, honouring the enabled set. */
export const lookup = (
  entries: ReadonlyMap<string, Entry>,
  name: string,
  enabled: ReadonlySet<string> | undefined
): Entry | undefined => (enabled !== undefined && !enabled.has(name) ? undefined : entries.get(name))

/** The names the model may call, in definition order, honouring the enabled set. */
export const availableNames = (
  entries: ReadonlyMap<string, Entry>,
  enabled: ReadonlySet<string> | undefined
): ReadonlyArray<string> => [...entries.keys()].filter((name) => enabled === undefined || enabled.has(name))

/** The `function_call_output` item for a call. */
export const outputItem = (callId: string, output: string): ResponsesSchema.FunctionCallOutput => ({
  type: "function_call_output",
  call_id: callId,
  output
})

/** The output for a failure. */
export const failureOutput = (error: ToolCallError): string => errorOutput(errorType(error), error.message)

/** A cancelled result for a call that was interrupted or never started. */
export const cancelledResult = (call: ResponsesSchema.FunctionCall, durationMs: number): ToolCallResult => {
  const error = new ToolCancelled({
    name: call.name,
    callId: call.call_id,
    message: `Tool call '${clip(call.name, 64)}' was cancelled before it finished`
  })
  return {
    callId: call.call_id,
    name: call.name,
    output: outputItem(call.call_id, failureOutput(error)),
    outcome: { _tag: "Failure", error },
    durationMs,
    attempts: 0,
    isArgumentError: false
  }
}

// ---------------------------------------------------------------------------------------------
// arguments
// ---------------------------------------------------------------------------------------------

/** `build` memoised per Schema: codecs, decoders and encoders are built once per Schema. */
const perSchema = <A>(build: (schema: Tool.AnySchema) => A): ((schema: Tool.AnySchema) => A) => {
  const cache = new WeakMap<Tool.AnySchema, A>()
  return (schema) => {
    let value = cache.get(schema)
    if (value === undefined) {
      value = build(schema)
      cache.set(schema, value)
    }
    return value
  }
}

const jsonCodec = perSchema((schema) => Schema.toCodecJson(schema) as Schema.Codec<unknown, unknown, never, never>)

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const issuePath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`),
    ""
  )

const describeIssues = (issues: ReadonlyArray<ArgumentIssue>): string =>
  issues
    .slice(0, 20)
    .map((i) => (i.path === "" ? clip(i.message, 200) : `${clip(i.path, 100)}: ${clip(i.message, 200)}`))
    .join("; ")

const parseOptions = { onExcessProperty: "error", errors: "all" } as const

/** The JSON decoder of a parameters Schema, built once per Schema. */
const decoderOf = perSchema((schema) => Schema.decodeUnknownEffect(jsonCodec(schema)))

/**
 * Parse, validate and decode a call's arguments. Plain code: the result is an `Exit` whenever the
 * parameters Schema decodes synchronously (the usual case), so yielding it costs no fiber step.
 */
export const decodeArguments = (
  tool: Tool.Any,
  call: ResponsesSchema.FunctionCall
): Effect.Effect<unknown, ToolArgumentsInvalid> => {
  const invalid = (kind: "json" | "schema", issues: ReadonlyArray<ArgumentIssue>, message: string) =>
    Exit.fail(new ToolArgumentsInvalid({ name: tool.name, callId: call.call_id, kind, issues, message }))
  const text = call.arguments.trim()
  let value: unknown
  if (tool.jsonSchema.empty && (text === "" || text === "null")) {
    value = {}
  } else if (text === "") {
    return invalid("json", [{ path: "", message: "empty arguments" }], "arguments are empty; expected a JSON object")
  } else {
    const parsed = SafeJson.parse(text)
    if (Result.isFailure(parsed)) {
      const e = parsed.failure
      const where = `at position ${e.position} (line ${e.line}, column ${e.column})`
      return invalid(
        "json",
        [{ path: "", message: `${e.message} ${where}` }],
        `arguments are not valid JSON: ${e.message} ${where}`
      )
    }
    value = parsed.success
  }
  if (tool.jsonSchema.strict) {
    const issues = ToolJsonSchema.validate(tool.jsonSchema.schema, value)
    if (issues.length > 0) {
      return invalid("schema", issues, `arguments do not match the schema: ${describeIssues(issues)}`)
    }
    value = ToolJsonSchema.normalize(tool.jsonSchema.schema, value)
  }
  const decoded = decoderOf(tool.parameters)(value, parseOptions)
  const ok = succeeded(decoded)
  if (ok !== undefined) return Exit.succeed(ok.value)
  return Effect.catch(decoded, (error) => {
    const issues = formatter(error.issue).issues.map((i) => ({
      path: issuePath((i.path ?? []).map((p) => (typeof p === "object" ? p.key : p))),
      message: i.message
    }))
    return invalid("schema", issues, `arguments do not match the schema: ${describeIssues(issues)}`)
  })
}

// ---------------------------------------------------------------------------------------------
// running the handler
// ---------------------------------------------------------------------------------------------

type Attempt =
  | { readonly _tag: "Value"; readonly value: unknown }
  | { readonly _tag: "Failed"; readonly error: unknown }
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "Defect"; readonly cause: Cause.Cause<unknown> }
  | { readonly _tag: "Cancelled" }

/**
 * Run the handler in its own fiber; on timeout or interruption stop it, waiting at most `grace`.
 * A handler that completes while it is being forked (a synchronous one) needs no timer: its exit is
 * read at once.
 */
const runHandler = (
  entry: Entry,
  args: unknown,
  call: ResponsesSchema.FunctionCall,
  grace: Duration.Duration
): Effect.Effect<Attempt> => {
  // called while the call runs (never ahead of time): one controller per attempt
  const controller = new AbortController()
  const context: HandlerContext = { callId: call.call_id, name: entry.tool.name, signal: controller.signal }
  const body = Effect.suspend(() => entry.handler(args, context)).pipe(
    Effect.onInterrupt(() => Effect.sync(() => controller.abort())),
    // services captured when the handler layer was built fill in what the caller's context lacks;
    // the caller's context (current span, clock, references) wins, as in Effect's own Toolkit
    // (handlers are stored type-erased, so the merged context is typed as what they need: `unknown`)
    Effect.updateContext(
      (current: Context.Context<never>) => Context.merge(entry.context, current) as Context.Context<unknown>
    )
  ) as Effect.Effect<unknown, unknown>
  return Effect.flatMap(Effect.forkDetach(body, { startImmediately: true }), (fiber) => {
    const done = fiber.pollUnsafe()
    return done === undefined ? awaitHandler(entry, call, fiber, grace) : Exit.succeed(fromExit(done))
  })
}

/** Waits for a handler fiber that suspended, under the tool's timeout. */
const awaitHandler = (
  entry: Entry,
  call: ResponsesSchema.FunctionCall,
  fiber: Fiber.Fiber<unknown, unknown>,
  grace: Duration.Duration
): Effect.Effect<Attempt> =>
  Effect.gen(function* () {
    const stop = Fiber.interrupt(fiber).pipe(
      Effect.timeoutOption(grace),
      Effect.flatMap((stopped) =>
        Option.isSome(stopped)
          ? Effect.void
          : Effect.logWarning("tool.did_not_stop").pipe(
              Effect.annotateLogs({ "gen_ai.tool.name": entry.tool.name, "gen_ai.tool.call.id": call.call_id }),
              Effect.andThen(Effect.annotateCurrentSpan({ "volley.tool.did_not_stop": true }))
            )
      )
    )
    const exit = yield* Fiber.await(fiber).pipe(
      Effect.timeoutOption(entry.tool.timeout),
      Effect.onInterrupt(() => stop)
    )
    if (Option.isNone(exit)) {
      yield* stop
      return { _tag: "Timeout" } satisfies Attempt
    }
    return fromExit(exit.value)
  })

const fromExit = (exit: Exit.Exit<unknown, unknown>): Attempt => {
  if (Exit.isSuccess(exit)) return { _tag: "Value", value: exit.value }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) return { _tag: "Failed", error: error.value }
  if (Cause.hasDies(exit.cause)) return { _tag: "Defect", cause: exit.cause }
  if (Cause.hasInterrupts(exit.cause)) return { _tag: "Cancelled" }
  return { _tag: "Defect", cause: exit.cause }
}

const encodeWith = (schema: Tool.AnySchema, value: unknown): Effect.Effect<Result.Result<string, string>> =>
  // a handler returning nothing (Schema.Void / Unknown) sends an empty output
  value === undefined && Schema.is(schema)(undefined) ? Effect.succeed(Result.succeed("")) : encodeJson(schema, value)

/** The JSON encoder of a result Schema, built once per Schema. */
const encoderOf = perSchema((schema) => Schema.encodeUnknownEffect(jsonCodec(schema)))

const encodedText = (encoded: unknown): Result.Result<string, string> =>
  typeof encoded === "string" ? Result.succeed(encoded) : stringify(encoded)

/** The JSON text of a value; an `Exit` when the Schema encodes synchronously. */
const encodeJson = (schema: Tool.AnySchema, value: unknown): Effect.Effect<Result.Result<string, string>> => {
  const encoded = encoderOf(schema)(value)
  return flatMapNow(resultNow(encoded), (result) =>
    Exit.succeed(
      Result.isSuccess(result) ? encodedText(result.success) : Result.fail(clip(result.failure.message, 500))
    )
  )
}

const defectMessage = (cause: Cause.Cause<unknown>): string => {
  const squashed = Cause.squash(cause)
  const raw = squashed instanceof Error ? squashed.message : typeof squashed === "string" ? squashed : "unknown error"
  return clip(redact(raw.split("\n")[0] ?? ""), 200)
}

/** The outcome of the handler phase, before it is turned into an output. */
type Finished =
  | { readonly _tag: "Success"; readonly value: unknown; readonly encoded: string }
  | { readonly _tag: "Error"; readonly error: ToolCallError }

const finalPolicy = (tool: Tool.Any): "feedback" | "fail" => {
  const policy = tool.failurePolicy
  return policy === "feedback" || policy === "fail" ? policy : (policy.whenExhausted ?? "feedback")
}

/** Turn one handler attempt into a finished outcome; typed failures and timeouts stay failures (for retry). */
const settle = (
  tool: Tool.Any,
  callId: string,
  attempt: Attempt
): Effect.Effect<Finished, ToolFailed | ToolTimeout> => {
  const ids = { name: tool.name, callId }
  switch (attempt._tag) {
    case "Value": {
      const then = (encoded: Result.Result<string, string>): Effect.Effect<Finished> =>
        Result.isSuccess(encoded)
          ? Exit.succeed<Finished>({ _tag: "Success", value: attempt.value, encoded: encoded.success })
          : invalidResult(ids, encoded.failure)
      return flatMapNow(encodeWith(tool.success, attempt.value), then)
    }
    case "Failed":
      return encodeWith(tool.failure, attempt.error).pipe(
        Effect.flatMap((encoded) =>
          Result.isSuccess(encoded)
            ? Effect.fail(new ToolFailed({ ...ids, error: attempt.error, message: redact(encoded.success) }))
            : invalidResult(ids, encoded.failure)
        )
      )
    case "Timeout": {
      const ms = Duration.toMillis(tool.timeout)
      return Effect.fail(new ToolTimeout({ ...ids, ms, message: `Tool '${tool.name}' timed out after ${ms} ms` }))
    }
    case "Defect":
      return Effect.gen(function* () {
        const details = cutBytes(redact(Cause.pretty(attempt.cause)), MAX_CAPTURED)
        yield* Effect.annotateCurrentSpan({ "error.type": "ToolDefect", "volley.tool.defect": details })
        yield* Effect.logError("tool.defect", details).pipe(Effect.annotateLogs(spanIds(tool.name, callId)))
        const message = `Tool '${tool.name}' failed unexpectedly: ${defectMessage(attempt.cause)}`
        return { _tag: "Error", error: new ToolDefect({ ...ids, message }) } satisfies Finished
      })
    case "Cancelled":
      return Effect.succeed<Finished>({
        _tag: "Error",
        error: new ToolCancelled({ ...ids, message: `Tool call '${tool.name}' was cancelled before it finished` })
      })
  }
}

/** What the handler phase ends with: the finished outcome and the number of handler runs. */
interface Ran {
  readonly finished: Finished
  readonly attempts: number
}

/** Applies the final failure policy to a settled outcome. */
const byPolicy = (
  tool: Tool.Any,
  result: Result.Result<Finished, ToolFailed | ToolTimeout>,
  attempts: number
): Effect.Effect<Ran, ToolFailed | ToolTimeout> => {
  if (Result.isSuccess(result)) return Exit.succeed({ finished: result.success, attempts })
  if (finalPolicy(tool) === "fail") return Exit.fail(result.failure)
  return Exit.succeed({ finished: { _tag: "Error", error: result.failure }, attempts })
}

/** Run the handler with the tool's failure policy; fails only when the policy says the run must fail. */
const runWithPolicy = (
  entry: Entry,
  args: unknown,
  call: ResponsesSchema.FunctionCall,
  options: CallOptions
): Effect.Effect<Ran, ToolFailed | ToolTimeout> => {
  const tool = entry.tool
  const failurePolicy = tool.failurePolicy
  if (typeof failurePolicy !== "object")
    // one attempt (no retry schedule): settled without extra fiber steps when encoding is synchronous
    return Effect.flatMap(runHandler(entry, args, call, options.grace), (attempt) =>
      flatMapNow(resultNow(settle(tool, call.call_id, attempt)), (result) => byPolicy(tool, result, 1))
    )
  let attempts = 0
  const once = Effect.suspend(() => {
    attempts++
    return runHandler(entry, args, call, options.grace)
  }).pipe(Effect.flatMap((attempt) => settle(tool, call.call_id, attempt)))
  return Effect.flatMap(Effect.result(once.pipe(Effect.retry(failurePolicy.retry))), (result) =>
    byPolicy(tool, result, attempts)
  )
}

/** A result (or failure) that cannot be encoded is a bug in the tool: the model gets a generic message, the span the reason. */
const invalidResult = (ids: { readonly name: string; readonly callId: string }, reason: string) =>
  Effect.gen(function* () {
    const details = cutBytes(redact(reason), MAX_CAPTURED)
    yield* Effect.annotateCurrentSpan({ "volley.tool.bug": true, "volley.tool.invalid_result": details })
    yield* Effect.logWarning("tool.invalid_result", details).pipe(Effect.annotateLogs(spanIds(ids.name, ids.callId)))
    return {
      _tag: "Error",
      error: new ToolResultEncodingError({ ...ids, message: "tool produced an invalid result" })
    } satisfies Finished
  })

const spanIds = (name: string, callId: string) => ({ "gen_ai.tool.name": name, "gen_ai.tool.call.id": callId })

// ---------------------------------------------------------------------------------------------
// one call
// ---------------------------------------------------------------------------------------------

/** Handle one call in its `execute_tool` span: always a result, unless a policy fails the run. */
export const executeCall = (
  entries: ReadonlyMap<string, Entry>,
  call: ResponsesSchema.FunctionCall,
  options: CallOptions
): Effect.Effect<ToolCallResult, ToolRunError> => {
  const entry = lookup(entries, call.name, options.enabled)
  const capture = options.captureContent || entry?.tool.captureContent === true
  const body = Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    const c: Call = { call, options, capture, clock, start: clock.currentTimeMillisUnsafe() }
    const run = () => (entry === undefined ? notFound(c, entries) : decodeThenRun(c, entry))
    if (!capture) return run()
    const args = { "gen_ai.tool.call.arguments": cutBytes(call.arguments, MAX_CAPTURED) }
    return Effect.andThen(Effect.annotateCurrentSpan(args), Effect.suspend(run))
  })
  return inToolSpan(call, body)
}

/** One call in flight: what it was asked, whether content is captured, and when it started. */
interface Call {
  readonly call: ResponsesSchema.FunctionCall
  readonly options: CallOptions
  readonly capture: boolean
  readonly clock: Clock.Clock
  readonly start: number
}

/** The result of a call, timed from its start. */
const resultOf = (
  c: Call,
  outcome: ToolOutcome,
  output: string,
  attempts: number,
  args?: { readonly value: unknown }
): ToolCallResult => ({
  callId: c.call.call_id,
  name: c.call.name,
  output: outputItem(c.call.call_id, output),
  outcome,
  durationMs: c.clock.currentTimeMillisUnsafe() - c.start,
  attempts,
  isArgumentError: outcome._tag === "Failure" && outcome.error._tag === "ToolArgumentsInvalid",
  ...(args === undefined ? {} : { args: args.value })
})

const failedResult = (c: Call, error: ToolCallError, attempts: number, args?: { readonly value: unknown }) =>
  resultOf(c, { _tag: "Failure", error }, failureOutput(error), attempts, args)

/** An unknown or disabled tool: fed back to the model, or the run's failure under `unknownTool: "fail"`. */
const notFound = (c: Call, entries: ReadonlyMap<string, Entry>): Effect.Effect<ToolCallResult, ToolRunError> => {
  const { call } = c
  const available = availableNames(entries, c.options.enabled).slice(0, MAX_LISTED_TOOLS)
  const error = new ToolNotFound({
    name: call.name,
    callId: call.call_id,
    available,
    message: `${entries.has(call.name) ? `Tool '${clip(call.name, 64)}' is not enabled for this run` : `No tool named '${clip(call.name, 64)}'`}. Available: ${available.length > 0 ? available.join(", ") : "none"}`
  })
  return c.options.unknownTool === "fail" ? Effect.fail(error) : Exit.succeed(failedResult(c, error, 0))
}

/** Decodes the arguments, then runs the handler under the tool's policy and builds the output. */
const decodeThenRun = (c: Call, entry: Entry): Effect.Effect<ToolCallResult, ToolRunError> =>
  flatMapNow(resultNow(decodeArguments(entry.tool, c.call)), (args) =>
    Result.isFailure(args) ? Exit.succeed(failedResult(c, args.failure, 0)) : runDecoded(c, entry, args.success)
  )

const runDecoded = (c: Call, entry: Entry, args: unknown): Effect.Effect<ToolCallResult, ToolRunError> =>
  Effect.flatMap(runWithPolicy(entry, args, c.call, c.options), ({ finished, attempts }) => {
    if (finished._tag === "Error") return Exit.succeed(failedResult(c, finished.error, attempts, { value: args }))
    const cut = truncate(finished.encoded, entry.tool.maxOutputBytes)
    const success: ToolSuccess = {
      _tag: "Success",
      value: finished.value,
      encoded: finished.encoded,
      truncated: cut.truncated
    }
    const result = () => resultOf(c, success, cut.text, attempts, { value: args })
    if (!cut.truncated && !c.capture) return Exit.succeed(result())
    const annotations: Record<string, unknown> = {}
    if (cut.truncated) annotations["volley.tool.output_truncated"] = true
    if (c.capture) annotations["gen_ai.tool.call.result"] = cutBytes(cut.text, MAX_CAPTURED)
    return Effect.andThen(Effect.annotateCurrentSpan(annotations), Effect.sync(result))
  })

/**
 * Failed outcomes by their error, while the span ends: a call whose outcome is a failure fails inside
 * its span with that error (so the span's status, `error.type` and exit say so), and its result is
 * taken back right after. Each error is made for its call, so the key is unique.
 */
const failedOutcomes = new WeakMap<ToolCallError, ToolCallResult>()

/** Runs a call in its `execute_tool {name}` span, which ends as the call's outcome did. */
const inToolSpan = (
  call: ResponsesSchema.FunctionCall,
  body: Effect.Effect<ToolCallResult, ToolRunError>
): Effect.Effect<ToolCallResult, ToolRunError> =>
  body.pipe(
    Effect.flatMap((result): Effect.Effect<ToolCallResult, ToolCallError> => {
      if (result.outcome._tag === "Success") return Exit.succeed(result)
      const error = result.outcome.error
      failedOutcomes.set(error, result)
      return Effect.andThen(Effect.annotateCurrentSpan({ "error.type": error._tag }), Effect.fail(error))
    }),
    Effect.withSpan(
      `execute_tool ${clip(call.name, 64)}`,
      {
        kind: "internal",
        attributes: {
          "gen_ai.operation.name": "execute_tool",
          "gen_ai.tool.type": "function",
          ...spanIds(clip(call.name, 64), call.call_id)
        }
      },
      // no stack trace per tool call: a captured `Error` each, only ever shown in pretty-printed causes
      { captureStackTrace: false }
    ),
    Effect.catch((error) => {
      const result = failedOutcomes.get(error)
      if (result === undefined) return Effect.fail(error as ToolRunError)
      failedOutcomes.delete(error)
      return Exit.succeed(result)
    })
  )
