/**
 * A toolkit: a registry of tools built once (names validated, duplicates rejected at definition time),
 * merged with other toolkits, and given handlers as a layer so the services handlers use appear in the
 * layer's requirements and tests swap handlers by swapping the layer. `yield* toolkit` gives a `Handled`
 * toolkit: `definitions()` for the request, `handle` / `handleAll` to run the model's calls (every failure
 * becomes a `function_call_output`), `needsApproval` and `isIdempotent` for the agent loop.
 * Gotcha: a merged toolkit needs each part's handlers: provide the parts' layers, or `merged.toLayer`.
 */
import { ResponsesSchema } from "@volley/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Execute from "./internal/execute.ts"
import type * as Tool from "./Tool.ts"
import {
  ArgumentIssue,
  type ToolArgumentsInvalid,
  type ToolCallError,
  type ToolCancelled,
  ToolCallErrorTag,
  ToolDefinitionError,
  type ToolRunError,
  ToolRunErrorTag
} from "./ToolError.ts"

// ---------------------------------------------------------------------------------------------
// results
// ---------------------------------------------------------------------------------------------

/** The handler succeeded: its value, the encoded text (before truncation) and whether the output was cut. */
export interface ToolSuccess {
  readonly _tag: "Success"
  readonly value: unknown
  readonly encoded: string
  readonly truncated: boolean
}

/** The call went wrong; the model was told (`output`). */
export interface ToolFailure {
  readonly _tag: "Failure"
  readonly error: ToolCallError
}

/** What happened to one call. */
export type ToolOutcome = ToolSuccess | ToolFailure

/** The result of one call: the output to send back and a typed record of what happened. */
export interface ToolCallResult {
  readonly callId: string
  readonly name: string
  /** The `function_call_output` to append to the history (`output` is always a string). */
  readonly output: ResponsesSchema.FunctionCallOutput
  readonly outcome: ToolOutcome
  /** Wall time of the call, from lookup to output (TestClock time under tests). */
  readonly durationMs: number
  /** Handler runs (0 when the handler never ran; > 1 with a retry policy). */
  readonly attempts: number
  /** The decoded arguments, when decoding succeeded. */
  readonly args?: unknown
  /** Whether the model's arguments were malformed (the agent counts these per run). */
  readonly isArgumentError: boolean
}

/** What a handler receives besides its arguments. */
export interface HandlerContext {
  /** The `call_id` of the model's call. */
  readonly callId: string
  /** The tool name. */
  readonly name: string
  /** Aborted when the call is interrupted (timeout, cancellation), for fetch-style APIs. */
  readonly signal: AbortSignal
}

// ---------------------------------------------------------------------------------------------
// handlers
// ---------------------------------------------------------------------------------------------

/** The handler of one tool. `R` is the services it uses, provided when the handler layer is built. */
export type Handler<T extends Tool.Any, R = never> = (
  args: Tool.Args<T>,
  context: HandlerContext
) => Effect.Effect<Tool.Success<T>, Tool.Failure<T>, R>

/** One handler per tool of the toolkit. */
export type HandlersFor<Tools extends Record<string, Tool.Any>> = {
  readonly [Name in keyof Tools]: Handler<Tools[Name], unknown>
}

/** The services the handlers of a handler record use. */
export type HandlerServices<H> = {
  [Name in keyof H]: H[Name] extends (...args: ReadonlyArray<never>) => Effect.Effect<infer _A, infer _E, infer R>
    ? R
    : never
}[keyof H]

/** The service holding one toolkit's handlers (an identifier type; each toolkit has its own key). */
export interface Handlers<in out Tools extends Record<string, Tool.Any>> {
  readonly _: (_: Tools) => Tools
}

interface HandlerSet {
  readonly handlers: Readonly<Record<string, Execute.RawHandler>>
  readonly context: Context.Context<never>
}

interface Part {
  readonly key: Context.Key<unknown, HandlerSet>
  readonly names: ReadonlyArray<string>
}

// ---------------------------------------------------------------------------------------------
// handled toolkit
// ---------------------------------------------------------------------------------------------

