/**
 * An in-memory OpenTelemetry tracer for span assertions: `Tracing` is the Effect layer, `exporter`
 * holds finished spans (`exporter.reset()` between tests). Built on `OtelTracer` directly, because
 * `NodeSdk` also loads the logs SDK, which this package does not install. Under `npm test`
 * (VOLLEY_CANARY_DIR set) every finished span is also written out for the suite-wide canary sweep.
 */
import { appendFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter
} from "@opentelemetry/sdk-trace-base"
import * as Layer from "effect/Layer"

/** Finished spans of every test in the file. */
export const exporter = new InMemorySpanExporter()

/** Writes each finished span (name, attributes, events, status) for scripts/canary-sweep.mjs. */
const sweepExporter: SpanExporter = {
  export: (spans, done) => {
    const dir = process.env.VOLLEY_CANARY_DIR
    if (dir !== undefined) {
      mkdirSync(dir, { recursive: true })
      const lines = spans.map((span) =>
        JSON.stringify({
          kind: "span",
          name: span.name,
          attributes: span.attributes,
          events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
          status: span.status
        })
      )
      appendFileSync(join(dir, `artefacts-core-spans-${process.pid}.jsonl`), `${lines.join("\n")}\n`)
    }
    done({ code: 0 })
  },
  shutdown: () => Promise.resolve()
}

const provider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter), new SimpleSpanProcessor(sweepExporter)]
})

/** Provides Effect's tracer backed by the in-memory exporter. */
export const Tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))

/** Finished spans with this name. */
export const spansNamed = (name: string): Array<ReadableSpan> =>
  exporter.getFinishedSpans().filter((span) => span.name === name)
