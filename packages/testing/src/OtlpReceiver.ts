/**
 * `OtlpReceiver`: an in-process OTLP/HTTP collector on 127.0.0.1 for tests of exported telemetry.
 * `receiver` records every POST (path, headers, raw body) and answers 200 `{}`, as a collector does;
 * `spans`, `points`, `spanNames` and `metricNames` read the OTLP JSON that Effect's
 * `OtlpSerialization.layerJson` sends (`resourceSpans` / `resourceMetrics`). Gotcha: it keeps every
 * request in memory and a body that is not JSON is skipped: it is for a test's few exports.
 */
import * as Http from "node:http"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

/** One export request as received. */
export interface Received {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** A running receiver. */
export interface Receiver {
  readonly url: string
  readonly received: Array<Received>
}

/** Starts the receiver in the current scope (closed with it). */
export const receiver: Effect.Effect<Receiver, never, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<Receiver & { readonly server: Http.Server }>((resume) => {
    const received: Array<Received> = []
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { readonly port: number }
      resume(Effect.succeed({ url: `http://127.0.0.1:${address.port}`, received, server }))
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** An OTLP attribute list as a plain record. */
export const attributes = (list: ReadonlyArray<{ key: string; value: Record<string, unknown> }> | undefined) =>
  Object.fromEntries(
    (list ?? []).map(({ key, value }) => [
      key,
      value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue ?? value.arrayValue
    ])
  )

/** One exported span, flattened. */
export interface SpanRecord {
  readonly name: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Record<string, unknown>
  readonly events: ReadonlyArray<{ readonly name: string }>
}

interface OtlpAttribute {
  readonly key: string
  readonly value: Record<string, unknown>
}
interface OtlpSpanJson {
  readonly name: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly attributes?: ReadonlyArray<OtlpAttribute>
  readonly events?: ReadonlyArray<{ readonly name: string }>
}
interface TracesJson {
  readonly resourceSpans: ReadonlyArray<{
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpanJson> }>
  }>
}
interface OtlpPointJson {
  readonly attributes?: ReadonlyArray<OtlpAttribute>
  readonly sum?: number | string
  readonly count?: number | string
  readonly asInt?: number | string
  readonly asDouble?: number
}
interface OtlpMetricJson {
  readonly name: string
  readonly histogram?: { readonly dataPoints: ReadonlyArray<OtlpPointJson> }
  readonly sum?: { readonly dataPoints: ReadonlyArray<OtlpPointJson> }
  readonly gauge?: { readonly dataPoints: ReadonlyArray<OtlpPointJson> }
}
interface MetricsJson {
  readonly resourceMetrics: ReadonlyArray<{
    readonly scopeMetrics: ReadonlyArray<{ readonly metrics: ReadonlyArray<OtlpMetricJson> }>
  }>
}

const decodeJson = Schema.decodeUnknownExit(Schema.fromJsonString(Schema.Unknown))

/** The parsed bodies received on `path` (bodies that are not JSON are skipped). */
const bodiesOn = <A>(received: ReadonlyArray<Received>, path: string): Array<A> =>
  received.flatMap((r) => {
    if (r.path !== path) return []
    const parsed = decodeJson(r.body)
    return Exit.isSuccess(parsed) ? [parsed.value as A] : []
  })

const metricsOf = (received: ReadonlyArray<Received>): Array<OtlpMetricJson> =>
  bodiesOn<MetricsJson>(received, "/v1/metrics")
    .flatMap((body) => body.resourceMetrics)
    .flatMap((rm) => rm.scopeMetrics)
    .flatMap((sm) => sm.metrics)

/** Every span received on `/v1/traces`. */
export const spans = (received: ReadonlyArray<Received>): Array<SpanRecord> =>
  bodiesOn<TracesJson>(received, "/v1/traces")
    .flatMap((body) => body.resourceSpans)
    .flatMap((rs) => rs.scopeSpans)
    .flatMap((ss) => ss.spans)
    .map((s) => ({
      name: s.name,
      spanId: s.spanId,
      parentSpanId: s.parentSpanId === "" ? undefined : s.parentSpanId,
      attributes: attributes(s.attributes),
      events: s.events ?? []
    }))

/** One metric data point: the metric name, its attributes and its value (sum or histogram count/sum). */
export interface PointRecord {
  readonly metric: string
  readonly attributes: Record<string, unknown>
  readonly value: number
  readonly count: number
}

/** Every data point received on `/v1/metrics` (later exports of a cumulative metric repeat earlier ones). */
export const points = (received: ReadonlyArray<Received>): Array<PointRecord> =>
  metricsOf(received).flatMap(
    (m) =>
      (m.histogram ?? m.sum ?? m.gauge)?.dataPoints.map((p) => ({
        metric: m.name,
        attributes: attributes(p.attributes),
        value: Number(p.sum ?? p.asInt ?? p.asDouble ?? 0),
        count: Number(p.count ?? p.asInt ?? p.asDouble ?? 0)
      })) ?? []
  )

/** The last data point of `metric` whose attributes include `match`. */
export const lastPoint = (
  all: ReadonlyArray<PointRecord>,
  metric: string,
  match: Record<string, unknown> = {}
): PointRecord | undefined =>
  all.filter((p) => p.metric === metric && Object.entries(match).every(([k, v]) => p.attributes[k] === v)).at(-1)

/** The names of every span received, in arrival order. */
export const spanNames = (received: ReadonlyArray<Received>): Array<string> => spans(received).map((s) => s.name)

/** The names of every metric received (once each, with or without data points). */
export const metricNames = (received: ReadonlyArray<Received>): Array<string> => [
  ...new Set(metricsOf(received).map((m) => m.name))
]
