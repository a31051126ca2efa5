/**
 * What a run changes about its agent: per-run overrides (`model`, `instructions`, `modelSettings`,
 * `toolChoice`, a `tools` subset) applied to the agent's `AgentSpec` (`specForRun`), dynamic
 * instructions computed from the run context, a toolkit restricted to a subset of its tools
 * (`restrict`), and the `agentPath` put on forwarded events (`withAgentPath`). Gotcha: with no
 * override the agent's own spec and toolkit are used as they are (nothing is copied per run).
 */
import * as Effect from "effect/Effect"
import type { ResponsesSchema } from "@volley/core"
import type { Toolkit } from "@volley/tools"
import type { AgentEvent } from "../AgentEvent.ts"
import type { RunHooksShape } from "../RunHooks.ts"
import type { AgentSpec } from "./spec.ts"
import { combine } from "./tools.ts"

/** What dynamic instructions are computed from. */
export interface InstructionsContext {
  readonly agent: string
  readonly runId: string
  /** The run's input (history included). */
  readonly input: ReadonlyArray<ResponsesSchema.InputItem>
}

/** Instructions: a string, or an Effect computed from the run context (the date, the user, a service). */
export type Instructions<R = never> = string | ((context: InstructionsContext) => Effect.Effect<string, never, R>)

/** The per-run overrides `specForRun` applies. */
export interface Overrides<R = never> {
  readonly model?: string | undefined
  readonly instructions?: Instructions<R> | undefined
  /** Request fields in wire form, merged over the agent's. */
  readonly settings?: Partial<ResponsesSchema.CreateRequest> | undefined
  readonly toolChoice?: ResponsesSchema.CreateRequest["tool_choice"] | undefined
}

/**
 * The spec of one run: the agent's, with its dynamic instructions computed and the run's overrides
 * applied; the agent's own spec (no copy) when there is nothing to change.
 */
export const specForRun = <A, R>(
  spec: AgentSpec<A>,
  dynamic: Instructions<R> | undefined,
  overrides: Overrides<R> | undefined,
  context: InstructionsContext
): Effect.Effect<AgentSpec<A>, never, R> => {
  const instructions = overrides?.instructions ?? dynamic
  const plain =
    typeof instructions !== "function" &&
    overrides?.instructions === undefined &&
    overrides?.model === undefined &&
    overrides?.settings === undefined &&
    overrides?.toolChoice === undefined
  if (plain) return Effect.succeed(spec)
  const settings =
    overrides?.settings === undefined && overrides?.toolChoice === undefined
      ? spec.settings
      : {
          ...spec.settings,
          ...overrides?.settings,
          ...(overrides?.toolChoice === undefined ? {} : { tool_choice: overrides.toolChoice })
        }
  const build = (text: string | undefined): AgentSpec<A> => ({
    ...spec,
    model: overrides?.model ?? spec.model,
    instructions: text,
    settings
  })
  return typeof instructions === "function"
    ? Effect.map(instructions(context), build)
    : Effect.succeed(build(instructions ?? spec.instructions))
}

/** A toolkit offering only `names` (a call to another tool is an unknown tool). */
export const restrict = <R>(toolkit: Toolkit.Runner<R>, names: ReadonlyArray<string>): Toolkit.Runner<R> => {
  const allowed = new Set(names)
  const none = combine<R>([])
  return {
    names: toolkit.names.filter((name) => allowed.has(name)),
    definitions: () => toolkit.definitions().filter((definition) => allowed.has(definition.name)),
    handle: (call, options) => (allowed.has(call.name) ? toolkit.handle(call, options) : none.handle(call, options)),
    needsApproval: (call) => (allowed.has(call.name) ? toolkit.needsApproval(call) : Effect.succeed(false))
  }
}

/** An emit that puts `path` in front of each event's `agentPath`. */
export const withAgentPath =
  (emit: (event: AgentEvent) => Effect.Effect<void>, path: ReadonlyArray<string>) =>
  (event: AgentEvent): Effect.Effect<void> =>
    emit({ ...event, agentPath: [...path, ...(event.agentPath ?? [])] })

/** Hooks worth calling: `undefined` when none is set. */
export const activeHooks = (hooks: RunHooksShape): RunHooksShape | undefined => {
  for (const key in hooks) if (key !== "failRun" && hooks[key as keyof RunHooksShape] !== undefined) return hooks
  return undefined
}
