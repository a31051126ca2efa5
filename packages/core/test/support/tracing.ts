/**
 * An in-memory OpenTelemetry tracer for span assertions: `Tracing` is the Effect layer, `exporter`
 * holds finished spans (`exporter.reset()` between tests). Built on `OtelTracer` directly, because
 * `NodeSdk` also loads the logs SDK, which this package does not install.
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Layer from "effect/Layer"

/** Finished spans of every test in the file. */
export const exporter = new InMemorySpanExporter()

const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })

/** Provides Effect's tracer backed by the in-memory exporter. */
export const Tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))

/** Finished spans with this name. */
export const spansNamed = (name: string): Array<ReadableSpan> =>
  exporter.getFinishedSpans().filter((span) => span.name === name)
