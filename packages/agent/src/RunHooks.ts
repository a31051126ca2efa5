/**
 * Lifecycle hooks of a run: `onRunStart`, `onTurnStart`, `onModelResponse`, `onToolStart`,
 * `onToolEnd`, `onHandoff` and `onRunEnd`, each an Effect. `RunHooks` is a `Context.Reference`
 * (default: no hooks), provided for a run with `Effect.provideService(RunHooks.RunHooks, hooks)` or
 * `RunHooks.layer(make)` when the hooks need services. `RunHooks.call` runs one hook the way the loop
 * does. Gotcha: a failing hook is logged (warning) and the run goes on, unless its hooks set
 * `failRun: true`; then the run fails with `HookFailed` (`call` itself fails with `HookFailure`). Interruption is never swallowed.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { ResponsesSchema } from "@volley/core"
import { RunHistory } from "./RunHistory.ts"
import { RunUsage, type StopReason } from "./StopReason.ts"

/** What every hook is told: the agent running (the current one, after handoffs) and the run. */
export interface HookContext {
  readonly agent: string
  readonly runId: string
}

/** The hooks; every one is optional. */
export interface RunHooksShape {
  /** The run starts (before the first model call). */
  readonly onRunStart?: ((context: HookContext) => Effect.Effect<void, unknown>) | undefined
  /** A model call starts on `model`. */
  readonly onTurnStart?:
    | ((context: HookContext & { readonly turn: number; readonly model: string }) => Effect.Effect<void, unknown>)
    | undefined
  /** A model call returned. */
  readonly onModelResponse?:
    | ((
        context: HookContext & { readonly turn: number; readonly response: ResponsesSchema.Response }
      ) => Effect.Effect<void, unknown>)
    | undefined
  /** A tool starts executing. */
  readonly onToolStart?:
    | ((
        context: HookContext & { readonly turn: number; readonly call: ResponsesSchema.FunctionCall }
      ) => Effect.Effect<void, unknown>)
    | undefined
  /** A tool finished; `output` is what the model is sent. */
  readonly onToolEnd?:
    | ((
        context: HookContext & {
          readonly turn: number
          readonly call: ResponsesSchema.FunctionCall
          readonly output: string
          readonly isError: boolean
          readonly durationMs: number
        }
      ) => Effect.Effect<void, unknown>)
    | undefined
  /** Control passes from `agent` to `to`. */
  readonly onHandoff?:
    | ((context: HookContext & { readonly turn: number; readonly to: string }) => Effect.Effect<void, unknown>)
    | undefined
  /** The run ended, however (completed, paused, failed with a stop reason). */
  readonly onRunEnd?:
    | ((
        context: HookContext & { readonly stopReason: StopReason; readonly usage: RunUsage }
      ) => Effect.Effect<void, unknown>)
    | undefined
  /** A failing hook fails the run with `HookFailed` (default false: it is logged). */
  readonly failRun?: boolean | undefined
}

/** The name of a hook. */
export type HookName = Exclude<keyof RunHooksShape, "failRun">

/** The hooks of the current run (default: none). */
export const RunHooks = Context.Reference<RunHooksShape>("@volley/agent/RunHooks", { defaultValue: () => ({}) })

/** A hook failed and its hooks opted in with `failRun: true` (what `call` fails with). */
export class HookFailure extends Data.TaggedError("HookFailure")<{ readonly hook: string; readonly message: string }> {}

/** The run failed because a hook under `failRun: true` failed; carries the history like every `AgentError`. */
export class HookFailed extends Schema.TaggedError<HookFailed>()("HookFailed", {
  message: Schema.String,
  runId: Schema.String,
  history: RunHistory,
  usage: RunUsage,
  turns: Schema.Number,
  hook: Schema.String
}) {}

/** The argument of a hook. */
export type HookArgument<K extends HookName> = Parameters<NonNullable<RunHooksShape[K]>>[0]

/**
 * Runs one hook: nothing (and no step) when absent; a failure or defect is logged, or fails with
 * `HookFailure` under `failRun`; interruption propagates.
 */
export const call = <K extends HookName>(
  hooks: RunHooksShape,
  name: K,
  argument: HookArgument<K>
): Effect.Effect<void, HookFailure> => {
  const hook = hooks[name] as ((argument: HookArgument<K>) => Effect.Effect<void, unknown>) | undefined
  if (hook === undefined) return Effect.void
  return Effect.catchCause(
    Effect.suspend(() => hook(argument)),
    (cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const message = Cause.pretty(cause).slice(0, 2000)
      return hooks.failRun === true
        ? Effect.fail(new HookFailure({ hook: name, message }))
        : Effect.logWarning(`RunHooks.${name} failed; the run goes on`, message)
    }
  )
}

/** Hooks that run each of `all` in order (each keeps its own `failRun`). */
export const combine = (...all: ReadonlyArray<RunHooksShape>): RunHooksShape => {
  const names: ReadonlyArray<HookName> = [
    "onRunStart",
    "onTurnStart",
    "onModelResponse",
    "onToolStart",
    "onToolEnd",
    "onHandoff",
    "onRunEnd"
  ]
  const combined: Record<string, (argument: never) => Effect.Effect<void, HookFailure>> = {}
  for (const name of names)
    if (all.some((hooks) => hooks[name] !== undefined))
      combined[name] = (argument: never) =>
        Effect.forEach(all, (hooks) => call(hooks, name, argument), { discard: true })
  // the combined hooks' failures are already logged or a `HookFailure`: pass the latter through
  return { ...(combined as RunHooksShape), failRun: true }
}

/** Provides hooks built by an effect (e.g. reading a metrics service). */
export const layer = <E, R>(make: Effect.Effect<RunHooksShape, E, R>): Layer.Layer<never, E, R> =>
  Layer.effect(RunHooks, make) as unknown as Layer.Layer<never, E, R>
