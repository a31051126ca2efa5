/**
 * Tracing: one agent run exported as OpenTelemetry spans through `@effect/opentelemetry`, printed by
 * the console exporter. The run is `invoke_agent quickstart` around the client's `chat {model}` spans
 * (GenAI attributes: `gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.response.id`,
 * `gen_ai.usage.input_tokens` / `output_tokens`, `server.address`) and the tools' `execute_tool` spans.
 * Run: `node examples/tracing/main.ts` (volley-local unless `HAOAI_API_KEY` is set).
 * Gotcha: prompts, arguments and outputs are not recorded unless `captureContent` is turned on.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ConsoleSpanExporter, type SpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { ResponsesClient } from "@volley/core"
import { LocalModel, ResponsesServer } from "@volley/testing"
import { Effect, Layer } from "effect"
import { makeAgent, WeatherHandlers } from "../quickstart/weather.ts"

/** The tracing layer: every span goes to `exporter` as soon as it ends. */
export const Tracing = (exporter: SpanExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "volley-tracing-example" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))

/** The client against volley-local on a loopback port (or the real API when a key is set). */
export const Client = Layer.unwrap(
  Effect.sync(() =>
    process.env.HAOAI_API_KEY
      ? ResponsesClient.layerConfig()
      : Layer.unwrap(
          Effect.gen(function* () {
            const server = yield* ResponsesServer.ResponsesServer
            return ResponsesClient.layerUndici({ baseUrl: server.baseUrl })
          })
        ).pipe(Layer.provide(LocalModel.layer()))
  )
)

/** One traced run of the quickstart agent. */
export const program = (prompt: string) =>
  makeAgent(process.env.HAOAI_API_KEY ? "openai/gpt-5.4-mini" : LocalModel.modelName)
    .run(prompt)
    .pipe(Effect.map((result) => (result._tag === "Completed" ? result.output : "(paused)")))

if (import.meta.main) {
  program("What's the weather in Paris?")
    .pipe(
      Effect.provide(Layer.mergeAll(WeatherHandlers, Client)),
      Effect.provide(Tracing(new ConsoleSpanExporter())),
      Effect.runPromise
    )
    .then((answer) => process.stdout.write(`${answer}\n`))
}
