/**
 * `node examples/sub-agents/main.ts ["<question>"]`: the trip advisor (orchestrator) answers, asking
 * the weather sub-agent along the way. The answer goes to stdout; the delegated questions and the
 * usage roll-up (total, orchestrator, sub-agents) go to stderr. Without `HAOAI_API_KEY` both agents
 * run on volley-local.
 */
import { TraceSink } from "@volley/traces"
import { Cause, Effect, Exit, Layer } from "effect"
import { WeatherHandlers } from "../quickstart/weather.ts"
import { Backend, defaultModel } from "../shared/backend.ts"
import { advise, usageReport } from "./agents.ts"

const main = Effect.gen(function* () {
  const prompt =
    TraceSink.argsWithoutTrace(process.argv.slice(2)).join(" ").trim() ||
    "What's the weather in Paris and Tokyo? What should I pack?"
  const exit = yield* advise(prompt, yield* defaultModel).pipe(
    Effect.provide(Layer.mergeAll(WeatherHandlers, Backend)),
    Effect.exit
  )
  if (Exit.isFailure(exit)) {
    process.stderr.write(`error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
    return 1
  }
  for (const question of exit.value.delegated) process.stderr.write(`→ asked the weather expert: ${question}\n`)
  process.stdout.write(`${exit.value.answer}\n`)
  process.stderr.write(`${usageReport(exit.value)}\n`)
  return 0
})

if (import.meta.main)
  Effect.runPromise(main.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then(
    (code) => process.exit(code),
    () => process.exit(70)
  )
