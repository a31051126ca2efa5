/**
 * `node examples/durable-workflow/main.ts --run-id <id> "<prompt>"`: the quickstart weather agent,
 * run durably on an embedded Postgres (data under `.volley/postgres`, or `--data-dir`). Kill it
 * with `kill -9` mid-run and run the same command again: it resumes run `<id>`, and stderr marks
 * each step that came back from storage instead of running again. Run it once more after it
 * finished and it prints the stored answer without calling the model. The weather service is slow
 * on purpose (`--tool-delay-ms`, default 300), so there is time to kill it.
 */
import { DurableAgent, DurableEngine, DurablePostgres } from "@volley/durable"
import { TraceSink } from "@volley/traces"
import { Cause, Effect, Layer } from "effect"
import { makeAgent, WeatherTools, weatherFor } from "../quickstart/weather.ts"
import { Backend, defaultModel } from "../shared/backend.ts"
import { safeText } from "../shared/terminal.ts"

const progress = (line: string) => process.stderr.write(`${safeText(line)}\n`)

const args = TraceSink.argsWithoutTrace(process.argv.slice(2))
const option = (name: string): string | undefined => {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}
const positional = args.filter((arg, index) => !arg.startsWith("--") && !args[index - 1]?.startsWith("--"))
const runId = option("--run-id") ?? "durable-demo"
const dataDir = option("--data-dir")
const toolDelayMs = Number(option("--tool-delay-ms") ?? "300")
const prompt = positional.join(" ") || "What is the weather in Lisbon?"

// A slow weather service: each call takes `toolDelayMs`.
const SlowWeather = WeatherTools.toLayer({
  get_weather: ({ city }) => Effect.delay(Effect.succeed(weatherFor(city)), toolDelayMs)
})

const program = Effect.gen(function* () {
  const agent = makeAgent(yield* defaultModel)
  const Durable = DurableAgent.layer(agent, {
    onStep: (step) =>
      Effect.sync(() => progress(step.replayed ? `↺ ${step.name} replayed from storage` : `✓ ${step.name} stored`))
  }).pipe(
    Layer.provideMerge(Layer.mergeAll(SlowWeather, DurableEngine.layerPostgres())),
    Layer.provide(DurablePostgres.layerEmbedded(dataDir === undefined ? {} : { dataDir })),
    Layer.provideMerge(Backend)
  )
  // announced once the layers are up, so a missing key or a failed Postgres is the only line on stderr
  const result = yield* Effect.sync(() => progress(`run ${runId}`)).pipe(
    Effect.andThen(DurableAgent.run(agent, prompt, { runId })),
    Effect.provide(Durable)
  )
  process.stdout.write(`${safeText(result.output)}\n`)
})

Effect.runPromiseExit(program.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then((exit) => {
  if (exit._tag === "Failure") {
    const error = Cause.squash(exit.cause)
    progress(`error: ${error instanceof Error ? error.message : String(error)}`.split("\n")[0] ?? "error")
    process.exit(1)
  }
  process.exit(0)
})
