import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ResponsesSchema } from "@volley/core"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { beforeRequest, decide, planCalls, viewOf } from "../src/internal/decide.ts"
import { emptyUsage } from "../src/StopReason.ts"
import { makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const message = (text: string) => ({
  type: "message" as const,
  id: "msg_1",
  role: "assistant" as const,
  status: "completed",
  content: [{ type: "output_text" as const, text }]
})
const call = (id: string, name = "echo", args = "{}"): ResponsesSchema.FunctionCall => ({
  type: "function_call",
  call_id: id,
  name,
  arguments: args
})
const response = (
  output: NonNullable<ResponsesSchema.Response["output"]>,
  extra: Omit<ResponsesSchema.Response, "id" | "output"> = {}
): ResponsesSchema.Response => ({
  id: "resp_1",
  status: "completed",
  output,
  ...extra
})
const input = (
  r: ResponsesSchema.Response,
  needsApproval: (call: ResponsesSchema.FunctionCall) => boolean = () => false
) => ({
  view: viewOf(r),
  usage: emptyUsage,
  budgets: {},
  needsApproval
})

describe("decide (pure)", () => {
  it("a handoff call wins over the other calls and over approvals, but not over a spent budget", () => {
    const isHandoff = (c: ResponsesSchema.FunctionCall) => c.name.startsWith("transfer_to_")
    const r = response([call("c1", "echo"), call("c2", "transfer_to_billing"), call("c3", "transfer_to_shipping")])
    const step = decide({ ...input(r, () => true), isHandoff })
    assert.deepStrictEqual(step, { _tag: "Handoff", call: call("c2", "transfer_to_billing") })
    assert.strictEqual(decide(input(r))._tag, "RunTools", "without handoffs these are plain calls")
    const spent = decide({
      ...input(r),
      usage: { ...emptyUsage, totalTokens: 10 },
      budgets: { totalTokens: 5 },
      isHandoff
    })
    assert.strictEqual(spent._tag, "LimitReached")
  })

  it("C07 a function_call wins over text, in either order", () => {
    assert.strictEqual(decide(input(response([message("Let me check"), call("c1")])))._tag, "RunTools")
    assert.strictEqual(decide(input(response([call("c1"), message("Let me check")])))._tag, "RunTools")
  })

  it("a message with no calls is Final; its text is the answer", () => {
    assert.deepStrictEqual(decide(input(response([message("a"), message("b")]))), { _tag: "Final", text: "ab" })
  })

  it("C03/C04 incomplete is Truncated even when it holds calls; the reason comes from incomplete_details", () => {
    const r = response([call("c1")], { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } })
    assert.deepStrictEqual(decide(input(r)), { _tag: "Truncated", reason: "max_output_tokens" })
  })

  it("C05 a refusal part is Refused, not Final", () => {
    const refusal = { ...message(""), content: [{ type: "refusal" as const, refusal: "no" }] }
    assert.deepStrictEqual(decide(input(response([refusal]))), { _tag: "Refused", text: "no" })
  })

  it("C08 completed with empty output (or only reasoning) is EmptyOutput; in_progress and cancelled are protocol errors", () => {
    assert.strictEqual(decide(input(response([])))._tag, "EmptyOutput")
    assert.strictEqual(decide(input(response([{ type: "reasoning", summary: [] }])))._tag, "EmptyOutput")
    for (const status of ["in_progress", "cancelled"] as const)
      assert.deepStrictEqual(decide(input(response([message("x")], { status }))), {
        _tag: "ProtocolError",
        reason: "UnexpectedStatus"
      })
  })

  it("a failed response is decided like any other: Failed with the server's message and code", () => {
    const failed = response([call("c1")], { status: "failed", error: { code: "server_error", message: "boom" } })
    assert.deepStrictEqual(decide(input(failed)), {
      _tag: "Failed",
      message: "boom",
      code: "server_error",
      responseId: "resp_1"
    })
    assert.deepStrictEqual(viewOf(failed).runnable, [], "a failed response's calls never run")
    assert.strictEqual(viewOf(failed).calls.length, 1)
  })

  it("D08 duplicate call ids are a protocol error before anything runs", () => {
    assert.deepStrictEqual(decide(input(response([call("c1"), call("c1")]))), {
      _tag: "ProtocolError",
      reason: "DuplicateCallId"
    })
  })

  it("NeedsApproval splits the calls that may run from those that wait", () => {
    const step = decide(input(response([call("a"), call("b", "delete_file")]), (c) => c.name === "delete_file"))
    assert.strictEqual(step._tag, "NeedsApproval")
    if (step._tag !== "NeedsApproval") return
    assert.deepStrictEqual(
      step.run.map((c) => c.call_id),
      ["a"]
    )
    assert.deepStrictEqual(
      step.awaiting.map((c) => c.call_id),
      ["b"]
    )
  })

  it("a crossed budget stops before calls run; a final answer still completes", () => {
    const usage = { ...emptyUsage, totalTokens: 100 }
    const withCall = decide({ ...input(response([call("a")])), usage, budgets: { totalTokens: 100 } })
    assert.deepStrictEqual(withCall, { _tag: "LimitReached", budget: "totalTokens", used: 100, limit: 100 })
    const final = decide({ ...input(response([message("done")])), usage, budgets: { totalTokens: 100 } })
    assert.strictEqual(final._tag, "Final")
  })

  it("beforeRequest: MaxTurns once `maxTurns` calls were made", () => {
    assert.strictEqual(beforeRequest(4, 5, emptyUsage, {})._tag, "Proceed")
    assert.deepStrictEqual(beforeRequest(5, 5, emptyUsage, {}), { _tag: "MaxTurns", limit: 5 })
  })

  it("E02 planCalls: occurrences 1-2 run, 3-4 are repeats, the 5th is LoopDetected", () => {
    const policy = { skipFrom: 3, stopAt: 5 }
    let counts: ReadonlyMap<string, number> = new Map()
    const tags: Array<string> = []
    for (let i = 0; i < 5; i++) {
      const plan = planCalls([call(`c${i}`)], () => "same", counts, policy)
      if (plan._tag === "LoopDetected") {
        tags.push("LoopDetected")
        break
      }
      tags.push(plan.calls[0]!._tag)
      counts = plan.counts
    }
    assert.deepStrictEqual(tags, ["Run", "Run", "Repeated", "Repeated", "LoopDetected"])
  })
})

describe("step identity", () => {
  it.effect("every model call and tool call runs through StepWrapper with run id + turn + call id", () =>
    Effect.gen(function* () {
      const fake = makeFake([M.functionCall("echo", { text: "a" }, { callId: "call_a" }), M.message("done")])
      const layer = Layer.mergeAll(fake.layer, testToolsLayer(makeRuns()))
      const steps: Array<string> = []
      const wrapper: AgentKnobs.StepWrapperShape = {
        wrap: (id, step) =>
          Effect.sync(() => steps.push(`${id.runId}/${id.turn}/${id.kind}/${id.callId ?? "-"}`)).pipe(
            Effect.andThen(step)
          )
      }
      const agent = Agent.make({ name: "a", model: "m", toolkit: TestTools })
      const result = yield* agent
        .run("go", { runId: "run_1" })
        .pipe(Effect.provide(layer), Effect.provideService(AgentKnobs.StepWrapper, wrapper))
      assert.strictEqual(result.runId, "run_1")
      assert.deepStrictEqual(steps, ["run_1/1/model/-", "run_1/1/tool/call_a", "run_1/2/model/-"])
    })
  )
})
