/**
 * `node examples/durable-workflow/pipeline.ts --run-id <id> "<topic>"`: a durable multi-agent
 * workflow on an embedded Postgres: research → draft → review (a rejected draft is rewritten, up to
 * 3 rounds), a durable cool-off sleep (`DurableClock`), then a human approval. Each agent call is
 * an `Activity` (retried twice on failure); the agents carry a fallback model (`models`). Kill it
 * at any point and run the same command again: stored steps are replayed (stderr says so). While
 * it waits for approval no process is needed: `--approve` (or `--reject`) from any process decides,
 * and the next run of the command finishes. Gotcha: the topic is read once, from the first run.
 */
import { Agent, AgentKnobs } from "@volley/agent"
import { DurableEngine, DurablePostgres } from "@volley/durable"
import { Cause, Effect, Layer, Schema } from "effect"
import * as Activity from "effect/workflow/Activity"
import * as DurableClock from "effect/workflow/DurableClock"
import * as DurableDeferred from "effect/workflow/DurableDeferred"
import * as Workflow from "effect/workflow/Workflow"
import { Backend, defaultModel } from "../shared/backend.ts"
import { safeText } from "../shared/terminal.ts"

const progress = (line: string) => process.stderr.write(`${safeText(line)}\n`)

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}
const positional = args.filter((arg, index) => !arg.startsWith("--") && !args[index - 1]?.startsWith("--"))
const runId = option("--run-id") ?? "pipeline-demo"
const dataDir = option("--data-dir")
const sleepMs = Number(option("--sleep-ms") ?? "2000")
const fallback = option("--fallback-model")
const topic = positional.join(" ") || "Why durable agent runs matter"

/** The pipeline's result. */
const Published = Schema.Struct({ draft: Schema.String, review: Schema.String, rounds: Schema.Number })

/** The pipeline: one execution per run id. */
const Pipeline = Workflow.make("volley/example/pipeline", {
  payload: { runId: Schema.String, topic: Schema.String },
  idempotencyKey: (payload) => payload.runId,
  success: Published,
  error: Schema.String
})

/** The human decision the pipeline waits for. */
const Approval = DurableDeferred.make("approve/publish", { success: Schema.Literals(["approve", "reject"]) })

const agents = (model: string) => {
  const models = fallback === undefined ? {} : { models: [fallback] }
  return {
    researcher: Agent.make({ name: "researcher", model, ...models, instructions: "List three facts. Be brief." }),
    writer: Agent.make({ name: "writer", model, ...models, instructions: "Write one short paragraph." }),
    reviewer: Agent.make({
      name: "reviewer",
      model,
      ...models,
      instructions: "Answer APPROVED, or REVISE: <what to change>."
    })
  }
}

// One agent call as a stored step: its answer is stored, a failure is retried twice (a new attempt).
const step = <R>(name: string, run: Effect.Effect<string, { readonly _tag: string }, R>) => {
  let ran = false
  return Activity.make({
    name,
    success: Schema.String,
    error: Schema.String,
    execute: Effect.suspend(() => {
      ran = true
      return Effect.mapError(run, (error) => error._tag)
    })
  }).pipe(
    Activity.retry({ times: 2 }),
    Effect.tap(() => Effect.sync(() => progress(ran ? `✓ ${name} stored` : `↺ ${name} replayed from storage`)))
  )
}

const Body = (model: string) =>
  Pipeline.toLayer((payload) =>
    Effect.gen(function* () {
      const { researcher, writer, reviewer } = agents(model)
      const text = (agent: typeof researcher, input: string) =>
        Effect.map(agent.run(input), (result) => (result._tag === "Completed" ? result.output : ""))
      const notes = yield* step("research", text(researcher, `Research: ${payload.topic}`))
      let draft = yield* step("draft/1", text(writer, `Draft about ${payload.topic} from: ${notes}`))
      let review = ""
      let rounds = 1
      for (; rounds <= 3; rounds++) {
        review = yield* step(`review/${rounds}`, text(reviewer, `Review: ${draft}`))
        if (!review.startsWith("REVISE") || rounds === 3) break
        draft = yield* step(`draft/${rounds + 1}`, text(writer, `Rewrite (${review}): ${draft}`))
      }
      progress(`… cooling off for ${sleepMs} ms (durable: survives a restart)`)
      yield* DurableClock.sleep({ name: "cool-off", duration: sleepMs, inMemoryThreshold: 0 })
      progress(`⏸ waiting for approval: run this command with --approve or --reject`)
      const decision = yield* DurableDeferred.await(Approval)
      if (decision === "reject") return yield* Effect.fail("rejected")
      return { draft, review, rounds }
    })
  )

const program = Effect.gen(function* () {
  const model = yield* defaultModel
  const Engine = DurableEngine.layerPostgres().pipe(
    Layer.provide(DurablePostgres.layerEmbedded(dataDir === undefined ? {} : { dataDir }))
  )
  const decision = args.includes("--approve") ? "approve" : args.includes("--reject") ? "reject" : undefined
  if (decision !== undefined) {
    // decide from any process: the paused execution continues on the next run of the command
    yield* Effect.gen(function* () {
      const executionId = yield* Pipeline.executionId({ runId, topic: "" })
      const token = DurableDeferred.tokenFromExecutionId(Approval, { workflow: Pipeline, executionId })
      yield* DurableDeferred.succeed(Approval, { token, value: decision })
      progress(`recorded: ${decision}`)
    }).pipe(Effect.provide(Engine))
    return
  }
  progress(`run ${runId}`)
  const result = yield* Pipeline.execute({ runId, topic }).pipe(
    Effect.provide(
      Body(model).pipe(
        Layer.provideMerge(Engine),
        Layer.provide(Backend),
        // a failing model falls back at once (the fallback model is tried before any retry)
        Layer.provide(Layer.succeed(AgentKnobs.ModelRetries, 0))
      )
    )
  )
  process.stdout.write(`${safeText(result.draft)}\n(review: ${safeText(result.review)}; rounds: ${result.rounds})\n`)
})

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Failure") {
    const error = Cause.squash(exit.cause)
    progress(`error: ${error instanceof Error ? error.message : String(error)}`.split("\n")[0] ?? "error")
    process.exit(1)
  }
  process.exit(0)
})
