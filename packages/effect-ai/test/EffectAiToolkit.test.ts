import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as AiTool from "effect/ai/Tool"
import * as AiToolkit from "effect/ai/Toolkit"
import { Agent } from "@volley/agent"
import { ResponsesServer, ScriptedModel as M, TestClient } from "@volley/testing"
import { EffectAiToolkit } from "../src/index.ts"

class Unknown extends Schema.TaggedError<Unknown>()("UnknownCity", { city: Schema.String }) {}

const GetWeather = AiTool.make("get_weather", {
  description: "The weather of a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ forecast: Schema.String }),
  failure: Unknown,
  failureMode: "return"
})
const Kit = AiToolkit.make(GetWeather)
const handlers = Kit.toLayer({
  get_weather: ({ city }) =>
    city === "Atlantis" ? Effect.fail(new Unknown({ city })) : Effect.succeed({ forecast: `sunny in ${city}` })
})

const agent = Agent.make({ name: "weather", model: "m", toolkit: EffectAiToolkit.toVolley(Kit) })

const outputs = Effect.gen(function* () {
  const server = yield* Effect.service(ResponsesServer.ResponsesServer)
  const last = (yield* server.requests).at(-1)!
  const input = last.body!.input as ReadonlyArray<Record<string, unknown>>
  return input.filter((item) => item.type === "function_call_output").map((item) => item.output)
})

const provide = (script: TestClient.Script) =>
  Effect.provide(Layer.mergeAll(TestClient.layer(script), handlers).pipe(Layer.orDie))

describe("EffectAiToolkit", () => {
  it.live("an effect/ai toolkit with its handler layer runs as the agent's toolkit", () =>
    Effect.gen(function* () {
      const result = yield* agent.run("Weather in Paris?")
      assert.strictEqual(result._tag, "Completed")
      if (result._tag === "Completed") assert.strictEqual(result.output, "Sunny.")
      assert.deepStrictEqual(yield* outputs, [JSON.stringify({ forecast: "sunny in Paris" })])
      const server = yield* Effect.service(ResponsesServer.ResponsesServer)
      const tool = (yield* server.request(0)).body!.tools?.[0]
      assert.strictEqual(tool?.type, "function")
      if (tool?.type === "function") {
        assert.strictEqual(tool.name, "get_weather")
        assert.strictEqual(tool.strict, false)
        assert.deepStrictEqual((tool.parameters as { required: unknown }).required, ["city"])
      }
    }).pipe(provide([M.functionCall("get_weather", { city: "Paris" }), M.message("Sunny.")]))
  )

  it.live("the tool's typed failure and bad parameters reach the model as outputs; the run goes on", () =>
    Effect.gen(function* () {
      const result = yield* agent.run("Weather?")
      assert.strictEqual(result._tag, "Completed")
      const [failure, invalid] = yield* outputs
      assert.include(String(failure), "UnknownCity")
      assert.include(String(failure), "Atlantis")
      assert.include(String(invalid), "ToolParameterValidationError")
    }).pipe(
      provide([
        M.turn(
          M.functionCall("get_weather", { city: "Atlantis" }, { callId: "c1" }),
          M.functionCall("get_weather", { town: 3 }, { callId: "c2" })
        ),
        M.message("Sorry.")
      ])
    )
  )

  it.live("needsApproval pauses the run before the effect/ai handler runs", () =>
    Effect.gen(function* () {
      const guarded = Agent.make({
        name: "guarded",
        model: "m",
        toolkit: EffectAiToolkit.toVolley(Kit, { needsApproval: (_name, params) => params.city === "Paris" })
      })
      const result = yield* guarded.run("Weather in Paris?")
      assert.strictEqual(result._tag, "Paused")
    }).pipe(provide([M.functionCall("get_weather", { city: "Paris" })]))
  )

  it.effect("an effect/ai tool whose name the Responses API refuses is a ToolDefinitionError defect", () =>
    Effect.gen(function* () {
      const Bad = AiToolkit.make(AiTool.make("bad name!", { description: "x" }))
      const exit = yield* EffectAiToolkit.toVolley(Bad).pipe(
        Effect.provide(Bad.toLayer({ "bad name!": () => Effect.void })),
        Effect.exit
      )
      assert.strictEqual(exit._tag, "Failure")
      if (exit._tag === "Failure") {
        const defect = Cause.squash(exit.cause) as { readonly _tag?: string; readonly message?: string }
        assert.strictEqual(defect._tag, "ToolDefinitionError")
        assert.include(defect.message, "must match")
      }
    })
  )

  it.live("fromHandled: dynamic tools with raw JSON Schemas, as McpClient.toolkit builds them", () =>
    Effect.gen(function* () {
      const inputSchema = {
        type: "object",
        properties: { path: { type: "string", description: "A file path" } },
        required: ["path"]
      }
      const Read = AiTool.dynamic("fs__read", {
        parameters: inputSchema,
        description: "Reads a file",
        success: Schema.String,
        failure: Unknown
      })
      const kit = AiToolkit.make(Read)
      const handled = yield* kit.pipe(
        Effect.provideContext(
          yield* kit.toHandlers({
            fs__read: (params: unknown) => {
              const path = (params as { readonly path?: unknown }).path
              return path === "/missing"
                ? Effect.fail(new Unknown({ city: "nowhere" }))
                : Effect.succeed(`contents of ${String(path)}`)
            }
          })
        )
      )
      const reader = Agent.make({ name: "reader", model: "m", toolkit: EffectAiToolkit.fromHandled(handled) })
      const result = yield* reader.run("Read both")
      assert.strictEqual(result._tag, "Completed")
      const server = yield* Effect.service(ResponsesServer.ResponsesServer)
      const tool = (yield* server.request(0)).body!.tools?.[0]
      assert.deepStrictEqual(tool?.type === "function" ? tool.parameters : undefined, inputSchema)
      const [ok, failed] = yield* outputs
      assert.strictEqual(ok, "contents of /etc/motd")
      assert.include(String(failed), "UnknownCity")
    }).pipe(
      provide([
        M.turn(
          M.functionCall("fs__read", { path: "/etc/motd" }, { callId: "r1" }),
          M.functionCall("fs__read", { path: "/missing" }, { callId: "r2" })
        ),
        M.message("Done.")
      ])
    )
  )
})
