/**
 * The demo's `--durable` mode: the quickstart agent's run as one durable workflow execution on an
 * embedded Postgres (`@volley/durable`, data under `.volley/postgres` or `--data-dir`). Rerunning
 * the same command with the same `--run-id` resumes the run; each step is reported as stored or
 * replayed from storage. Streaming goes through an in-process `RunEvents` channel. Gotcha:
 * `main.ts` imports this module only with `--durable` (the engine takes seconds to load).
 */
import { type Agent, type AgentEvent, AgentKnobs } from "@volley/agent"
import { DurableAgent, DurableEngine, DurablePostgres, RunEvents } from "@volley/durable"
import { Effect, Layer, Stream } from "effect"

/** What the durable run needs from the command line. */
export interface DurableArgs {
  readonly runId: string
  readonly dataDir?: string
  readonly prompt: string
  readonly stream: boolean
  /** Read where the workflow runs (the engine's fiber), so it is given to the layer. */
  readonly maxTurns: number | undefined
}

/** Where the run's output goes. */
export interface DurableOutput {
  /** Each live event of a streaming run. */
  readonly onEvent: (event: AgentEvent.AgentEvent) => Effect.Effect<void>
  /** One progress line (stderr). */
  readonly progress: (line: string) => void
  /** The stored answer at the end (the caller skips it when it was streamed live). */
  readonly answer: (text: string) => void
}

/** Runs (or resumes, or joins) the durable run `args.runId` of `agent`. */
export const durableRun = <A, R>(agent: Agent.Agent<A, R>, args: DurableArgs, output: DurableOutput) =>
  Effect.gen(function* () {
    output.progress(`volley: durable run ${args.runId} (rerun the same command to resume it)`)
    const options = { runId: args.runId }
    if (args.stream) yield* Stream.runForEach(DurableAgent.stream(agent, args.prompt, options), output.onEvent)
    const result = yield* DurableAgent.run(agent, args.prompt, options)
    output.answer(result.output)
  }).pipe(
    Effect.provide(
      DurableAgent.layer(agent, {
        onStep: (step) =>
          Effect.sync(() =>
            output.progress(step.replayed ? `↺ ${step.name} replayed from storage` : `✓ ${step.name} stored`)
          )
      }).pipe(
        Layer.provideMerge(Layer.mergeAll(DurableEngine.layerPostgres(), RunEvents.layerMemory)),
        Layer.provide(DurablePostgres.layerEmbedded(args.dataDir === undefined ? {} : { dataDir: args.dataDir })),
        Layer.provide(args.maxTurns === undefined ? Layer.empty : Layer.succeed(AgentKnobs.MaxTurns, args.maxTurns))
      )
    )
  )
