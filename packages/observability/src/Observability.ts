/**
 * OTLP export for Volley programs, built on `effect/observability` (no OpenTelemetry SDK):
 * `layerOtlp({ url, serviceName, headers })` sends the spans Volley makes (`invoke_agent`, `chat`,
 * `execute_tool`, the HTTP attempts) to `{url}/v1/traces` and the GenAI metrics of `GenAiMetrics` to
 * `{url}/v1/metrics`, as OTLP/HTTP JSON over `fetch`. `layerOtlpConfig()` reads the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_SERVICE_NAME` through `Config`
 * and is a no-op without an endpoint. Gotcha: spans carry prompts and outputs only when the client or
 * agent was built with `captureContent: true`; export is batched, so provide the layer around the
 * whole program (its release flushes what is left).
 */
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as OtlpMetrics from "effect/observability/OtlpMetrics"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as GenAiMetrics from "./GenAiMetrics.ts"

/** Where and how to export. */
export interface OtlpOptions {
  /** The collector's OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318` (paths `/v1/traces`, `/v1/metrics` are added). */
  readonly url: string
  /** `service.name` of the resource (default `volley`). */
  readonly serviceName?: string | undefined
  /** `service.version` of the resource. */
  readonly serviceVersion?: string | undefined
  /** Headers on every export request (e.g. a collector's API key); values are never put on spans. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /** How often batches are sent (default 5 seconds for spans, 10 for metrics). */
  readonly exportInterval?: Duration.Input | undefined
  /** How long releasing the layer waits for the last export (default 3 seconds), e.g. with the collector down. */
  readonly shutdownTimeout?: Duration.Input | undefined
}

/** The default `service.name`. */
export const defaultServiceName = "volley"

/** Most entries read from `OTEL_EXPORTER_OTLP_HEADERS`; further entries are ignored. */
export const maxConfigHeaders = 64

/** Exports Volley's spans and GenAI metrics to an OTLP/HTTP collector (JSON encoding, `fetch` transport). */
export const layerOtlp = (options: OtlpOptions): Layer.Layer<never> => {
  const base = options.url.replace(/\/+$/, "")
  const resource = {
    serviceName: options.serviceName ?? defaultServiceName,
    ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
  }
  const headers = plainHeaders(options.headers)
  const timing = {
    ...(options.exportInterval === undefined ? {} : { exportInterval: options.exportInterval }),
    ...(options.shutdownTimeout === undefined ? {} : { shutdownTimeout: options.shutdownTimeout })
  }
  const tracer = OtlpTracer.layer({ url: `${base}/v1/traces`, resource, headers, ...timing })
  const metrics = OtlpMetrics.layer({ url: `${base}/v1/metrics`, resource, headers, ...timing })
  const exporters = Layer.mergeAll(tracer, metrics).pipe(
    Layer.provide(OtlpSerialization.layerJson),
    Layer.provide(FetchHttpClient.layer)
  )
  // the wrapper reads the OTLP tracer from the exporters' context and outputs the metered one
  return GenAiMetrics.layer.pipe(Layer.provide(exporters))
}

/**
 * `layerOtlp` configured from `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`
 * (`key=value,key2=value2`, values percent-decoded) and `OTEL_SERVICE_NAME`; no export at all
 * when the endpoint is unset or `OTEL_SDK_DISABLED=true`.
 */
export const layerOtlpConfig = (
  options: Omit<OtlpOptions, "url" | "headers" | "serviceName"> = {}
): Layer.Layer<never, Config.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const disabled = yield* Config.Boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false))
      const endpoint = yield* Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT"))
      if (disabled || Option.isNone(endpoint) || endpoint.value.trim() === "") return Layer.empty
      const rawHeaders = yield* Config.option(Config.Redacted("OTEL_EXPORTER_OTLP_HEADERS"))
      const serviceName = yield* Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault(defaultServiceName))
      const headers = Option.isNone(rawHeaders) ? {} : parseHeaders(Redacted.value(rawHeaders.value))
      if (headers === undefined)
        yield* Effect.logWarning("OTEL_EXPORTER_OTLP_HEADERS: an entry without `=` or with a bad escape was ignored")
      return layerOtlp({ ...options, url: endpoint.value.trim(), serviceName, headers: headers ?? {} })
    })
  )

/**
 * Parses `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, percent-encoded values) into redacted values;
 * `undefined` when an entry is malformed (the well-formed ones are then dropped too).
 */
export const parseHeaders = (text: string): Record<string, Redacted.Redacted<string>> | undefined => {
  const headers: Record<string, Redacted.Redacted<string>> = {}
  const entries = text.split(",").slice(0, maxConfigHeaders)
  for (const entry of entries) {
    if (entry.trim() === "") continue
    const at = entry.indexOf("=")
    if (at <= 0) return undefined
    const key = entry.slice(0, at).trim().toLowerCase()
    const value = decode(entry.slice(at + 1).trim())
    if (key === "" || value === undefined) return undefined
    headers[key] = Redacted.make(value)
  }
  return headers
}

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

const plainHeaders = (
  headers: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(headers ?? {}))
    out[key] = typeof value === "string" ? value : Redacted.value(value)
  return out
}

/** `decodeURIComponent` is a throwing API: a bad escape is a malformed entry, not a defect. */
const decode = (value: string): string | undefined => {
  if (!value.includes("%")) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}
