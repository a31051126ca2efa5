/**
 * An agent using an MCP server's tools: `node examples/mcp/main.ts ["<prompt>"]`. It starts
 * `weather-server.ts` (a Volley toolkit served over MCP stdio) with `McpTools.stdio`, offers its tools
 * to the agent under the `weather_` prefix, and prints the answer; the server process ends with the
 * run. Without `HAOAI_API_KEY` the model is volley-local (offline).
 */
import { fileURLToPath } from "node:url"
import { Agent } from "@volley/agent"
import { McpTools } from "@volley/mcp"
import { TraceSink } from "@volley/traces"
import { Cause, Effect, Exit } from "effect"
import { Backend, defaultModel } from "../shared/backend.ts"

/** The weather tools of the MCP server, started as a child process. */
export const Weather = McpTools.stdio({
  name: "weather",
  command: process.execPath,
  args: [fileURLToPath(new URL("./weather-server.ts", import.meta.url))],
  prefix: "weather_"
})

/** Ask the agent; its toolkit is the MCP server's tools. */
export const ask = (prompt: string, model: string) =>
  Agent.make({
    name: "forecaster",
    model,
    instructions: "Answer weather questions with the weather tools.",
    toolkit: Weather
  }).run(prompt)

if (import.meta.main) {
  const prompt = TraceSink.argsWithoutTrace(process.argv.slice(2))[0] ?? "What is the forecast for Oslo?"
  const program = Effect.gen(function* () {
    const result = yield* ask(prompt, yield* defaultModel)
    return result._tag === "Completed" ? result.output : "(paused)"
  }).pipe(Effect.provide(Weather.layer), Effect.provide(Backend))
  Effect.runPromiseExit(program.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then((exit) => {
    if (Exit.isSuccess(exit)) {
      process.stdout.write(`${exit.value}\n`)
      return
    }
    const error = Cause.squash(exit.cause)
    process.stderr.write(`error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`)
    process.exitCode = 1
  })
}
