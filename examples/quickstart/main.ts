/**
 * `npm run demo`: runs the quickstart weather agent on one prompt. With `HAOAI_API_KEY` set it talks
 * to `HAOAI_BASE_URL` (default `https://api.hao.ai/v1`); without it, to the embedded `volley-local`
 * model served on 127.0.0.1 by `@volley/testing`. The answer goes to stdout byte for byte; progress
 * (backend, tool calls, retries) goes to stderr; a failed run exits non-zero with one short line.
 * Gotcha: when stdout is not a terminal each turn's text is written once the turn ends, so a turn
 * restarted after a dropped stream never leaves duplicated bytes in a pipe or file.
 */
import { type AgentEvent, AgentKnobs } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { LocalModel, ResponsesServer } from "@volley/testing"
import { Cause, Config, Effect, Exit, Layer, Logger, Option, References, Stream } from "effect"
import { clip, describeError, makeStyle, parseArgs, usage } from "./cli.ts"
import { makeAgent, WeatherHandlers } from "./weather.ts"

const stdoutTty = process.stdout.isTTY === true
const style = makeStyle(process.env, stdoutTty, process.stderr.isTTY === true)
const progress = (line: string) => process.stderr.write(`${style.dim(line)}\n`)
const out = (text: string) => process.stdout.write(text)

// Client retries are logged (debug) by @volley/core; show them as progress lines, and nothing else:
// this logger replaces the default one, which would write to stdout.
const retryLogger = Logger.make(({ message, fiber }) => {
  const text = Array.isArray(message) ? message.join(" ") : String(message)
  if (!text.includes("retrying")) return
  const notes = fiber.getRef(References.CurrentLogAnnotations)
  const wait = typeof notes.delayMs === "number" ? `, waiting ${notes.delayMs} ms` : ""
  progress(
    `↻ retrying after ${String(notes.error ?? "an error")} (attempt ${String(notes.attempt ?? "?")} failed${wait})`
  )
})
const Logging = Layer.mergeAll(Logger.layer([retryLogger]), Layer.succeed(References.MinimumLogLevel, "Debug"))

// The backend: the real API when a key is set, otherwise volley-local on a loopback port.
const Backend = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* Config.option(Config.Redacted("HAOAI_API_KEY"))
    if (Option.isSome(key)) {
      const baseUrl = yield* Config.String("HAOAI_BASE_URL").pipe(Config.withDefault(ResponsesClient.defaultBaseUrl))
      progress(`volley: using ${baseUrl}`)
      return ResponsesClient.layerConfig()
    }
    progress(LocalModel.notice)
    return Layer.unwrap(
      Effect.gen(function* () {
        const server = yield* ResponsesServer.ResponsesServer
        return ResponsesClient.layerUndici({ baseUrl: server.baseUrl })
      })
    ).pipe(Layer.provide(LocalModel.layer()))
  })
)

const defaultModel = Effect.map(Config.option(Config.Redacted("HAOAI_API_KEY")), (key) =>
  Option.isSome(key) ? "openai/gpt-5.4-mini" : LocalModel.modelName
)

// Streaming: text is written live on a terminal, per finished turn otherwise.
const onEvent = (state: { pending: string; wrote: boolean }) => (event: AgentEvent.AgentEvent) =>
  Effect.sync(() => {
    switch (event._tag) {
      case "TextDelta":
        if (stdoutTty) out(event.delta)
        else state.pending += event.delta
        state.wrote = true
        return
      case "ToolCallEnd":
        progress(`→ ${event.name}(${clip(event.arguments)})`)
        return
      case "ToolResult":
        progress(`← ${event.name}: ${clip(event.output)}`)
        return
      case "TurnRestarted":
        progress(`↻ the stream broke (${event.error}); running turn ${event.turn} again`)
        if (stdoutTty && state.pending === "" && state.wrote) out("\n")
        state.pending = ""
        return
      case "TurnEnd":
        if (state.pending !== "") out(state.pending)
        state.pending = ""
        return
      default:
        return
    }
  })

const main = Effect.gen(function* () {
  const args = parseArgs(process.argv.slice(2))
  if (typeof args === "string") {
    process.stderr.write(`error: ${args}\n${usage}\n`)
    return 2
  }
  const model = args.model ?? (yield* defaultModel)
  const agent = makeAgent(model)
  const knobs =
    args.maxTurns === undefined
      ? Effect.provide(Layer.empty)
      : Effect.provideService(AgentKnobs.MaxTurns, args.maxTurns)
  const run = args.stream
    ? Stream.runForEach(agent.stream(args.prompt), onEvent({ pending: "", wrote: false }))
    : Effect.map(agent.run(args.prompt), (result) => {
        for (const item of result.history) {
          if (item.type === "function_call") progress(`→ ${item.name}(${clip(item.arguments)})`)
        }
        if (result._tag === "Completed") out(result.output)
      })
  const exit = yield* run.pipe(knobs, Effect.provide(Layer.mergeAll(WeatherHandlers, Backend)), Effect.exit)
  if (Exit.isSuccess(exit)) {
    if (stdoutTty) out("\n")
    return 0
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    const line =
      error._tag === "InvalidConfiguration" || error._tag === "ConfigError" ? error.message : describeError(error)
    process.stderr.write(`${style.error(`error: ${line}`)}\n`)
    return 1
  }
  if (Cause.hasInterrupts(exit.cause)) {
    process.stderr.write("interrupted\n")
    return 130
  }
  process.stderr.write(
    `${style.error("error: unexpected failure (a bug in Volley); run with NODE_DEBUG for details")}\n`
  )
  return 70
})

Effect.runPromise(main.pipe(Effect.provide(Logging))).then(
  (code) => process.exit(code),
  () => process.exit(70)
)
