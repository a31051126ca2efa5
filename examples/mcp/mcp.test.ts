/**
 * The MCP example: the agent calls `weather_forecast` on the served Volley toolkit through a real MCP
 * stdio child process, on volley-local; and `main.ts` run as a user would, offline.
 */
import { assert, describe, it } from "@effect/vitest"
import { LocalModel, TestClient } from "@volley/testing"
import { Effect, Layer } from "effect"
import { examplePath, runScript } from "../shared/process.ts"
import { ask, Weather } from "./main.ts"

describe("examples/mcp", () => {
  it.live("the agent calls the MCP server's forecast tool and answers from it", () =>
    Effect.gen(function* () {
      const result = yield* ask("What is the forecast for Oslo for 2 days?", LocalModel.modelName)
      assert.strictEqual(result._tag, "Completed")
      const outputs = result.history.filter((item) => item.type === "function_call_output")
      assert.isAtLeast(outputs.length, 1)
      assert.include((outputs[0] as { output: string }).output, '"sky":"clear"')
    }).pipe(Effect.provide(Layer.merge(Weather.layer, TestClient.layerLocal())))
  )

  it.live("main.ts runs offline and prints an answer", () =>
    Effect.gen(function* () {
      const ran = yield* runScript(examplePath("mcp/main.ts"), ["What is the forecast for Oslo?"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "clear")
    })
  )
})
