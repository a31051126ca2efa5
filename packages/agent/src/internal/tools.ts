/**
 * The loop's side of the tools seam: `combine` routes a call to the handled toolkit of `@volley/tools`
 * or to a sub-agent tool (each a `Toolkit.Runner`, the interface tools owns), and `runBatch` runs one
 * turn's planned calls with bounded concurrency,
 * recording each output by `call_id` the moment it exists (so an interruption or a retry never
 * loses or repeats a completed call). Gotcha: outputs are written to the history by the caller, in
 * call order, only once the whole batch is settled.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { ResponsesSchema } from "@volley/core"
import type { Toolkit, ToolError } from "@volley/tools"
import type { AgentEvent } from "../AgentEvent.ts"
import { type StepWrapperShape, ToolStep } from "../AgentKnobs.ts"
import * as Guardrail from "../Guardrail.ts"
import * as RunHooks from "../RunHooks.ts"
import type { RunHooksShape } from "../RunHooks.ts"
import type { CallPlan } from "./decide.ts"
import { errorText, outputItem } from "./history.ts"

/** The output text of a `function_call_output` (array outputs as JSON). */
export const outputText = (output: ResponsesSchema.FunctionCallOutput): string =>
  typeof output.output === "string" ? output.output : JSON.stringify(output.output)

const notFound = (call: ResponsesSchema.FunctionCall, names: ReadonlyArray<string>): Toolkit.RunnerResult => ({
  callId: call.call_id,
  name: call.name,
  output: outputItem(
    call.call_id,
    errorText(
      "unknown_tool",
      `No tool named '${call.name.slice(0, 64)}'. Available: ${names.slice(0, 50).join(", ") || "none"}`
    )
  ),
  outcome: { _tag: "Failure", error: { _tag: "ToolNotFound" } },
  isArgumentError: false
})

/** Routes calls across several handled toolkits by tool name (own keys only). */
export const combine = <R>(toolkits: ReadonlyArray<Toolkit.Runner<R>>): Toolkit.Runner<R> => {
  const owner = new Map<string, Toolkit.Runner<R>>()
  for (const toolkit of toolkits) for (const name of toolkit.names) owner.set(name, toolkit)
  const names = [...owner.keys()]
  return {
    names,
    definitions: () => toolkits.flatMap((toolkit) => toolkit.definitions()),
    handle: (call, options) => {
      const toolkit = owner.get(call.name)
      if (toolkit !== undefined) return toolkit.handle(call, options)
      if (options?.unknownTool === "fail")
        return Effect.fail<Toolkit.RunnerError>({
          _tag: "ToolNotFound",
          name: call.name,
          callId: call.call_id,
          message: `No tool named '${call.name.slice(0, 64)}'`,
          available: names.slice(0, 50)
        })
      return Effect.succeed(notFound(call, names))
    },
    needsApproval: (call) => {
      const toolkit = owner.get(call.name)
      return toolkit === undefined ? Effect.succeed(false) : toolkit.needsApproval(call)
    }
  }
}

/** What `runBatch` needs. */
export interface BatchContext<R> {
  readonly runId: string
  readonly turn: number
  readonly toolkit: Toolkit.Runner<R>
  readonly concurrency: number
  readonly options: Toolkit.RunnerOptions
  readonly wrap: StepWrapperShape["wrap"]
  readonly emit: (event: AgentEvent) => Effect.Effect<void>
  /** Outputs by `call_id`; filled as calls finish. */
  readonly outputs: Map<string, ResponsesSchema.FunctionCallOutput>
  /** The last output per repeat key, for telling the model a repeated call's result. */
  readonly lastOutput: Map<string, string>
  /** Tool execution events, hooks and tool guardrails; absent: none (the plain path). */
  readonly observe?: ToolObservers | undefined
}

/** What watches or guards each tool execution. */
export interface ToolObservers {
  readonly agent: string
  /** Emit `ToolExecutionStart` / `ToolExecutionEnd`. */
  readonly events: boolean
  readonly hooks: RunHooksShape | undefined
  readonly guardrails: ReadonlyArray<Guardrail.ToolGuardrail>
}

/** Why a batch stops besides a tool's own policy: a tool guardrail's tripwire or a failing hook. */
export type BatchError = Toolkit.RunnerError | Guardrail.Tripwire | RunHooks.HookFailure

const blockedResult = (call: ResponsesSchema.FunctionCall, blocked: Guardrail.Blocked): Toolkit.RunnerResult => ({
  callId: call.call_id,
  name: call.name,
  output: outputItem(call.call_id, blocked.output),
  outcome: { _tag: "Failure", error: { _tag: "ToolCancelled" } },
  isArgumentError: false
})

/**
 * A tool step with its events, hooks and guardrails around it (start, guardrails, the step, end).
 * Combinators, not `Effect.gen`: this runs around every tool call of a streamed run, and the
 * generator's steps and allocations showed in the agent's profile (bench/README.md, row 10).
 */
