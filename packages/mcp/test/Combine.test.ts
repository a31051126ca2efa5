/**
 * `McpTools.combine`: an MCP server's tools and a typed Volley toolkit as one toolkit, routed by name,
 * given to an agent; a duplicate name dies with `ToolDefinitionError`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Agent } from "@volley/agent"
import { ScriptedModel, TestClient } from "@volley/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { McpTools } from "../src/index.ts"
import { WeatherHandlers, WeatherTools } from "./fixtures/WeatherTools.ts"
import { call, fixtureServer, node } from "./support.ts"

const Fixture = McpTools.stdio({
  name: "fixture",
  command: node,
  args: [fixtureServer],
  prefix: "fx_",
  needsApproval: (tool) => tool === "add"
})
const Both = McpTools.combine(WeatherTools, Fixture)
const layers = Layer.merge(Fixture.layer, WeatherHandlers)

describe("McpTools.combine", () => {
  it.live("routes each call to its owner and answers approvals and definitions from it", () =>
    Effect.gen(function* () {
      const tools = yield* Both
      assert.includeMembers([...tools.names], ["forecast", "approve_me", "fx_echo"])
      assert.strictEqual(tools.definitions().length, tools.names.length)
      const results = yield* tools.handleAll([
        call("forecast", { city: "Oslo", days: 1 }),
        call("fx_echo", { text: "x" })
      ])
      assert.deepStrictEqual(
        results.map((r) => r.output.output),
        ['{"city":"Oslo","days":1,"sky":"clear"}', "echo: x"]
      )
      assert.isTrue(yield* tools.needsApproval(call("fx_add", { a: 1, b: 2 })))
      assert.isTrue(yield* tools.needsApproval(call("approve_me")))
      assert.isFalse(yield* tools.needsApproval(call("fx_echo", { text: "x" })))
      const unknown = yield* tools.handle(call("nope"))
      assert.strictEqual(unknown.outcome._tag, "Failure")
    }).pipe(Effect.provide(layers))
  )

  it.live("an agent pauses for approval on a combined MCP tool", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ name: "a", model: "scripted", toolkit: Both })
      const result = yield* agent.run("add")
      assert.strictEqual(result._tag, "Paused")
    }).pipe(
      Effect.provide(Layer.merge(layers, TestClient.layer([ScriptedModel.functionCall("fx_add", { a: 1, b: 2 })])))
    )
  )

  it.live("a name defined twice dies with ToolDefinitionError", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(McpTools.combine(WeatherTools, WeatherTools))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "Duplicate tool name")
    }).pipe(Effect.provide(WeatherHandlers))
  )
})
