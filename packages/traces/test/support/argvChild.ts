/**
 * A program traced by `TraceSink.layerFromArgv(argv)`, for the tests of where `--trace` writes: one
 * `invoke_agent <name>` span (the name is the first argument that is not `--trace`), then it exits.
 */
import * as Effect from "effect/Effect"
import * as TraceSink from "../../src/TraceSink.ts"

const argv = process.argv.slice(2)
const name = TraceSink.argsWithoutTrace(argv)[0] ?? "probe"

await Effect.runPromise(
  Effect.void.pipe(
    Effect.withSpan(`invoke_agent ${name}`, { attributes: { "gen_ai.agent.name": name } }),
    Effect.provide(TraceSink.layerFromArgv(argv))
  )
)
