/**
 * An orchestrator with a sub-agent: the trip advisor delegates weather questions to the quickstart's
 * weather agent through `weatherAgent.asTool(...)` (a tool taking `{ input }` and returning the
 * sub-agent's final answer). The sub-agent runs its own loop with its own tools and model; its token
 * usage is added to the orchestrator's `result.usage`, while `result.turnUsage` lists only the
 * orchestrator's own model calls. Entry points: `makeAdvisor(model)`, `advise(prompt, model)`;
 * needs a `ResponsesClient` and the weather tool's handlers (`WeatherHandlers`).
 * Gotcha: a sub-agent failure does not fail the parent run: it is fed back as a tool error.
 */
import { Agent, StopReason } from "@volley/agent"
import { Effect } from "effect"
import { makeAgent as makeWeatherAgent } from "../quickstart/weather.ts"

/** The orchestrator's name for the weather sub-agent's tool. */
export const weatherToolName = "ask_weather_expert"

/** The trip advisor, delegating weather to the quickstart's weather agent (same model). */
export const makeAdvisor = (model: string) =>
  Agent.make({
    name: "trip-advisor",
    model,
    instructions:
      "You help people get ready for trips. Ask the weather expert about the weather in the cities involved, then give short packing advice.",
    subAgents: [
      makeWeatherAgent(model).asTool({
        name: weatherToolName,
        description: "Ask the weather expert about the weather in one or more cities"
      })
    ]
  })

/** What `advise` returns: the answer and where the tokens went. */
export interface Advice {
  readonly answer: string
  /** The whole run, sub-agent included. */
  readonly usage: StopReason.RunUsage
  /** The orchestrator's own model calls only. */
  readonly orchestratorUsage: StopReason.RunUsage
  /** The questions the orchestrator delegated. */
  readonly delegated: ReadonlyArray<string>
}

/** Runs the advisor on one prompt. */
export const advise = (prompt: string, model: string) =>
  makeAdvisor(model)
    .run(prompt)
    .pipe(
      Effect.flatMap((result) => {
        if (result._tag !== "Completed") return Effect.die("no tool of the advisor needs approval")
        const advice: Advice = {
          answer: result.output,
          usage: result.usage,
          orchestratorUsage: result.turnUsage
            .map((turn) => turn.usage)
            .reduce(StopReason.addUsage, StopReason.emptyUsage),
          delegated: result.history.flatMap((item) =>
            item.type === "function_call" && item.name === weatherToolName ? [item.arguments] : []
          )
        }
        return Effect.succeed(advice)
      })
    )

/** The usage lines the program prints on stderr. */
export const usageReport = (advice: Advice): string => {
  const sub = {
    requests: advice.usage.requests - advice.orchestratorUsage.requests,
    totalTokens: advice.usage.totalTokens - advice.orchestratorUsage.totalTokens
  }
  return [
    `usage: ${advice.usage.totalTokens} tokens in ${advice.usage.requests} model calls`,
    `  trip-advisor: ${advice.orchestratorUsage.totalTokens} tokens in ${advice.orchestratorUsage.requests} calls`,
    `  sub-agents:   ${sub.totalTokens} tokens in ${sub.requests} calls`
  ].join("\n")
}
