/**
 * `node examples/structured-output/main.ts ["<request>"]`: asks the trip planner for a plan and prints
 * the decoded `TripPlan` on stdout (as JSON, then as text). Without `HAOAI_API_KEY` it runs on
 * volley-local, which fills the schema with values taken from the prompt where it can (the city, the
 * number of days) and placeholders elsewhere. A plan that does not decode twice exits 1 with the issue.
 */
import { TraceSink } from "@volley/traces"
import { Cause, Effect, Exit, Option } from "effect"
import { Backend, defaultModel } from "../shared/backend.ts"
import { plan, render } from "./planner.ts"

const main = Effect.gen(function* () {
  const prompt =
    TraceSink.argsWithoutTrace(process.argv.slice(2)).join(" ").trim() || "Plan 3 days in Lisbon on a medium budget"
  const model = yield* defaultModel
  const exit = yield* plan(prompt, model).pipe(Effect.provide(Backend), Effect.exit)
  if (Exit.isSuccess(exit)) {
    process.stdout.write(`${JSON.stringify(exit.value.plan, null, 2)}\n\n${render(exit.value.plan)}\n`)
    process.stderr.write(`(${exit.value.turns} model call${exit.value.turns === 1 ? "" : "s"})\n`)
    return 0
  }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error) && error.value._tag === "StructuredOutputInvalid") {
    process.stderr.write(`error: the model's plan did not fit the schema twice: ${error.value.issue}\n`)
  } else if (Option.isSome(error)) {
    process.stderr.write(`error: ${error.value._tag}: ${error.value.message}\n`)
  } else process.stderr.write("error: unexpected failure\n")
  return 1
})

if (import.meta.main)
  Effect.runPromise(main.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then(
    (code) => process.exit(code),
    () => process.exit(70)
  )
