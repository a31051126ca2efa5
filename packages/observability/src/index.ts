/**
 * `@volley/observability`: OTLP export of Volley's traces and OpenTelemetry GenAI metrics, built on
 * `effect/observability`. Import the modules as namespaces: `Observability` (the OTLP layers) and
 * `GenAiMetrics` (the metrics, derived from Volley's spans by a tracer wrapper).
 */
/** OTLP/HTTP export layers: `layerOtlp`, `layerOtlpConfig`. */
export * as Observability from "./Observability.ts"
/** GenAI metrics recorded when Volley's spans end. */
export * as GenAiMetrics from "./GenAiMetrics.ts"
