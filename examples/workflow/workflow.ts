/**
 * A research -> draft -> review workflow built from three agents and plain Effect combinators: the
 * research step is wrapped in `Effect.retry` with a `Schedule` (only transient model errors are
 * retried), the draft step falls back to a second model when the first fails with a typed
 * `ModelError` (`Effect.catchTag`), and the review step decodes a structured verdict whose rejection
 * becomes the typed `DraftRejected` failure. Entry point: `workflow(topic, models, options)`; it needs
 * a `ResponsesClient` and `ResearchHandlers`.
 * Gotcha: the client already retries each HTTP call (RetryPolicy); the step retry runs on top, once
 * those are spent, so a real outage costs (client attempts) x (step attempts) requests.
 */
import { Agent, type AgentError, StopReason } from "@volley/agent"
import { Tool, Toolkit } from "@volley/tools"
import { Effect, Schedule, Schema } from "effect"

/** Looks up research notes; deterministic, so the example's output is stable. */
export const SearchNotes = Tool.make("search_notes", {
  description: "Find research notes about a topic",
  parameters: Schema.Struct({ topic: Schema.String.annotate({ description: "What to research" }) }),
  success: Schema.String
})

/** The researcher's toolkit. */
export const ResearchTools = Toolkit.make(SearchNotes)

const library: ReadonlyArray<readonly [RegExp, string]> = [
  [/bicycle|bike/i, "The first pedal bicycles appeared in the 1860s; the safety bicycle of 1885 set today's shape."],
  [/tea/i, "Tea reached Europe in the early 17th century through Dutch traders."],
  [/volley|agent/i, "An agent loop calls a model, runs the tools it asks for, and repeats until it answers."]
]

/** The notes `search_notes` finds for a topic (a stand-in for a search index). */
export const notesFor = (topic: string): string => {
  const found = library.filter(([pattern]) => pattern.test(topic)).map(([, note]) => note)
  return found.length === 0 ? `No notes on file about "${topic.slice(0, 80)}".` : found.join(" ")
}

/** The handler layer of `ResearchTools`. */
export const ResearchHandlers = ResearchTools.toLayer({
  search_notes: ({ topic }) => Effect.succeed(notesFor(topic))
})

/** The reviewer's verdict (structured output). */
export const Review = Schema.Struct({
  approved: Schema.Boolean,
  feedback: Schema.String.annotate({ description: "One sentence for the writer" })
})
/** The reviewer's verdict. */
export type Review = typeof Review.Type

/** The reviewer rejected the draft: the workflow's own typed failure. */
export class DraftRejected extends Schema.TaggedError<DraftRejected>()("DraftRejected", {
  feedback: Schema.String,
  draft: Schema.String
}) {}

/** The model ids of each step; `fallback` writes the draft when `draft` fails. */
export interface Models {
  readonly research: string
  readonly draft: string
  readonly fallback: string
  readonly review: string
}

/** What a successful workflow produced. */
export interface Report {
  readonly notes: string
  readonly draft: string
  /** The model that wrote the draft (`models.draft`, or `models.fallback` after a failure). */
  readonly draftModel: string
  readonly review: Review
  /** Attempts the research step took (1 when the first one worked). */
  readonly researchAttempts: number
  /** Usage of every agent run together. */
  readonly usage: StopReason.RunUsage
}

/** Options of `workflow`. */
export interface WorkflowOptions {
  /** The research step's retry schedule (default: exponential from 250 ms); at most `researchRetries` retries. */
  readonly researchSchedule?: Schedule.Schedule<unknown, AgentError.AgentError> | undefined
  /** Retries of the research step after the first attempt (default 2). */
  readonly researchRetries?: number | undefined
  /** Progress lines (the program writes them to stderr). */
  readonly progress?: ((line: string) => void) | undefined
}

/** True for failures worth trying again: a model call that failed with a retryable error. */
export const isTransient = (error: AgentError.AgentError): boolean =>
  error._tag === "ModelError" && error.error.retryable

/** The three agents (four: the draft has a fallback) for a set of model ids. */
export const makeAgents = (models: Models) => {
  const writer = (model: string) =>
    Agent.make({
      name: "writer",
      model,
      instructions: "Write one clear paragraph for a general audience, using only the notes you are given."
    })
  return {
    researcher: Agent.make({
      name: "researcher",
      model: models.research,
      instructions: "Use search_notes to research the topic, then list the facts you found.",
      toolkit: ResearchTools
    }),
    writer: writer(models.draft),
    fallbackWriter: writer(models.fallback),
    reviewer: Agent.make({
      name: "reviewer",
      model: models.review,
      instructions: "Review the draft: approve it if it is accurate and clear; otherwise say what to fix.",
      output: Review
    })
  }
}

// No tool here needs approval, so a paused run would be a bug in this program.
const completed = <A>(result: Agent.AgentResult<A>) =>
  result._tag === "Completed" ? Effect.succeed(result) : Effect.die(`unexpected pause in ${result.agent}`)

/** Research, draft (with a fallback model), review; fails with `DraftRejected` or an `AgentError`. */
export const workflow = (topic: string, models: Models, options: WorkflowOptions = {}) =>
  Effect.gen(function* () {
    const progress = options.progress ?? (() => {})
    const agents = makeAgents(models)
    let researchAttempts = 0

    const research = Effect.suspend(() => {
      researchAttempts++
      progress(`research: attempt ${researchAttempts} (${models.research})`)
      return agents.researcher.run(`Research this topic: ${topic}`)
    }).pipe(
      Effect.flatMap(completed),
      Effect.tapError((error) => Effect.sync(() => progress(`research failed: ${error._tag}: ${error.message}`))),
      Effect.retry({
        schedule: options.researchSchedule ?? Schedule.exponential("250 millis"),
        times: options.researchRetries ?? 2,
        while: isTransient
      })
    )
    const notes = yield* research

    const prompt = `Topic: ${topic}\n\nNotes:\n${notes.output}`
    const drafted = yield* agents.writer.run(prompt).pipe(
      Effect.flatMap(completed),
      Effect.map((result) => ({ result, model: models.draft })),
      Effect.catchTag("ModelError", (error) =>
        Effect.gen(function* () {
          progress(`draft: ${models.draft} failed (${error.error._tag}); falling back to ${models.fallback}`)
          const result = yield* completed(yield* agents.fallbackWriter.run(prompt))
          return { result, model: models.fallback }
        })
      )
    )
    progress(`draft: written by ${drafted.model}`)

    const reviewed = yield* agents.reviewer
      .run(`Review this draft about "${topic}":\n\n${drafted.result.output}`)
      .pipe(Effect.flatMap(completed))
    const usage = [notes.usage, drafted.result.usage, reviewed.usage].reduce(StopReason.addUsage)
    if (!reviewed.value.approved) {
      return yield* new DraftRejected({ feedback: reviewed.value.feedback, draft: drafted.result.output })
    }
    const report: Report = {
      notes: notes.output,
      draft: drafted.result.output,
      draftModel: drafted.model,
      review: reviewed.value,
      researchAttempts,
      usage
    }
    return report
  })
