/**
 * `node examples/streaming-tui/main.ts ["<prompt>"]`: the quickstart's weather agent streamed to the
 * terminal: live text, a spinner while tools run, a note when a dropped stream restarts a turn, and
 * the usage at the end. Piped (or with `NO_COLOR`) it prints plain lines instead. Without
 * `HAOAI_API_KEY` it runs on volley-local.
 */
import { TraceSink } from "@volley/traces"
import { Cause, Effect, Exit, Layer } from "effect"
import { makeAgent, WeatherHandlers } from "../quickstart/weather.ts"
import { Backend, defaultModel } from "../shared/backend.ts"
import { safeText } from "../shared/terminal.ts"
import type { Terminal } from "./render.ts"
import { streamToTerminal } from "./tui.ts"

const terminal = (stream: NodeJS.WriteStream): Terminal => ({
  write: (text) => stream.write(text),
  isTTY: stream.isTTY === true,
  columns: stream.columns ?? 80
})

const main = Effect.gen(function* () {
  const prompt =
    TraceSink.argsWithoutTrace(process.argv.slice(2)).join(" ").trim() || "What's the weather in Paris and Tokyo?"
  const agent = makeAgent(yield* defaultModel)
  const exit = yield* streamToTerminal(
    agent,
    prompt,
    terminal(process.stdout),
    terminal(process.stderr),
    process.env
  ).pipe(Effect.provide(Layer.mergeAll(WeatherHandlers, Backend)), Effect.exit)
  if (Exit.isSuccess(exit)) return 0
  process.stderr.write(`\nerror: ${safeText(Cause.pretty(exit.cause).split("\n")[0] ?? "")}\n`)
  return 1
})

if (import.meta.main)
  Effect.runPromise(main.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then(
    (code) => process.exit(code),
    () => process.exit(70)
  )
