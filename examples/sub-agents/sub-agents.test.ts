/**
 * The orchestrator and its sub-agent on volley-local (the sub-agent really runs its own tool calls)
 * and on a scripted server with fixed usage (the roll-up adds up exactly; a failing sub-agent is fed
 * back to the orchestrator instead of failing the run).
 */
import { assert, describe, it } from "@effect/vitest"
import { LocalModel, RecordedRequest, ResponsesServer, ScriptedModel as M, TestClient } from "@volley/testing"
import { Effect, Layer } from "effect"
import { WeatherHandlers, weatherFor } from "../quickstart/weather.ts"
import { advise, usageReport, weatherToolName } from "./agents.ts"
import { examplePath, runScript } from "../shared/process.ts"

const adviseWith = (prompt: string, script: ReadonlyArray<M.Step> | ResponsesServer.Options) =>
  Effect.gen(function* () {
    const advice = yield* advise(prompt, "test/model")
    const server = yield* ResponsesServer.ResponsesServer
    return { advice, requests: yield* server.requests }
  }).pipe(Effect.provide(Layer.mergeAll(WeatherHandlers, TestClient.layer(script))))

const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output
})

describe("sub-agents", () => {
  it.effect("on volley-local the orchestrator delegates, the sub-agent calls get_weather, usage covers both", () =>
    Effect.gen(function* () {
      const { advice, requests } = yield* adviseWith("What's the weather in Paris and Tokyo? What should I pack?", {
        fallback: LocalModel.responder
      })
      // orchestrator -> sub-agent (tool calls) -> sub-agent (answer) -> orchestrator (answer)
      assert.deepStrictEqual(
        requests.map((request) => RecordedRequest.toolNames(request)),
        [[weatherToolName], ["get_weather"], ["get_weather"], [weatherToolName]]
      )
      const subAgentOutputs = RecordedRequest.functionCallOutputs(requests[2]!)
      assert.strictEqual(subAgentOutputs.length, 2, "the sub-agent ran get_weather for both cities")
      assert.strictEqual(advice.delegated.length, 1)
      assert.include(advice.answer, `Paris: ${weatherFor("Paris").temperatureC}°`)
      assert.include(advice.answer, "Tokyo")
      assert.strictEqual(advice.usage.requests, 4)
      assert.strictEqual(advice.orchestratorUsage.requests, 2)
      assert.isAbove(advice.usage.totalTokens, advice.orchestratorUsage.totalTokens)
    })
  )

  it.effect("the usage roll-up adds the sub-agent's tokens to the orchestrator's, exactly", () =>
    Effect.gen(function* () {
      const { advice } = yield* adviseWith("Weather in Oslo?", [
        M.withUsage(M.functionCall(weatherToolName, { input: "Weather in Oslo?" }), usage(10, 5)),
        M.withUsage(M.message("Oslo: 2°C, snow."), usage(100, 20)),
        M.withUsage(M.message("Oslo is cold: pack a coat."), usage(30, 7))
      ])
      assert.strictEqual(advice.answer, "Oslo is cold: pack a coat.")
      assert.deepInclude(advice.usage, { requests: 3, inputTokens: 140, outputTokens: 32, totalTokens: 172 })
      assert.deepInclude(advice.orchestratorUsage, { requests: 2, totalTokens: 52 })
      assert.strictEqual(
        usageReport(advice),
        [
          "usage: 172 tokens in 3 model calls",
          "  trip-advisor: 52 tokens in 2 calls",
          "  sub-agents:   120 tokens in 1 calls"
        ].join("\n")
      )
    })
  )

  it.effect("a failing sub-agent is fed back to the orchestrator as a tool error, and the run completes", () =>
    Effect.gen(function* () {
      const { advice, requests } = yield* adviseWith("Weather in Oslo?", [
        M.functionCall(weatherToolName, { input: "Weather in Oslo?" }),
        M.httpError(400),
        M.message("I could not get the weather; pack layers.")
      ])
      assert.strictEqual(advice.answer, "I could not get the weather; pack layers.")
      const [output] = RecordedRequest.functionCallOutputs(requests[2]!)
      assert.include(String(output?.output), "agent_failed")
      assert.include(String(output?.output), "ModelError")
    })
  )
})

it.live("as a program on volley-local: the answer on stdout, delegation and the usage roll-up on stderr", () =>
  Effect.gen(function* () {
    const ran = yield* runScript(examplePath("sub-agents/main.ts"), [])
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "Paris: ")
    assert.include(ran.stderr, "→ asked the weather expert: ")
    assert.match(
      ran.stderr,
      /usage: \d+ tokens in 4 model calls\n {2}trip-advisor: \d+ tokens in 2 calls\n {2}sub-agents: {3}\d+ tokens in 2 calls\n$/
    )
  })
)
