import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { type FakeStep, inputJson, makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const researcher = Agent.make({ name: "researcher", model: "small", instructions: "Research things" })
const lead = Agent.make({
  name: "lead",
  model: "big",
  toolkit: TestTools,
  subAgents: [researcher.asTool({ description: "Delegates a research task" })]
})

const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output
})

const setup = (steps: ReadonlyArray<FakeStep>) => {
  const fake = makeFake(steps)
  const runs = makeRuns()
  return { fake, runs, layer: Layer.mergeAll(fake.layer, testToolsLayer(runs)) }
}

describe("sub-agents", () => {
  it.effect("asTool: the sub-agent runs as a tool; its usage rolls up into the parent's", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([
        M.withUsage(M.functionCall("researcher", { input: "find the capital of France" }), usage(10, 5)),
        M.withUsage(M.message("Paris"), usage(100, 50)),
        M.withUsage(M.message("The capital is Paris."), usage(20, 5))
      ])
      const result = yield* lead.run("Capital of France?").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      if (result._tag !== "Completed") return
      assert.strictEqual(result.output, "The capital is Paris.")
      assert.strictEqual(fake.seen[1]!.request.model, "small")
      assert.strictEqual(fake.seen[1]!.request.instructions, "Research things")
      assert.isTrue(inputJson(fake.seen[2]!).some((json) => json.includes('"output":"Paris"')))
      assert.strictEqual(result.usage.totalTokens, 15 + 150 + 25)
      assert.strictEqual(result.usage.requests, 3)
      assert.strictEqual(result.turnUsage.length, 2, "per-turn usage is the agent's own")
      const tools = fake.seen[0]!.request.tools!.map((tool) => (tool as { name: string }).name)
      assert.include(tools, "researcher")
      assert.include(tools, "get_weather")
    })
  )

  it.effect("budgets roll up: the sub-agent's tokens count against the parent's budget", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([
        M.withUsage(M.functionCall("researcher", { input: "dig" }), usage(10, 5)),
        M.withUsage(M.message("found"), usage(100, 50)),
        M.message("never")
      ])
      const error = yield* Effect.flip(
        lead.run("go").pipe(Effect.provide(layer), Effect.provideService(AgentKnobs.Budgets, { totalTokens: 100 }))
      )
      assert.strictEqual(error._tag, "BudgetExceeded")
      if (error._tag !== "BudgetExceeded") return
      assert.strictEqual(error.used, 165)
      assert.strictEqual(fake.seen.length, 2)
    })
  )

  it.effect("a failing sub-agent is fed back to the parent as a tool error", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([
        M.functionCall("researcher", { input: "something bad" }),
        M.refusal("I won't"),
        M.message("The researcher refused.")
      ])
      const result = yield* lead.run("go").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      const told = inputJson(fake.seen[2]!).find((json) => json.includes("function_call_output"))!
      assert.include(told, "agent_failed")
      assert.include(told, "Refused")
    })
  )
})
