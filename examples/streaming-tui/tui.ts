/**
 * Runs an agent's event stream through the renderer: `streamToTerminal(agent, prompt, out, status)`
 * consumes `agent.stream(prompt)`, renders each event, and animates the spinner every 80 ms while
 * the stream runs (live mode only). Needs whatever the agent needs (a `ResponsesClient`, handlers).
 * Gotcha: the spinner fiber is interrupted when the stream ends or fails, so it never outlives the run.
 */
import type { Agent } from "@volley/agent"
import { Effect, Fiber, Schedule, Stream } from "effect"
import { isLive, makeRenderer, type Terminal } from "./render.ts"

/** Streams one run of `agent` to the terminal; fails with the run's `AgentError`. */
export const streamToTerminal = <A, R>(
  agent: Agent.Agent<A, R>,
  prompt: string,
  out: Terminal,
  status: Terminal,
  env: Readonly<Record<string, string | undefined>> = {}
) =>
  Effect.gen(function* () {
    const renderer = makeRenderer(out, status, isLive(out, status, env))
    const spinner = renderer.live
      ? yield* Effect.forkChild(Effect.repeat(Effect.sync(renderer.tick), Schedule.spaced("80 millis")))
      : undefined
    yield* Stream.runForEach(agent.stream(prompt), (event) => Effect.sync(() => renderer.render(event))).pipe(
      Effect.ensuring(spinner === undefined ? Effect.void : Fiber.interrupt(spinner))
    )
  })
