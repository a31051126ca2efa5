/**
 * `npm run demo`: runs the quickstart weather agent on one prompt. With `HAOAI_API_KEY` set it talks
 * to `HAOAI_BASE_URL` (default `https://api.hao.ai/v1`); without it, to the embedded `volley-local`
 * model served on 127.0.0.1 by `@volley/testing`. The answer goes to stdout, control characters
 * removed (as from every server string shown); progress (backend, tool calls, retries) goes to
 * stderr; a failed run exits non-zero with one short line; Ctrl-C prints what was streamed and exits
 * 130. Gotcha: when stdout is not a terminal each turn's text is written once the turn ends, so a
 * turn restarted after a dropped stream never leaves duplicated bytes in a pipe or file.
 * `--durable --run-id ID` runs it on an embedded Postgres (`@volley/durable`): kill it and rerun the
 * same command to resume; stderr marks each step stored or replayed from storage.
 */
import { type AgentEvent, AgentKnobs } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { Observability } from "@volley/observability"
import { LocalModel, ResponsesServer } from "@volley/testing"
import { TraceSink } from "@volley/traces"
import { Cause, Config, Effect, Exit, Fiber, Layer, Logger, Option, References, Stream } from "effect"
import { displayUrl, safeText } from "../shared/terminal.ts"
import { clip, describeError, makeStyle, parseArgs, usage } from "./cli.ts"
import { makeAgent, WeatherHandlers } from "./weather.ts"

const stdoutTty = process.stdout.isTTY === true
const style = makeStyle(process.env, stdoutTty, process.stderr.isTTY === true)
// Every string shown may come from the server: control characters are removed before styling.
const progress = (line: string) => process.stderr.write(`${style.dim(safeText(line))}\n`)
const out = (text: string) => process.stdout.write(safeText(text))
const fail = (line: string) => process.stderr.write(`${style.error(`error: ${safeText(line)}`)}\n`)

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
      progress(`volley: using ${displayUrl(baseUrl)}`)
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

/** What a streaming run has shown so far; `pending` is the current turn's text not yet written. */
interface Shown {
  pending: string
  wrote: boolean
}

// Streaming: text is written live on a terminal, per finished turn otherwise.
const onEvent = (state: Shown) => (event: AgentEvent.AgentEvent) =>
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

// Ctrl-C interrupts the run (its finalizers close the connection) and hands `main` the interrupted
// exit, so it can show what was streamed. The listener is once-only: a second Ctrl-C, while the run
// is being torn down, ends the process at once (Node's default).
const interruptOnSigint = <A, E, R>(run: Effect.Effect<A, E, R>): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(run)
    return yield* Effect.acquireUseRelease(
      Effect.sync(() => {
        const onSigint = () => {
          Effect.runFork(Fiber.interrupt(fiber))
        }
        process.once("SIGINT", onSigint)
        return onSigint
      }),
      () => Fiber.await(fiber),
      (onSigint) => Effect.sync(() => process.off("SIGINT", onSigint))
    )
  })

const main = Effect.gen(function* () {
  const args = parseArgs(TraceSink.argsWithoutTrace(process.argv.slice(2)))
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
  const shown: Shown = { pending: "", wrote: false }
  const run = args.stream
    ? Stream.runForEach(agent.stream(args.prompt), onEvent(shown))
    : Effect.map(agent.run(args.prompt), (result) => {
        for (const item of result.history) {
          if (item.type === "function_call") progress(`→ ${item.name}(${clip(item.arguments)})`)
        }
        if (result._tag === "Completed") out(result.output)
      })
  // `--durable`: the same run as one durable workflow execution; a rerun with the same id resumes it
  const durable = args.durable
  // loaded only with --durable: the durable engine takes seconds to import and adds a SIGINT hook
  const durableRun =
    durable === undefined
      ? undefined
      : Effect.flatMap(
          Effect.promise(() => import("./durable.ts")),
          (module) =>
            module.durableRun(
              agent,
              { ...durable, prompt: args.prompt, stream: args.stream, maxTurns: args.maxTurns },
              {
                onEvent: onEvent(shown),
                progress,
                answer: (text) => {
                  if (!shown.wrote) out(text)
                }
              }
            )
        )
  // `--otlp URL` exports spans and GenAI metrics there; otherwise `OTEL_EXPORTER_OTLP_ENDPOINT` if set.
  // Provided outside the backend, so its release flushes the last batch before the process exits.
  if (args.otlp !== undefined) progress(`volley: exporting traces and metrics to ${displayUrl(args.otlp)}`)
  const telemetry =
    args.otlp === undefined
      ? Observability.layerOtlpConfig()
      : Observability.layerOtlp({ url: args.otlp, serviceName: "volley-demo" })
  const exit = yield* (durableRun ?? run).pipe(
    knobs,
    Effect.provide(Layer.mergeAll(WeatherHandlers, Backend)),
    // `--trace` records the run for `npm run traces` (inside the telemetry, so both see the spans)
    Effect.provide(TraceSink.layerFromArgv(process.argv)),
    Effect.provide(telemetry),
    interruptOnSigint
  )
  if (Exit.isSuccess(exit)) {
    if (stdoutTty) out("\n")
    return 0
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    const line =
      error._tag === "InvalidConfiguration" || error._tag === "ConfigError"
        ? error.message
        : error._tag === "DurablePostgresError" || error._tag === "SqlError"
          ? `durable storage: ${error.message}`
          : describeError(error)
    fail(line)
    return 1
  }
  if (Cause.hasInterrupts(exit.cause)) {
    // What was streamed stays on stdout: the unfinished turn's text too, then one newline on a terminal.
    if (shown.pending !== "") out(shown.pending)
    if (stdoutTty && (shown.wrote || shown.pending !== "")) out("\n")
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
