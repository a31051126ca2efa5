/**
 * Tracing: one agent run exported as OpenTelemetry spans through `@effect/opentelemetry`, printed by
 * the console exporter. The run is `invoke_agent quickstart` around the client's `chat {model}` spans
 * (GenAI attributes: `gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.response.id`,
 * `gen_ai.usage.input_tokens` / `output_tokens`, `server.address`) and the tools' `execute_tool` spans.
 * Run: `node examples/tracing/main.ts` (volley-local unless `HAOAI_API_KEY` is set; a failure is one
 * line on stderr and exit code 1).
 * Gotcha: prompts, arguments and outputs are not recorded unless `captureContent` is turned on.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ConsoleSpanExporter, type SpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { TraceSink } from "@volley/traces"
import { Effect, Layer } from "effect"
import { makeAgent, WeatherHandlers } from "../quickstart/weather.ts"
import { Backend, defaultModel } from "../shared/backend.ts"

/** The tracing layer: every span goes to `exporter` as soon as it ends. */
export const Tracing = (exporter: SpanExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "volley-tracing-example" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))

/** One traced run of the quickstart agent. */
export const program = (prompt: string) =>
  Effect.flatMap(defaultModel, (model) => makeAgent(model).run(prompt)).pipe(
    Effect.map((result) => (result._tag === "Completed" ? result.output : "(paused)"))
  )

if (import.meta.main) {
  program("What's the weather in Paris?").pipe(
    Effect.provide(Layer.mergeAll(WeatherHandlers, Backend)),
    Effect.provide(TraceSink.layerFromArgv(process.argv)),
    Effect.provide(Tracing(new ConsoleSpanExporter())),
    Effect.match({
      onSuccess: (answer) => process.stdout.write(`${answer}\n`),
      onFailure: (error) => {
        process.stderr.write(`error: ${error._tag}: ${error.message}\n`)
        process.exitCode = 1
      }
    }),
    Effect.runPromise
  )
}