const observed = <R>(
  context: BatchContext<R>,
  observe: ToolObservers,
  call: ResponsesSchema.FunctionCall,
  step: Effect.Effect<Toolkit.RunnerResult, Toolkit.RunnerError, R>
): Effect.Effect<Toolkit.RunnerResult, BatchError, R> => {
  const { hooks } = observe
  const base = { agent: observe.agent, runId: context.runId, turn: context.turn }
  const start = observe.events
    ? context.emit({ _tag: "ToolExecutionStart", turn: context.turn, callId: call.call_id, name: call.name })
    : Effect.void
  const guarded = Guardrail.guardTool(observe.guardrails, call, step, (result) => outputText(result.output))
  const end = (started: number, guardedResult: Toolkit.RunnerResult | Guardrail.Blocked) => {
    const result = Guardrail.isBlocked(guardedResult) ? blockedResult(call, guardedResult) : guardedResult
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const durationMs = now - started
      const isError = result.outcome._tag === "Failure"
      const ended = observe.events
        ? context.emit({
            _tag: "ToolExecutionEnd",
            turn: context.turn,
            callId: call.call_id,
            name: call.name,
            durationMs,
            isError
          })
        : Effect.void
      if (hooks === undefined) return Effect.as(ended, result)
      const output = outputText(result.output)
      return ended.pipe(
        Effect.andThen(RunHooks.call(hooks, "onToolEnd", { ...base, call, output, isError, durationMs })),
        Effect.as(result)
      )
    })
  }
  return Effect.flatMap(Clock.currentTimeMillis, (started) => {
    const begun =
      hooks === undefined ? start : Effect.andThen(start, RunHooks.call(hooks, "onToolStart", { ...base, call }))
    return begun.pipe(
      Effect.andThen(guarded),
      Effect.flatMap((result) => end(started, result))
    )
  })
}

/** A call whose arguments were malformed: its id, tool and the runner's `ToolArgumentsInvalid` details. */
export interface MalformedCall {
  readonly callId: string
  readonly name: string
  readonly kind: "json" | "schema"
  readonly issues: ReadonlyArray<ToolError.ArgumentIssue>
}

/**
 * Runs planned calls (bounded, in parallel); returns the first call (in plan order) with malformed
 * arguments, if any. A runner that gives no `kind` reports `schema` (its arguments decoded, the schema
 * did not take them).
 */
export const runBatch = <R>(
  plans: ReadonlyArray<CallPlan>,
  context: BatchContext<R>
): Effect.Effect<MalformedCall | undefined, BatchError, R> =>
  Effect.suspend(() => {
    let malformed: MalformedCall | undefined
    let malformedAt = plans.length
    const runOne = (plan: CallPlan, index: number): Effect.Effect<void, BatchError, R> => {
      const { call } = plan
      if (context.outputs.has(call.call_id)) return Effect.void
      if (plan._tag === "Repeated") {
        const previous = context.lastOutput.get(plan.key) ?? ""
        const output = outputItem(
          call.call_id,
          errorText(
            "repeated_call",
            `'${call.name}' was already called ${plan.occurrence - 1} times with these exact arguments; it was not run again. The result is unchanged: ${previous}`
          )
        )
        context.outputs.set(call.call_id, output)
        return context.emit({
          _tag: "ToolResult",
          turn: context.turn,
          callId: call.call_id,
          name: call.name,
          output: outputText(output),
          isError: true,
          skipped: "repeated"
        })
      }
      const step = context.toolkit.handle(call, context.options)
      const id = {
        runId: context.runId,
        turn: context.turn,
        kind: "tool",
        callId: call.call_id,
        name: call.name
      } as const
      const wrapped = context.wrap(id, step, ToolStep)
      return (context.observe === undefined ? wrapped : observed(context, context.observe, call, wrapped)).pipe(
        Effect.flatMap((result) => {
          context.outputs.set(call.call_id, result.output)
          const text = outputText(result.output)
          context.lastOutput.set(plan.key, text)
          if (result.isArgumentError && index < malformedAt) {
            const error = result.outcome._tag === "Failure" ? result.outcome.error : undefined
            malformedAt = index
            malformed = {
              callId: call.call_id,
              name: call.name,
              kind: error?.kind ?? "schema",
              issues: error?.issues ?? []
            }
          }
          return context.emit({
            _tag: "ToolResult",
            turn: context.turn,
            callId: call.call_id,
            name: call.name,
            output: text,
            isError: result.outcome._tag === "Failure"
          })
        })
      )
    }
    // a single call runs in the run's own fiber (nothing to run beside it, no fork)
    const all =
      plans.length === 1
        ? runOne(plans[0]!, 0)
        : Effect.forEach(plans, runOne, { concurrency: Math.max(1, context.concurrency), discard: true })
    return Effect.map(all, () => malformed)
  })
