/**
 * Handoffs: an agent transfers control of the run to another agent. `Handoff.to(agentB, options)`
 * describes one: the model sees a tool `transfer_to_<name>`, and when it calls it the run goes on as
 * agent B (its instructions, tools and model) with the history, optionally filtered by an
 * `inputFilter` (`removeToolItems`, `keepLast(n)`, `compose`). `plan` is the pure rule the loop
 * applies to one response's calls. Gotcha: a response that hands off runs none of its other calls;
 * each gets a "not run" output, so the history always passes the pairing validator.
 */
import type { ResponsesSchema } from "@volley/core"
import { errorText, outputItem } from "./internal/history.ts"
import { cutPoint } from "./Session.ts"

/** Rewrites the history the next agent starts from; must keep every call with its output. */
export type InputFilter = (
  history: ReadonlyArray<ResponsesSchema.InputItem>
) => ReadonlyArray<ResponsesSchema.InputItem>

/** A handoff to `agent`. `A` is the target's output type. */
export interface Handoff<Target> {
  readonly _tag: "Handoff"
  /** The agent that takes over. */
  readonly agent: Target
  /** The agent's name (what `Handoff` events and `result.lastAgent` name). */
  readonly agentName: string
  /** The tool the model calls to hand off. */
  readonly toolName: string
  readonly description: string
  readonly inputFilter: InputFilter | undefined
}

/** Options of `to`. */
export interface HandoffOptions {
  /** Tool name (default `transfer_to_<agent name>`, sanitised). */
  readonly toolName?: string | undefined
  /** What the model is told the target does (default: "Hand the conversation to <name>."). */
  readonly description?: string | undefined
  readonly inputFilter?: InputFilter | undefined
}

const sanitise = (name: string): string => name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 52) || "agent"

/** A handoff to an agent (anything with a `name`, usually an `Agent`). */
export const to = <Target extends { readonly name: string }>(
  agent: Target,
  options?: HandoffOptions
): Handoff<Target> => ({
  _tag: "Handoff",
  agent,
  agentName: agent.name,
  toolName: options?.toolName ?? `transfer_to_${sanitise(agent.name)}`,
  description: options?.description ?? `Hand the conversation to ${agent.name}.`,
  inputFilter: options?.inputFilter
})

/** The function tool the model sees for a handoff (no arguments). */
export const toolDefinition = (handoff: Handoff<unknown>): ResponsesSchema.FunctionTool => ({
  type: "function",
  name: handoff.toolName,
  description: handoff.description,
  parameters: { type: "object", properties: {}, required: [], additionalProperties: false },
  strict: true
})

// ---------------------------------------------------------------------------------------------
// input filters
// ---------------------------------------------------------------------------------------------

/** Drops tool calls, their outputs and reasoning items: the next agent sees the conversation only. */
export const removeToolItems: InputFilter = (history) =>
  history.filter(
    (item) => item.type !== "function_call" && item.type !== "function_call_output" && item.type !== "reasoning"
  )

/** Keeps the newest `n` items at most, never splitting a call from its output. */
export const keepLast =
  (n: number): InputFilter =>
  (history) =>
    history.slice(cutPoint(history, n))

/** Applies filters left to right. */
export const compose =
  (...filters: ReadonlyArray<InputFilter>): InputFilter =>
  (history) =>
    filters.reduce((items, filter) => filter(items), history)

// ---------------------------------------------------------------------------------------------
// the pure rule
// ---------------------------------------------------------------------------------------------

/** What to do with one response's calls when some are handoffs. */
export interface HandoffPlan<Target> {
  /** The handoff that wins (the first handoff call). */
  readonly handoff: Handoff<Target>
  readonly call: ResponsesSchema.FunctionCall
  /** Every call of the response, in order, with its output: the transfer, or "not run". */
  readonly outputs: ReadonlyArray<ResponsesSchema.InputItem>
}

/** The output of a transfer call. */
export const transferOutput = (agentName: string): string => JSON.stringify({ assistant: agentName })

/**
 * The handoff a response's calls ask for, if any: the first handoff call wins; every other call
 * (tools, further handoffs) is answered "not run" in call order.
 */
export const plan = <Target>(
  calls: ReadonlyArray<ResponsesSchema.FunctionCall>,
  handoffs: ReadonlyArray<Handoff<Target>>
): HandoffPlan<Target> | undefined => {
  if (handoffs.length === 0) return undefined
  let chosen: { readonly handoff: Handoff<Target>; readonly call: ResponsesSchema.FunctionCall } | undefined
  for (const call of calls) {
    const handoff = handoffs.find((candidate) => candidate.toolName === call.name)
    if (handoff !== undefined) {
      chosen = { handoff, call }
      break
    }
  }
  if (chosen === undefined) return undefined
  const target = chosen.handoff.agentName
  const outputs = calls.map((call) =>
    call === chosen.call
      ? outputItem(call.call_id, transferOutput(target))
      : outputItem(call.call_id, errorText("not_run", `not run: the conversation was handed to ${target}`))
  )
  return { ...chosen, outputs }
}

/** The history the target starts from: the filter applied to the history (calls already answered). */
export const historyFor = (
  handoff: Handoff<unknown>,
  history: ReadonlyArray<ResponsesSchema.InputItem>
): ReadonlyArray<ResponsesSchema.InputItem> =>
  handoff.inputFilter === undefined ? history : handoff.inputFilter(history)