/** Options of `handle` / `handleAll`. */
export interface HandleOptions {
  /** Only these tools may be called in this run (others are unknown tools). Default: all. */
  readonly enabled?: ReadonlyArray<string> | undefined
  /** `feedback` (default): the model is told. `fail`: the run fails with `ToolNotFound`. */
  readonly unknownTool?: "feedback" | "fail" | undefined
  /** Record arguments and results on spans (also per tool). Default: the `CaptureContent` reference (false). */
  readonly captureContent?: boolean | undefined
  /** How long to wait for a handler to stop after interrupting it. Default 1 second. */
  readonly grace?: Duration.Input | undefined
  /** When this effect completes, calls in flight are interrupted and get "cancelled" outputs. */
  readonly interrupt?: Effect.Effect<void> | undefined
}

/** Options of `handleAll`. */
export interface HandleAllOptions extends HandleOptions {
  /** Calls in flight at once; default 8. */
  readonly concurrency?: number | undefined
}

/** Default number of tool calls in flight per turn (docs/reliability.md, Defaults). */
export const defaultConcurrency = 8

/** Default stop grace period after a handler is interrupted. */
export const defaultGrace: Duration.Duration = Duration.seconds(1)

/** Per-run knob: calls in flight in `handleAll` when the option is not given (default 8). */
export const Concurrency = Context.Reference<number>("@volley/tools/Toolkit/Concurrency", {
  defaultValue: () => defaultConcurrency
})

/** Per-run knob: how long to wait for an interrupted handler to stop when the option is not given (default 1 s). */
export const StopGrace = Context.Reference<Duration.Duration>("@volley/tools/Toolkit/StopGrace", {
  defaultValue: () => defaultGrace
})

/** Per-run knob: record arguments and results on spans when the option is not given (default false, docs/reliability.md G03). */
export const CaptureContent = Context.Reference<boolean>("@volley/tools/Toolkit/CaptureContent", {
  defaultValue: () => false
})

// ---------------------------------------------------------------------------------------------
// the agent's seam
// ---------------------------------------------------------------------------------------------

/** What a `Runner` reports for one call: the fields the agent loop reads (a `ToolCallResult` is one). */
export const RunnerResult = Schema.Struct({
  callId: Schema.String,
  name: Schema.String,
  /** The `function_call_output` to append to the history. */
  output: ResponsesSchema.FunctionCallOutput,
  outcome: Schema.Union([
    Schema.Struct({ _tag: Schema.Literal("Success") }),
    Schema.Struct({
      _tag: Schema.Literal("Failure"),
      error: Schema.Struct({
        _tag: ToolCallErrorTag,
        /** For `ToolArgumentsInvalid`: not JSON, or not the schema (the agent's own error carries them on). */
        kind: Schema.optionalKey(Schema.Literals(["json", "schema"])),
        issues: Schema.optionalKey(Schema.Array(ArgumentIssue))
      })
    })
  ]),
  /** Whether the model's arguments were malformed (the agent counts these per run). */
  isArgumentError: Schema.Boolean
})
/** What a `Runner` reports for one call. */
export type RunnerResult = typeof RunnerResult.Type

/** A failure that ends the run, as a `Runner` reports it (a `ToolRunError` is one). */
export const RunnerError = Schema.Struct({
  _tag: ToolRunErrorTag,
  name: Schema.String,
  callId: Schema.String,
  message: Schema.String,
  /** For `ToolNotFound`: the tools the model may call. */
  available: Schema.optionalKey(Schema.Array(Schema.String))
})
/** A failure that ends the run, as a `Runner` reports it. */
export type RunnerError = typeof RunnerError.Type

/** The options the agent loop passes to each call. */
export type RunnerOptions = Pick<HandleOptions, "unknownTool" | "captureContent">

/**
 * What the agent loop runs a turn's calls through: a `Handled` toolkit is one, and so is an agent used
 * as a tool (`agent.asTool`). `R` is what running a call needs.
 */
export interface Runner<R = never> {
  /** Tool names in definition order. */
  readonly names: ReadonlyArray<string>
  /** The `tools` entries for a request. */
  definitions(): ReadonlyArray<ResponsesSchema.FunctionTool>
  /** Run one call. Fails only when a policy says the run must fail. */
  handle(call: ResponsesSchema.FunctionCall, options?: RunnerOptions): Effect.Effect<RunnerResult, RunnerError, R>
  /** Whether the call needs a human decision before it runs. */
  needsApproval(call: ResponsesSchema.FunctionCall): Effect.Effect<boolean, never, R>
}

