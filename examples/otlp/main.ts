/**
 * OTLP: one run of the quickstart weather agent exported to an OpenTelemetry collector through
 * `@volley/observability`: the `invoke_agent` / `chat` / `execute_tool` spans to `/v1/traces` and
 * the GenAI metrics (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`, tool calls,
 * runs by stop reason) to `/v1/metrics`, as OTLP/HTTP JSON. Run:
 * `node examples/otlp/main.ts http://127.0.0.1:4318` (or set `OTEL_EXPORTER_OTLP_ENDPOINT`);
 * volley-local unless `HAOAI_API_KEY` is set. Gotcha: the layer flushes when it is released, so it
 * is provided around the whole run, outside the backend.
 */
import { Observability } from "@volley/observability"
import { Effect, Layer } from "effect"
import { makeAgent, WeatherHandlers } from "../quickstart/weather.ts"
import { Backend, defaultModel } from "../shared/backend.ts"

/** Export to `url` when given, else wherever `OTEL_EXPORTER_OTLP_*` says (nowhere when unset). */
export const Telemetry = (url: string | undefined) =>
  url === undefined
    ? Observability.layerOtlpConfig()
    : Observability.layerOtlp({ url, serviceName: "volley-otlp-example" })

/** One run of the quickstart agent; its answer. */
export const program = (prompt: string) =>
  Effect.flatMap(defaultModel, (model) => makeAgent(model).run(prompt)).pipe(
    Effect.map((result) => (result._tag === "Completed" ? result.output : "(paused)"))
  )

if (import.meta.main) {
  program("What's the weather in Paris?").pipe(
    Effect.provide(Layer.mergeAll(WeatherHandlers, Backend)),
    Effect.provide(Telemetry(process.argv[2])),
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
