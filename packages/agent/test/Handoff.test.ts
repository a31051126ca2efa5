import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { ResponsesSchema } from "@volley/core"
import * as Handoff from "../src/Handoff.ts"
import { validatePairing } from "../src/internal/history.ts"

const billing = { name: "billing agent" }
const refunds = { name: "refunds" }
const fc_ = (id: string, name: string): ResponsesSchema.FunctionCall => ({
  type: "function_call",
  call_id: id,
  name,
  arguments: "{}"
})
const user = (text: string): ResponsesSchema.InputItem => ({ type: "message", role: "user", content: text })

describe("Handoff", () => {
  it("to: a transfer_to_<name> tool with no arguments, sanitised", () => {
    const handoff = Handoff.to(billing)
    assert.strictEqual(handoff.toolName, "transfer_to_billing_agent")
    assert.strictEqual(handoff.agentName, "billing agent")
    const tool = Handoff.toolDefinition(handoff)
    assert.strictEqual(tool.name, "transfer_to_billing_agent")
    assert.deepStrictEqual(tool.parameters, {
      type: "object",
      properties: {},
      required: [],
      additionalProperties: false
    })
    assert.strictEqual(Handoff.to(refunds, { toolName: "escalate" }).toolName, "escalate")
  })

  it("plan: no handoff call, no plan", () => {
    assert.isUndefined(Handoff.plan([fc_("c1", "lookup")], [Handoff.to(billing)]))
    assert.isUndefined(Handoff.plan([fc_("c1", "transfer_to_billing_agent")], []))
  })

  it("plan: the first handoff wins; every other call is answered 'not run', in call order", () => {
    const calls = [fc_("c1", "lookup"), fc_("c2", "transfer_to_refunds"), fc_("c3", "transfer_to_billing_agent")]
    const plan = Handoff.plan(calls, [Handoff.to(billing), Handoff.to(refunds)])
    assert.isDefined(plan)
    if (plan === undefined) return
    assert.strictEqual(plan.handoff.agentName, "refunds")
    assert.strictEqual(plan.call.call_id, "c2")
    assert.deepStrictEqual(
      plan.outputs.map((item) => (item.type === "function_call_output" ? item.call_id : "")),
      ["c1", "c2", "c3"]
    )
    assert.include(JSON.stringify(plan.outputs[0]), "not run")
    assert.include(JSON.stringify(plan.outputs[1]), '{\\"assistant\\":\\"refunds\\"}')
    assert.isUndefined(validatePairing([...calls, ...plan.outputs]))
  })

  it("input filters: removeToolItems, keepLast (pairs intact), compose", () => {
    const history: ReadonlyArray<ResponsesSchema.InputItem> = [
      user("hi"),
      fc_("c1", "lookup"),
      { type: "function_call_output", call_id: "c1", output: "x" },
      { type: "message", role: "assistant", content: "found" },
      user("refund please")
    ]
    assert.deepStrictEqual(Handoff.removeToolItems(history), [...history.slice(0, 1), ...history.slice(3)])
    assert.deepStrictEqual(Handoff.keepLast(3)(history), history.slice(4), "at most 3, starting at a user message")
    assert.deepStrictEqual(Handoff.compose(Handoff.removeToolItems, Handoff.keepLast(1))(history), history.slice(4))
    const filtered = Handoff.historyFor(Handoff.to(billing, { inputFilter: Handoff.keepLast(4) }), history)
    assert.isUndefined(validatePairing(filtered))
    assert.strictEqual(Handoff.historyFor(Handoff.to(billing), history), history)
  })

  it("keepLast never leaves an orphan output (property)", () => {
    const history = fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 30 }).map((kinds) => {
      const items: Array<ResponsesSchema.InputItem> = []
      kinds.forEach((kind, i) => {
        if (kind === 0) items.push(user(`u${i}`))
        else {
          items.push(fc_(`c${i}`, "t"))
          if (kind === 2) items.push(user("interleaved"))
          items.push({ type: "function_call_output", call_id: `c${i}`, output: "o" })
        }
      })
      return items
    })
    fc.assert(
      fc.property(history, fc.integer({ min: 0, max: 40 }), (items, n) => {
        const kept = Handoff.keepLast(n)(items)
        return kept.length <= n && validatePairing(kept) === undefined
      })
    )
  })
})