/** A toolkit with its handlers: what the agent loop uses. */
export interface Handled<in out Tools extends Record<string, Tool.Any>> extends Runner {
  /** The tools by name. */
  readonly tools: Tools
  /** Tool names in definition order. */
  readonly names: ReadonlyArray<string>
  /** The `tools` entries for a request (only the enabled ones when given). */
  definitions(options?: {
    readonly enabled?: ReadonlyArray<string> | undefined
  }): ReadonlyArray<ResponsesSchema.FunctionTool>
  /** Run one call. Fails only under `unknownTool: "fail"` or a tool's `failurePolicy: "fail"`. */
  handle(call: ResponsesSchema.FunctionCall, options?: HandleOptions): Effect.Effect<ToolCallResult, ToolRunError>
  /** Run calls concurrently (default 8 in flight); results are in call order. */
  handleAll(
    calls: ReadonlyArray<ResponsesSchema.FunctionCall>,
    options?: HandleAllOptions
  ): Effect.Effect<ReadonlyArray<ToolCallResult>, ToolRunError>
  /** Whether the call needs approval (false for unknown tools and arguments that do not decode). */
  needsApproval(call: ResponsesSchema.FunctionCall, options?: HandleOptions): Effect.Effect<boolean>
  /** Whether a tool may be re-run for the same call (`idempotent` option; unknown tools: true). */
  isIdempotent(name: string): boolean
}

const resolveOptions = (
  options: HandleOptions | undefined,
  grace: Duration.Duration,
  captureContent: boolean
): Execute.CallOptions => ({
  enabled: options?.enabled === undefined ? undefined : new Set(options.enabled),
  unknownTool: options?.unknownTool ?? "feedback",
  captureContent: options?.captureContent ?? captureContent,
  grace: options?.grace === undefined ? grace : Duration.fromInputUnsafe(options.grace)
})

const noApproval: Effect.Effect<boolean> = Exit.succeed(false)

const makeHandled = <Tools extends Record<string, Tool.Any>>(
  tools: Tools,
  entries: ReadonlyMap<string, Execute.Entry>
): Handled<Tools> => {
  const names = [...entries.keys()]
  const withCancel = (
    call: ResponsesSchema.FunctionCall,
    options: Execute.CallOptions,
    cancel: Deferred.Deferred<void> | undefined
  ): Effect.Effect<ToolCallResult, ToolRunError> => {
    if (cancel === undefined) return Execute.executeCall(entries, call, options)
    return Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      if (yield* Deferred.isDone(cancel)) return Execute.cancelledResult(call, 0)
      const cancelled = Deferred.await(cancel).pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.map((now) => Execute.cancelledResult(call, now - start))
      )
      return yield* Effect.raceFirst(Execute.executeCall(entries, call, options), cancelled)
    })
  }
  const run = <A>(
    options: HandleOptions | undefined,
    body: (cancel: Deferred.Deferred<void> | undefined) => Effect.Effect<A, ToolRunError>
  ): Effect.Effect<A, ToolRunError> => {
    const interrupt = options?.interrupt
    if (interrupt === undefined) return body(undefined)
    return Effect.gen(function* () {
      const cancel = yield* Deferred.make<void>()
      // the watcher ends with the body (no fiber outlives the call): completing `cancel` makes the body
      // finish with cancelled results, and the race then interrupts the watcher
      const watcher = interrupt.pipe(Effect.andThen(Deferred.succeed(cancel, undefined)), Effect.andThen(Effect.never))
      return yield* Effect.raceFirst(body(cancel), watcher)
    })
  }
  return {
    tools,
    names,
    definitions: (options) => {
      const enabled = options?.enabled === undefined ? undefined : new Set(options.enabled)
      return names.filter((n) => enabled === undefined || enabled.has(n)).map((n) => entries.get(n)!.tool.definition)
    },
    handle: (call, options) =>
      Effect.withFiber((fiber) => {
        const resolved = resolveOptions(options, fiber.getRef(StopGrace), fiber.getRef(CaptureContent))
        // without an `interrupt` option: the call itself, built for this execution (no extra suspend)
        if (options?.interrupt === undefined) return Execute.executeCall(entries, call, resolved)
        return run(options, (cancel) => withCancel(call, resolved, cancel))
      }),
    handleAll: (calls, options) =>
      Effect.gen(function* () {
        const resolved = resolveOptions(options, yield* StopGrace, yield* CaptureContent)
        const concurrency = options?.concurrency ?? (yield* Concurrency)
        return yield* run(options, (cancel) =>
          Effect.forEach(calls, (call) => withCancel(call, resolved, cancel), { concurrency: Math.max(1, concurrency) })
        )
      }),
    needsApproval: (call, options) => {
      const enabled = options?.enabled === undefined ? undefined : new Set(options.enabled)
      const entry = Execute.lookup(entries, call.name, enabled)
      // a tool without `needsApproval` answers at once (an `Exit`), with no arguments decoded
      if (entry === undefined || !entry.tool.mayNeedApproval) return noApproval
      return Effect.gen(function* () {
        const args = yield* Effect.result(Execute.decodeArguments(entry.tool, call))
        if (Result.isFailure(args)) return false
        return yield* entry.tool.needsApproval(args.success)
      })
    },
    isIdempotent: (name) => entries.get(name)?.tool.idempotent ?? true
  }
}

