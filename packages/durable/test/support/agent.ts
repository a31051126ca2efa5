/**
 * The agent the durable tests run: an `add` tool that records every real run of its handler (with
 * the step key it was handed) in a caller-supplied sink, and a scripted model that calls `add` once
 * per turn for `steps` turns, then answers with the sum. The script is a `responder` computed from
 * the request's history, so any process (a restarted child included) gets the same answers.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent } from "@volley/agent"
import type { ResponsesSchema } from "@volley/core"
import { ScriptedModel as M } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import { DurableAgent } from "@volley/durable"

const Add = Tool.make("add", {
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number
})

const Pay = Tool.make("pay", {
  description: "Pays an amount (needs a human's approval)",
  parameters: Schema.Struct({ amount: Schema.Number }),
  success: Schema.String,
  needsApproval: true
})

/** The toolkit of the test agent. */
export const Tools = Toolkit.make(Add)

/** A toolkit whose only tool needs approval. */
export const PayTools = Toolkit.make(Pay)

/** An agent that pays after approval. */
export const payer = Agent.make({ name: "payer", model: "m", instructions: "Pay", toolkit: PayTools })

/** The `pay` handler, reporting each real run. */
export const payLayer = (record: (amount: number) => void) =>
  PayTools.toLayer({
    pay: ({ amount }) =>
      Effect.sync(() => {
        record(amount)
        return `paid ${amount}`
      })
  })

/** The test agent. */
export const adder = Agent.make({ name: "adder", model: "m", instructions: "Add", toolkit: Tools })

/** One real run of the tool handler. */
export interface ToolRun {
  readonly callId: string
  readonly key: string | undefined
}

/** The handlers, reporting each real run to `record`. */
export const toolsLayer = (record: (run: ToolRun) => void, delay?: Effect.Effect<void>) =>
  Tools.toLayer({
    add: ({ a, b }, { callId }) =>
      Effect.gen(function* () {
        const key = yield* DurableAgent.StepKey
        record({ callId, key })
        if (delay !== undefined) yield* delay
        return a + b
      })
  })

const outputsOf = (request: ResponsesSchema.CreateRequest): number =>
  Array.isArray(request.input) ? request.input.filter((item) => item.type === "function_call_output").length : 0

const stepsOf = (request: ResponsesSchema.CreateRequest): number => {
  const first = Array.isArray(request.input) ? request.input[0] : undefined
  const text = first !== undefined && first.type === "message" && typeof first.content === "string" ? first.content : ""
  return Number(/steps=(\d+)/.exec(text)?.[1] ?? "0")
}

/**
 * A model that calls `add` once per turn for `steps` turns (call ids `c<turn>`), then answers
 * "done <steps>"; without `steps`, the count comes from a `steps=<n>` prompt.
 */
export const script = (steps?: number) =>
  M.responder((request) => {
    const done = outputsOf(request)
    return done < (steps ?? stepsOf(request))
      ? M.functionCall("add", { a: done, b: 1 }, { callId: `c${done + 1}` })
      : M.message(`done ${steps ?? stepsOf(request)}`)
  })
