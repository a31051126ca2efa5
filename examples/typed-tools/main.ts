/**
 * Run a tool call without a model: build the handled toolkit with its layers, print the definition the
 * model would see, then handle three `function_call`s (found, not found, malformed arguments) and print
 * the `function_call_output`s. Run with `node examples/typed-tools/main.ts`.
 */
import { TraceSink } from "@volley/traces"
import { Effect, Layer } from "effect"
import { CustomerTools, CustomerToolsHandlers, DatabaseLive } from "./tools.ts"

/** The program: one definition, three calls, their outputs. */
export const program = Effect.gen(function* () {
  const tools = yield* CustomerTools
  yield* Effect.log(JSON.stringify(tools.definitions(), null, 2))
  const results = yield* tools.handleAll([
    { type: "function_call", call_id: "call_1", name: "find_customer", arguments: '{"id":"c_1","includePlan":null}' },
    { type: "function_call", call_id: "call_2", name: "find_customer", arguments: '{"id":"c_404","includePlan":true}' },
    { type: "function_call", call_id: "call_3", name: "find_customer", arguments: '{"id":' }
  ])
  for (const result of results) yield* Effect.log(`${result.callId} -> ${String(result.output.output)}`)
  return results
})

if (import.meta.main) {
  Effect.runPromise(
    program.pipe(
      Effect.provide(CustomerToolsHandlers.pipe(Layer.provide(DatabaseLive))),
      Effect.provide(TraceSink.layerFromArgv(process.argv))
    )
  )
}
