/**
 * `node examples/workflow/main.ts [--draft-model ID] [--fallback-model ID] ["<topic>"]`: runs the
 * research -> draft -> review workflow of `workflow.ts` on one topic and prints the draft and the
 * review on stdout; progress (attempts, fallbacks) goes to stderr. Without `HAOAI_API_KEY` every
 * step runs on volley-local (so the draft is an echo: it is not a real LLM). Exits 1 with one line
 * when the reviewer rejects the draft (`DraftRejected`) or a step fails for good.
 */
import { TraceSink } from "@volley/traces"
import { Effect, Exit, Cause, Option, Layer } from "effect"
import { Backend, defaultModel } from "../shared/backend.ts"
import { ResearchHandlers, workflow } from "./workflow.ts"

const progress = (line: string) => process.stderr.write(`${line}\n`)

/** Reads `--name VALUE` from argv, removing it. */
const takeFlag = (argv: Array<string>, name: string): string | undefined => {
  const at = argv.indexOf(name)
  if (at === -1) return undefined
  const [, value] = argv.splice(at, 2)
  return value
}

const main = Effect.gen(function* () {
  const argv = TraceSink.argsWithoutTrace(process.argv.slice(2))
  const model = yield* defaultModel
  const draft = takeFlag(argv, "--draft-model") ?? model
  const fallback = takeFlag(argv, "--fallback-model") ?? model
  const topic = argv.join(" ").trim() || "the history of the bicycle"
  const exit = yield* workflow(topic, { research: model, draft, fallback, review: model }, { progress }).pipe(
    Effect.provide(Layer.mergeAll(ResearchHandlers, Backend)),
    Effect.exit
  )
  if (Exit.isSuccess(exit)) {
    const report = exit.value
    process.stdout.write(`${report.draft}\n\nReview: approved (${report.review.feedback})\n`)
    progress(`usage: ${report.usage.totalTokens} tokens over ${report.usage.requests} model calls`)
    return 0
  }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) {
    progress("error: unexpected failure")
    return 70
  }
  const failure = error.value
  progress(
    failure._tag === "DraftRejected"
      ? `error: the reviewer rejected the draft: ${failure.feedback}`
      : `error: ${failure._tag}: ${failure.message}`
  )
  return 1
})

if (import.meta.main)
  Effect.runPromise(main.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then(
    (code) => process.exit(code),
    () => process.exit(70)
  )
