/**
 * The static inputs of a run and what the loop builds from them: the agent's `AgentSpec`, the run's
 * `Knobs` (read once when it starts), the loop's `LoopDeps` and `LoopOutcome`, and `requestFor`, the
 * request one turn sends. Gotcha: `requestFor` copies the history, so a request never changes when
 * the run appends to it later.
 */
import type * as Effect from "effect/Effect"
import type { ResponsesClient, ResponsesSchema, RetryPolicy } from "@volley/core"
import type { Toolkit } from "@volley/tools"
import type { AgentEvent } from "../AgentEvent.ts"
import type { BudgetsShape, StepWrapperShape } from "../AgentKnobs.ts"
import type { ApprovalLedgerShape } from "../ApprovalLedger.ts"
import type * as Guardrail from "../Guardrail.ts"
import type * as Handoff from "../Handoff.ts"
import type { RunHooksShape } from "../RunHooks.ts"
import type { PendingApproval } from "../RunState.ts"
import type { Run } from "./run.ts"

/** The knobs of a run, read once when it starts. */
export interface Knobs {
  readonly maxTurns: number
  readonly toolConcurrency: number
  readonly budgets: BudgetsShape
  readonly maxInputBytes: number
  readonly retryTurnOnStreamDrop: boolean
  readonly modelRetries: number
  readonly retryPolicy: RetryPolicy.RetryPolicy
  readonly malformedArgumentTurns: number
  readonly repeatedCalls: { readonly skipFrom: number; readonly stopAt: number }
  readonly maxCallsPerTurn: number
  readonly unknownTool: "feedback" | "fail"
  readonly captureContent: boolean
  readonly wrap: StepWrapperShape["wrap"]
  /** The run's hooks; `undefined` when none is set (nothing to call). */
  readonly hooks: RunHooksShape | undefined
  /** `FallbackPolicy` models tried after the agent's own chain. */
  readonly fallbackModels: ReadonlyArray<string>
}

/**
 * The optional features of an agent (issue 16): fallback models, guardrails and handoffs. Absent on
 * a plain agent, so the loop checks one field. Guardrails' requirements are part of the agent's `R`.
 */
export interface Extras {
  /** Models tried, in order, when a turn fails on `model` (retries spent, context too large). */
  readonly models: ReadonlyArray<string>
  readonly inputGuardrails: ReadonlyArray<Guardrail.InputGuardrail>
  readonly outputGuardrails: ReadonlyArray<Guardrail.OutputGuardrail<unknown>>
  readonly toolGuardrails: ReadonlyArray<Guardrail.ToolGuardrail>
  readonly handoffs: ReadonlyArray<Handoff.Handoff<unknown>>
}

/** The static part of an agent the loop needs. */
export interface AgentSpec<A> {
  readonly name: string
  readonly model: string
  readonly instructions: string | undefined
  /** Request fields from the model settings (already in wire form). */
  readonly settings: Partial<ResponsesSchema.CreateRequest>
  readonly textFormat: ResponsesSchema.TextFormat | undefined
  /** Decodes the final text; `undefined` means plain text (`A` is `string`). */
  readonly decodeOutput:
    | ((text: string) => { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issue: string })
    | undefined
  readonly approvalSecret: string | undefined
  /** Send `tool_choice: "auto"` once a tool ran, when the settings force a tool (default true). */
  readonly resetToolChoice: boolean
  readonly extras?: Extras | undefined
}

/** What the loop needs besides the spec and the run. */
export interface LoopDeps<R> {
  readonly client: ResponsesClient.Service
  readonly toolkit: Toolkit.Runner<R>
  readonly knobs: Knobs
  /** Where `resume` records the decisions it acts on (single use). */
  readonly ledger: ApprovalLedgerShape
  readonly emit: (event: AgentEvent) => Effect.Effect<void>
  /** Emits a batch of a model call's events in order with one operation (default: `emit` per event). */
  readonly emitAll?: ((events: ReadonlyArray<AgentEvent>) => Effect.Effect<void>) | undefined
  readonly mode: "create" | "stream"
  /** The turn count when the current agent took over (a handoff): its input guardrails run on the next call (default 0). */
  readonly inputTurn?: number | undefined
  /** Emit tool execution events (`ToolExecutionStart`/`End`): someone listens (a stream, a parent). */
  readonly observeTools?: boolean | undefined
}

/** How a loop ends when it does not fail. */
export type LoopOutcome<A> =
  | { readonly _tag: "Completed"; readonly text: string; readonly value: A }
  | { readonly _tag: "Paused"; readonly awaiting: ReadonlyArray<PendingApproval> }
  /** The model handed the run to another agent; the history already holds the transfer's output. */
  | { readonly _tag: "Handoff"; readonly handoff: Handoff.Handoff<unknown>; readonly turn: number }

/** The request of the next turn: the settings, the history, the tools, the output format. */
export const requestFor = <A>(
  spec: AgentSpec<A>,
  run: Run,
  tools: ReadonlyArray<ResponsesSchema.FunctionTool>
): ResponsesSchema.CreateRequest => {
  const request: Record<string, unknown> = { ...spec.settings, model: spec.model, input: run.history.slice() }
  if (spec.instructions !== undefined) request.instructions = spec.instructions
  if (tools.length > 0) request.tools = tools
  const choice = spec.settings.tool_choice
  // A forced tool choice would force a tool on every turn: after a tool ran, let the model answer.
  if (spec.resetToolChoice && run.toolsRan && choice !== undefined && choice !== "auto" && choice !== "none")
    request.tool_choice = "auto"
  if (spec.textFormat !== undefined) {
    const text = (spec.settings.text ?? {}) as Record<string, unknown>
    request.text = { ...text, format: spec.textFormat }
  }
  return request as ResponsesSchema.CreateRequest
}
