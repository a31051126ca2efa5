/**
 * Volley: an `Agent.make` agent with a two-tool `Toolkit` (Effect Schema parameters), run by `agent.run`
 * (JSON) or `agent.stream` (SSE, every event consumed), over `ResponsesClient.layerUndici` pointed at the
 * bench server. The layers are built once into a `ManagedRuntime`; each run is one `runPromise`.
 * `modelSettings.store` is false so the whole history goes back each turn, and `AgentKnobs.MaxTurns` is the
 * scripted turn count (the scaling mode goes past the default of 10).
 * Gotcha: the client's retries and timeouts stay at their defaults, as for every other contender; spans stay on
 * (Effect's in-process tracer) unless `VOLLEY_BENCH_TRACING=off`, which sets `References.TracerEnabled` to false;
 * `VOLLEY_BENCH_STACK_TRACES=off` sets `Error.stackTraceLimit = 0` and `VOLLEY_BENCH_TOOL_CONCURRENCY=<n>` sets
 * `AgentKnobs.ToolConcurrency` (experiments: what stack capture and concurrent tool fibers cost).
 */
import { AgentKnobs } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as References from "effect/References"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { runDriver } from "../harness.ts"
import { prompt } from "../scenario.ts"
import { agent, Tools } from "../volleyAgent.ts"

await runDriver("volley", ({ baseUrl, apiKey, stream, tools }) => {
  const layer = Layer.mergeAll(
    ResponsesClient.layerUndici({ baseUrl, apiKey: Redacted.make(apiKey) }),
    Tools.toLayer({
      get_weather: (args) => Effect.sync(() => tools.get_weather(args)),
      get_time: (args) => Effect.sync(() => tools.get_time(args))
    })
  )
  const tracing = process.env.VOLLEY_BENCH_TRACING !== "off"
  if (process.env.VOLLEY_BENCH_STACK_TRACES === "off") Error.stackTraceLimit = 0
  const toolConcurrency = Number(process.env.VOLLEY_BENCH_TOOL_CONCURRENCY ?? 8)
  const runtime = ManagedRuntime.make(
    tracing ? layer : Layer.merge(layer, Layer.succeed(References.TracerEnabled, false))
  )

  const runJson = (turns: number) =>
    agent.run(prompt(turns)).pipe(
      Effect.flatMap((result) =>
        result._tag === "Completed" ? Effect.succeed(result.output) : Effect.die(`run paused: ${result._tag}`)
      ),
      Effect.provideService(AgentKnobs.MaxTurns, turns),
      Effect.provideService(AgentKnobs.ToolConcurrency, toolConcurrency)
    )

  const runStream = (turns: number) =>
    agent.stream(prompt(turns)).pipe(
      Stream.runFold(
        () => ({ text: "", stop: "none" }),
        (state, event) => {
          // Only the last turn's text is the answer; a restarted turn drops its partial text.
          if (event._tag === "TextDelta") state.text += event.delta
          else if (event._tag === "TurnStart" || event._tag === "TurnRestarted") state.text = ""
          else if (event._tag === "RunEnd") state.stop = event.stopReason._tag
          return state
        }
      ),
      Effect.flatMap((state) =>
        state.stop === "Completed" ? Effect.succeed(state.text) : Effect.die(`run ended with ${state.stop}`)
      ),
      Effect.provideService(AgentKnobs.MaxTurns, turns),
      Effect.provideService(AgentKnobs.ToolConcurrency, toolConcurrency)
    )

  return (turns) => runtime.runPromise(stream ? runStream(turns) : runJson(turns))
})
