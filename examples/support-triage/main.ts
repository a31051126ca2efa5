/**
 * `node examples/support-triage/main.ts ["<customer message>"]`: the support desk answers one message.
 * The answer goes to stdout; which agent answered goes to stderr. A prompt injection stops with the
 * guardrail's name on stderr and exit code 2. Without `HAOAI_API_KEY` it runs on volley-local.
 */
import { TraceSink } from "@volley/traces"
import { Cause, Effect, Exit, Layer } from "effect"
import { Backend, defaultModel } from "../shared/backend.ts"
import { DeskHandlers, handle, makeDesk } from "./agents.ts"

const main = Effect.gen(function* () {
  const message =
    TraceSink.argsWithoutTrace(process.argv.slice(2)).join(" ").trim() ||
    "I have a billing question: refund order 42, 30 euros"
  const exit = yield* handle(makeDesk(yield* defaultModel), message).pipe(
    Effect.provide(Layer.mergeAll(DeskHandlers, Backend)),
    Effect.exit
  )
  if (Exit.isFailure(exit)) {
    const error = Cause.squash(exit.cause) as { readonly _tag?: string; readonly guardrail?: string }
    if (error._tag === "GuardrailTripped") {
      process.stderr.write(`stopped by the ${error.guardrail} guardrail\n`)
      return 2
    }
    process.stderr.write(`error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
    return 1
  }
  process.stdout.write(`${exit.value.answer}\n`)
  process.stderr.write(`answered by ${exit.value.answeredBy} in ${exit.value.turns} model calls\n`)
  return 0
})

if (import.meta.main)
  Effect.runPromise(main.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then(
    (code) => process.exit(code),
    () => process.exit(70)
  )