// ---------------------------------------------------------------------------------------------
// toolkit
// ---------------------------------------------------------------------------------------------

/** Runtime marker of toolkits. */
export const TypeId = "~@volley/tools/Toolkit" as const

/** The tools of a list of tools, by name. */
export type ToolsByName<T extends ReadonlyArray<Tool.Any>> = { readonly [K in T[number] as K["name"]]: K }

/** A toolkit: tools by name; `yield* toolkit` needs the handlers layer (`Requires`). */
export interface Toolkit<in out Tools extends Record<string, Tool.Any>, Requires = Handlers<Tools>>
  extends Effect.Effect<Handled<Tools>, never, Requires> {
  readonly [TypeId]: typeof TypeId
  /** The tools by name. */
  readonly tools: Tools
  /** @internal the handler services this toolkit reads. */
  readonly parts: ReadonlyArray<Part>
  /** This toolkit as a plain Effect (same as `yield* toolkit`). */
  asEffect(): Effect.Effect<Handled<Tools>, never, Requires>
  /** Type a handler record without building a layer. */
  of<H extends HandlersFor<Tools>>(handlers: H): H
  /** Handlers as a layer; the services the handlers use become the layer's requirements. */
  toLayer<H extends HandlersFor<Tools>, EX = never, RX = never>(
    build: H | Effect.Effect<H, EX, RX>
  ): Layer.Layer<Requires, EX, Exclude<RX | HandlerServices<H>, Scope.Scope>>
}

/** Any toolkit (what `merge` accepts). */
export interface Any {
  readonly [TypeId]: typeof TypeId
  readonly tools: Record<string, Tool.Any>
  readonly parts: ReadonlyArray<Part>
}

class ToolkitImpl<Tools extends Record<string, Tool.Any>, Requires>
  extends Effectable.Class<Handled<Tools>, never, Requires>
  implements Toolkit<Tools, Requires>
{
  readonly [TypeId] = TypeId
  readonly tools: Tools
  readonly parts: ReadonlyArray<Part>
  constructor(tools: Tools, parts: ReadonlyArray<Part>) {
    super()
    this.tools = tools
    this.parts = parts
  }

  /** Handled toolkits built, by the first handler set they were built from (released with their layer). */
  private readonly built = new WeakMap<
    HandlerSet,
    { readonly sets: ReadonlyArray<HandlerSet>; readonly handled: Handled<Tools> }
  >()

  asEffect(): Effect.Effect<Handled<Tools>, never, Requires> {
    const parts = this.parts
    const tools = this.tools
    // One step per `yield*`: the handled toolkit is rebuilt only when the handler sets in context changed
    // (a run per agent call makes this the hot path).
    return Effect.withFiber((fiber) => {
      const sets = parts.map((part) => Context.getUnsafe(fiber.context, part.key))
      const built = sets.length === 0 ? undefined : this.built.get(sets[0]!)
      if (built?.sets.every((set, index) => set === sets[index])) return Exit.succeed(built.handled)
      const entries = new Map<string, Execute.Entry>()
      parts.forEach((part, index) => {
        const set = sets[index]!
        for (const name of part.names) {
          const handler = set.handlers[name]
          const tool = tools[name]
          if (handler !== undefined && tool !== undefined) entries.set(name, { tool, handler, context: set.context })
        }
      })
      const handled = makeHandled(tools, entries)
      if (sets.length > 0) this.built.set(sets[0]!, { sets, handled })
      return Exit.succeed(handled)
    }) as Effect.Effect<Handled<Tools>, never, Requires>
  }

  of<H extends HandlersFor<Tools>>(handlers: H): H {
    return handlers
  }

  toLayer<H extends HandlersFor<Tools>, EX = never, RX = never>(
    build: H | Effect.Effect<H, EX, RX>
  ): Layer.Layer<Requires, EX, Exclude<RX | HandlerServices<H>, Scope.Scope>> {
    const parts = this.parts
    const handlersEffect: Effect.Effect<H, EX, RX> = Effect.isEffect(build) ? build : Effect.succeed(build)
    return Layer.effectContext(
      Effect.gen(function* () {
        const handlers = yield* handlersEffect
        const context = (yield* Effect.context<never>()) as Context.Context<never>
        let out = Context.empty() as Context.Context<unknown>
        for (const part of parts) {
          const own: Record<string, Execute.RawHandler> = {}
          for (const name of part.names) {
            const handler = Object.hasOwn(handlers, name) ? handlers[name as keyof H] : undefined
            if (typeof handler !== "function") {
              return yield* Effect.die(new ToolDefinitionError({ name, message: `No handler for tool "${name}"` }))
            }
            own[name] = handler as Execute.RawHandler
          }
          out = Context.add(out, part.key, { handlers: own, context })
        }
        return out as Context.Context<Requires>
      })
    ) as Layer.Layer<Requires, EX, Exclude<RX | HandlerServices<H>, Scope.Scope>>
  }
}

