/**
 * A support desk built from handoffs and guardrails: `triage` reads the customer's message and hands
 * the conversation to `billing` (refunds) or `shipping` (order status); the specialist answers with
 * its own instructions, tools and model. Guardrails: an input guardrail trips on prompt injection
 * (the run fails with `GuardrailTripped` before any answer is used), and a tool guardrail blocks
 * refunds over 100 (the model is told, the refund never runs). Entry points: `makeDesk(model)`,
 * `handle(desk, message)`; needs a `ResponsesClient` and `DeskHandlers`.
 * Gotcha: the specialist continues the same run: turns, usage and `MaxTurns` span both agents.
 */
import { Agent, Guardrail, Handoff } from "@volley/agent"
import { Tool, Toolkit } from "@volley/tools"
import { Effect, Schema } from "effect"

const LookupOrder = Tool.make("lookup_order", {
  description: "Shipping status of an order",
  parameters: Schema.Struct({ orderId: Schema.Number }),
  success: Schema.Struct({ orderId: Schema.Number, status: Schema.String })
})
const RefundOrder = Tool.make("refund_order", {
  description: "Refund an order (amount in euros)",
  parameters: Schema.Struct({ orderId: Schema.Number, amount: Schema.Number }),
  success: Schema.Struct({ orderId: Schema.Number, refunded: Schema.Number })
})

/** The desk's tools. */
export const DeskTools = Toolkit.make(LookupOrder, RefundOrder)

/** Refunds made, for the test and the CLI. */
export const refunds: Array<{ readonly orderId: number; readonly amount: number }> = []

/** The tools' handlers (an in-memory shop). */
export const DeskHandlers = DeskTools.toLayer({
  lookup_order: ({ orderId }) => Effect.succeed({ orderId, status: orderId % 2 === 0 ? "shipped" : "in transit" }),
  refund_order: ({ orderId, amount }) =>
    Effect.sync(() => {
      refunds.push({ orderId, amount })
      return { orderId, refunded: amount }
    })
})

/** Trips on a prompt injection in the customer's message (runs beside the first model call). */
export const injection = Guardrail.input("prompt-injection", ({ input }) =>
  Effect.succeed({
    tripwire: /ignore (all |the )?previous instructions/i.test(JSON.stringify(input)),
    info: { reason: "prompt injection" }
  })
)

/** The refund limit: larger refunds are blocked and the model is told to escalate. */
export const refundLimit = Guardrail.tool("refund-limit", {
  before: (call) =>
    Effect.sync(() => {
      if (call.name !== "refund_order") return Guardrail.allow
      const amount = Number((JSON.parse(call.arguments) as { amount?: unknown }).amount)
      return amount > 100 ? Guardrail.block("Refunds over 100 EUR need a human: escalate.") : Guardrail.allow
    })
})

/** The three agents: triage hands to billing or shipping. */
export const makeDesk = (model: string) => {
  const billing = Agent.make({
    name: "billing",
    model,
    instructions: "You handle refunds. Refund what the customer asks for, then confirm.",
    toolkit: DeskTools,
    toolGuardrails: [refundLimit]
  })
  const shipping = Agent.make({
    name: "shipping",
    model,
    instructions: "You answer questions about where an order is.",
    toolkit: DeskTools
  })
  const triage = Agent.make({
    name: "triage",
    model,
    instructions: "Hand billing and refund questions to billing, delivery questions to shipping.",
    handoffs: [billing, Handoff.to(shipping, { inputFilter: Handoff.keepLast(10) })],
    inputGuardrails: [injection]
  })
  return { triage, billing, shipping }
}

/** What the desk did with one message. */
export interface Handled {
  readonly answer: string
  /** The agent that answered. */
  readonly answeredBy: string
  readonly turns: number
}

/** Runs the desk on one customer message. */
export const handle = (desk: ReturnType<typeof makeDesk>, message: string) =>
  desk.triage.run(message).pipe(
    Effect.map(
      (result): Handled => ({
        answer: result._tag === "Completed" ? result.output : "(waiting for approval)",
        answeredBy: result.lastAgent,
        turns: result.turns
      })
    )
  )
