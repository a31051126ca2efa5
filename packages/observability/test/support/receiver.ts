/**
 * An in-process OTLP/HTTP receiver on 127.0.0.1 for tests: it records every POST (path, headers, raw
 * body) and answers 200 `{}`, as a collector does. `spans` and `metrics` decode what Effect's
 * `OtlpSerialization.layerJson` sends (OTLP JSON: `resourceSpans` / `resourceMetrics`).
 */
import * as Http from "node:http"
import * as Effect from "effect/Effect"
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

/** Every span received on `/v1/traces`. */
export const spans = (received: ReadonlyArray<Received>): Array<SpanRecord> =>
  received
    .filter((r) => r.path === "/v1/traces")
    .flatMap((r) => (JSON.parse(r.body) as TracesJson).resourceSpans)
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
  received
    .filter((r) => r.path === "/v1/metrics")
    .flatMap((r) => (JSON.parse(r.body) as MetricsJson).resourceMetrics)
    .flatMap((rm) => rm.scopeMetrics)
    .flatMap((sm) => sm.metrics)
    .flatMap(
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