let nextKey = 0

/**
 * Build a toolkit. Throws `ToolDefinitionError` (a definition-time programmer error) on an invalid name or
 * two tools with one name.
 */
export const make = <const T extends ReadonlyArray<Tool.Any>>(...tools: T): Toolkit<ToolsByName<T>> => {
  const byName: Record<string, Tool.Any> = {}
  for (const tool of tools) {
    if (Object.hasOwn(byName, tool.name)) {
      // Definition-time boundary: duplicate names are a programmer error, reported where the toolkit is built.
      throw new ToolDefinitionError({ name: tool.name, message: `Duplicate tool name "${tool.name}"` })
    }
    Object.defineProperty(byName, tool.name, { value: tool, enumerable: true })
  }
  const names = tools.map((t) => t.name)
  const key = Context.Service<unknown, HandlerSet>(`@volley/tools/Toolkit/${nextKey++}/${names.join(",")}`)
  return new ToolkitImpl(byName as ToolsByName<T>, [{ key, names }])
}

/** Merge toolkits; the result needs every part's handlers. Throws `ToolDefinitionError` on a duplicate name. */
export const merge = <const T extends ReadonlyArray<Any>>(
  ...toolkits: T
): Toolkit<MergedTools<T>, MergedRequires<T>> => {
  const byName: Record<string, Tool.Any> = {}
  const parts: Array<Part> = []
  for (const toolkit of toolkits) {
    for (const [name, tool] of Object.entries(toolkit.tools)) {
      if (Object.hasOwn(byName, name)) {
        throw new ToolDefinitionError({ name, message: `Duplicate tool name "${name}" while merging toolkits` })
      }
      Object.defineProperty(byName, name, { value: tool, enumerable: true })
    }
    for (const part of toolkit.parts) if (!parts.includes(part)) parts.push(part)
  }
  return new ToolkitImpl(byName as MergedTools<T>, parts)
}

type UnionToIntersection<U> = (U extends unknown ? (_: U) => void : never) extends (_: infer I) => void ? I : never

/** The tools of merged toolkits. */
export type MergedTools<T extends ReadonlyArray<Any>> = Extract<
  UnionToIntersection<{ [K in keyof T]: T[K] extends Toolkit<infer Tools, infer _R> ? Tools : never }[number]>,
  Record<string, Tool.Any>
>

/** The handler services merged toolkits need. */
export type MergedRequires<T extends ReadonlyArray<Any>> = {
  [K in keyof T]: T[K] extends Toolkit<infer _Tools, infer R> ? R : never
}[number]

/** The `function_call_output` that closes a call which never finished (e.g. the run was interrupted). */
export const cancelledOutput = (call: ResponsesSchema.FunctionCall): ResponsesSchema.FunctionCallOutput =>
  Execute.cancelledResult(call, 0).output

/** Whether a result's outcome is an argument error (the agent counts these per run). */
export const isArgumentError = (
  result: ToolCallResult
): result is ToolCallResult & { readonly outcome: { readonly error: ToolArgumentsInvalid } } => result.isArgumentError

/** Whether a result's outcome is a cancellation. */
export const isCancelled = (
  result: ToolCallResult
): result is ToolCallResult & { readonly outcome: { readonly error: ToolCancelled } } =>
  result.outcome._tag === "Failure" && result.outcome.error._tag === "ToolCancelled"
