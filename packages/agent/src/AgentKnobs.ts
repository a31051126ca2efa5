/**
 * Per-run knobs as `Context.Reference`s with defaults (docs/reliability.md, Defaults): `MaxTurns` (10),
 * `ToolConcurrency` (8), `Budgets` (none), `MaxInputBytes` (none), `RetryTurnOnStreamDrop` (true),
 * `ModelRetries` (the client's `RetryPolicy.maxRetries`: one budget for client and turn retries),
 * `MalformedArgumentTurns` (3), `RepeatedCalls` (3 / 5), `MaxCallsPerTurn` (128), `UnknownTool` ("feedback"),
 * `CaptureContent` (false) and `StepWrapper` (identity; `ModelStep`/`ToolStep` say what each step stores). Override one for a run with
 * `Effect.provideService(AgentKnobs.MaxTurns, 5)`. Gotcha: a knob is read once when the run starts
 * (or resumes), so changing it mid-run has no effect on that run.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import { ResponsesError, ResponsesSchema } from "@volley/core"
import { Toolkit } from "@volley/tools"

/** Model calls per run before `MaxTurns` (default 10, agents-js `DEFAULT_MAX_TURNS`). */
export const MaxTurns = Context.Reference<number>("@volley/agent/MaxTurns", { defaultValue: () => 10 })

/** Tool calls in flight per turn (default 8): the same reference as `Toolkit.Concurrency` of `@volley/tools`. */
export const ToolConcurrency: Context.Reference<number> = Toolkit.Concurrency

/** The run's budgets; absent fields are unlimited (the default). */
export interface BudgetsShape {
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
  readonly totalTokens?: number | undefined
  /** Wall-time deadline for the whole run, in milliseconds (`RequestTimeout{phase:"total"}`). */
  readonly wallTimeMs?: number | undefined
}

/** Token and wall-time budgets (default: none). */
export const Budgets = Context.Reference<BudgetsShape>("@volley/agent/Budgets", { defaultValue: () => ({}) })

/** Maximum UTF-8 size of a request's `input`, checked before sending (default: unlimited). */
export const MaxInputBytes = Context.Reference<number>("@volley/agent/MaxInputBytes", {
  defaultValue: () => Number.POSITIVE_INFINITY
})

/** Re-run a model call whose stream dropped mid-turn (default true; emits `TurnRestarted`). */
export const RetryTurnOnStreamDrop = Context.Reference<boolean>("@volley/agent/RetryTurnOnStreamDrop", {
  defaultValue: () => true
})

/**
 * Retries per model call across all layers. Unset (the default) means the current
 * `RetryPolicy.maxRetries` of `@volley/core` (2): the turn retry stops once `maxRetries + 1` HTTP
 * attempts were spent, and tells the client how many were used (`CallOptions.previousAttempts`).
 * Set it when the client was built with its own `retryPolicy` override.
 */
export const ModelRetries = Context.Reference<number | undefined>("@volley/agent/ModelRetries", {
  defaultValue: () => undefined
})

/** Turns with malformed tool arguments per run before `ToolArgumentsInvalid` (default 3). */
export const MalformedArgumentTurns = Context.Reference<number>("@volley/agent/MalformedArgumentTurns", {
  defaultValue: () => 3
})

/** Repeated identical calls: from `skipFrom` the tool is not re-run; at `stopAt` `LoopDetected`. */
export const RepeatedCalls = Context.Reference<{ readonly skipFrom: number; readonly stopAt: number }>(
  "@volley/agent/RepeatedCalls",
  { defaultValue: () => ({ skipFrom: 3, stopAt: 5 }) }
)

/**
 * Function calls one response may carry (default 128): past it the run fails with
 * `ModelBehavior { kind: "TooManyCalls" }` before any of them runs (or is asked about approval).
 */
export const MaxCallsPerTurn = Context.Reference<number>("@volley/agent/MaxCallsPerTurn", {
  defaultValue: () => 128
})

/** What an unknown tool name does: feed it back (default) or fail the run with `ToolNotFound`. */
export const UnknownTool = Context.Reference<"feedback" | "fail">("@volley/agent/UnknownTool", {
  defaultValue: () => "feedback"
})

/**
 * Record prompts, arguments and outputs on spans (default false, docs/reliability.md G03): the same
 * reference as `Toolkit.CaptureContent` of `@volley/tools`, so one setting covers the agent and its tools.
 */
export const CaptureContent: Context.Reference<boolean> = Toolkit.CaptureContent

/** The identity of one step: a model call (`callId` absent) or a tool call. */
export interface StepId {
  readonly runId: string
  readonly turn: number
  readonly kind: "model" | "tool"
  readonly callId?: string | undefined
  /** The tool's name (tool steps), e.g. for a durable engine's per-tool side-effect class. */
  readonly name?: string | undefined
}

/** What a step stores: codecs for its result and its typed failure (a durable engine persists them). */
export interface StepSchema<A, E> {
  readonly success: Schema.Codec<A, unknown>
  readonly error: Schema.Codec<E, unknown>
}

/** Wraps every step (a durable engine turns each into an activity keyed by its `StepId`, storing what `schema` describes). */
export interface StepWrapperShape {
  readonly wrap: <A, E, R>(
    id: StepId,
    step: Effect.Effect<A, E, R>,
    schema?: StepSchema<A, E>
  ) => Effect.Effect<A, E, R>
}

/** What a model step stores: the decoded response, or the client's typed error. */
export const ModelStep: StepSchema<ResponsesSchema.Response, ResponsesError.ResponsesError> = {
  success: ResponsesSchema.Response,
  error: ResponsesError.ResponsesErrorSchema
}

/** What a tool step stores: the call's output item and outcome (failures the model sees are results), or the error that ends the run. */
export const ToolStep: StepSchema<Toolkit.RunnerResult, Toolkit.RunnerError> = {
  success: Toolkit.RunnerResult,
  error: Toolkit.RunnerError
}

/** Wraps every model call and tool call (default: runs it as is). */
export const StepWrapper = Context.Reference<StepWrapperShape>("@volley/agent/StepWrapper", {
  defaultValue: () => ({ wrap: (_id, step) => step })
})
