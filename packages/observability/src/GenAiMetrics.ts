/**
 * GenAI metrics (OpenTelemetry GenAI semantic conventions) derived from the spans Volley already
 * makes, so neither the client nor the agent loop records a metric itself. `tracer(inner)` wraps any
 * `Tracer`: spans pass through untouched, and when a `chat {model}`, `execute_tool {name}` or
 * `invoke_agent {name}` span ends, its GenAI attributes, its `volley.retry` events and its exit
 * become Effect `Metric` updates (token usage by `gen_ai.token.type`, operation duration, tool calls,
 * retries, turn restarts, run outcomes by stop reason). `layer` wraps the tracer in context; the
 * metrics go wherever Effect metrics go (`OtlpMetrics`, Prometheus, `Metric.snapshot`).
 * Gotcha: turn restarts are inferred: a failed `chat` span under a run that goes on (or ends for
 * another reason) was restarted; only span names, numbers, tags and model names become attributes.
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

// ---------------------------------------------------------------------------------------------
// metrics
// ---------------------------------------------------------------------------------------------

/** `gen_ai.client.token.usage` buckets (tokens), as the semantic conventions advise. */
export const tokenBoundaries: ReadonlyArray<number> = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864
]

/** `gen_ai.client.operation.duration` buckets (seconds), as the semantic conventions advise. */
export const durationBoundaries: ReadonlyArray<number> = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92
]

/** Tokens per model call, by `gen_ai.token.type` (`input` / `output`), model and operation. */
export const tokenUsage = Metric.histogram("gen_ai.client.token.usage", {
  description: "Number of input and output tokens used (unit {token})",
  boundaries: tokenBoundaries
})

/** Seconds per model call (the `chat` span), with `error.type` when it failed. */
export const operationDuration = Metric.histogram("gen_ai.client.operation.duration", {
  description: "GenAI operation duration (unit s)",
  boundaries: durationBoundaries
})

/** Tool calls, by `gen_ai.tool.name` and `volley.tool.outcome` (`success` or the error tag). */
export const toolCalls = Metric.counter("volley.tool.calls", {
  description: "Tool calls by tool name and outcome",
  incremental: true
})

/** Seconds per tool call (the `execute_tool` span), by tool name. */
export const toolDuration = Metric.histogram("volley.tool.duration", {
  description: "Tool call duration (unit s)",
  boundaries: durationBoundaries
})

/** HTTP retries of the Responses client (`volley.retry` span events), by `error.type`. */
export const retries = Metric.counter("volley.client.retries", {
  description: "Responses requests retried by the client, by the error that caused the retry",
  incremental: true
})

/** Turns the agent re-ran after a failed model call (a dropped stream, an overloaded error event). */
export const turnRestarts = Metric.counter("volley.agent.turn_restarts", {
  description: "Agent turns restarted after a failed model call",
  incremental: true
})

/** Finished runs, by `gen_ai.agent.name` and `volley.agent.stop_reason` (or the error tag). */
export const runs = Metric.counter("volley.agent.runs", {
  description: "Agent runs by stop reason",
  incremental: true
})

/** Seconds per agent run (the `invoke_agent` span), by agent name and stop reason. */
export const runDuration = Metric.histogram("volley.agent.run.duration", {
  description: "Agent run duration (unit s)",
  boundaries: durationBoundaries
})

// ---------------------------------------------------------------------------------------------
// tracer
// ---------------------------------------------------------------------------------------------

/** Deepest parent chain searched for the enclosing run of a `chat` span. */
const maxAncestors = 64

/** Longest string kept as a metric attribute value; longer ones are cut. */
export const maxAttributeLength = 128

/**
 * Most distinct values per attribute key per tracer; further values are recorded as `_OTHER`. Tool
 * names (the model may call tools that do not exist) and response model names come from the model
 * or the server, so without this bound they could grow the number of series without limit.
 */
export const maxValuesPerAttribute = 100

/**
 * Wraps `inner` so that Volley's GenAI spans update the metrics above when they end. `context` is
 * where the metrics are registered (the `Metric.MetricRegistry` of the program exporting them).
 */
export const tracer = (inner: Tracer.Tracer, context: Context.Context<never>): Tracer.Tracer => {
  const sink = new Sink(context)
  return Tracer.make({
    span(options) {
      const span = inner.span(options)
      const kind = kindOf(options.name)
      if (kind === undefined) return span
      return new MeteredSpan(span, kind, sink)
    },
    ...(inner.context === undefined ? {} : { context: inner.context })
  })
}

/** Wraps the tracer in context with `tracer`, registering the metrics in the layer's context. */
export const layer: Layer.Layer<never> = Layer.effect(
  Tracer.Tracer,
  Effect.gen(function* () {
    const inner = yield* Tracer.Tracer
    const context = yield* Effect.context<never>()
    return tracer(inner, context)
  })
) as Layer.Layer<never>

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

type Kind = "chat" | "execute_tool" | "invoke_agent"

const kindOf = (name: string): Kind | undefined =>
  name.startsWith("chat ")
    ? "chat"
    : name.startsWith("execute_tool ")
      ? "execute_tool"
      : name.startsWith("invoke_agent ")
        ? "invoke_agent"
        : undefined

/** A span that forwards everything to the real one and records metrics when it ends. */
class MeteredSpan implements Tracer.Span {
  readonly _tag = "Span"
  /** Failed `chat` spans under this run, and whether the last one failed (runs only). */
  failedChats = 0
  lastChatFailed = false
  readonly inner: Tracer.Span
  readonly op: Kind
  readonly sink: Sink
  constructor(inner: Tracer.Span, op: Kind, sink: Sink) {
    this.inner = inner
    this.op = op
    this.sink = sink
  }
  get name(): string {
    return this.inner.name
  }
  get spanId(): string {
    return this.inner.spanId
  }
  get traceId(): string {
    return this.inner.traceId
  }
  get parent(): Option.Option<Tracer.AnySpan> {
    return this.inner.parent
  }
  get annotations(): Context.Context<never> {
    return this.inner.annotations
  }
  get status(): Tracer.SpanStatus {
    return this.inner.status
  }
  get attributes(): ReadonlyMap<string, unknown> {
    return this.inner.attributes
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.inner.links
  }
  get sampled(): boolean {
    return this.inner.sampled
  }
  get kind(): Tracer.SpanKind {
    return this.inner.kind
  }
  attribute(key: string, value: unknown): void {
    this.inner.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.inner.event(name, startTime, attributes)
    if (name === "volley.retry") {
      const attrs: Array<[string, string]> = [["error.type", text(attributes?.["volley.retry.error"], "_OTHER")]]
      const model = this.inner.attributes.get("gen_ai.request.model")
      if (typeof model === "string") attrs.push(["gen_ai.request.model", clip(model)])
      this.sink.update(retries, 1, attrs)
    }
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.inner.addLinks(links)
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    const startTime = this.inner.status.startTime
    this.inner.end(endTime, exit)
    const seconds = Number(endTime - startTime) / 1e9
    const failure = exit._tag === "Failure" ? errorType(exit.cause) : undefined
    switch (this.op) {
      case "chat":
        this.endChat(seconds, failure)
        return
      case "execute_tool":
        this.endTool(seconds, failure)
        return
      case "invoke_agent":
        this.endRun(seconds, failure)
        return
    }
  }

  private endChat(seconds: number, failure: string | undefined): void {
    const a = this.inner.attributes
    const base: Array<[string, string]> = [["gen_ai.operation.name", "chat"]]
    for (const key of ["gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model", "server.address"]) {
      const value = a.get(key)
      if (typeof value === "string") base.push([key, clip(value)])
    }
    this.sink.update(operationDuration, seconds, failure === undefined ? base : [...base, ["error.type", failure]])
    for (const [type, key] of [
      ["input", "gen_ai.usage.input_tokens"],
      ["output", "gen_ai.usage.output_tokens"]
    ] as const) {
      const tokens = a.get(key)
      if (typeof tokens === "number" && Number.isFinite(tokens) && tokens >= 0)
        this.sink.update(tokenUsage, tokens, [...base, ["gen_ai.token.type", type]])
    }
    const run = enclosingRun(this.inner.parent)
    if (run !== undefined) {
      run.lastChatFailed = failure !== undefined
      if (failure !== undefined) run.failedChats++
    }
  }

  private endTool(seconds: number, failure: string | undefined): void {
    const a = this.inner.attributes
    const errorAttribute = a.get("error.type")
    const outcome = failure ?? (typeof errorAttribute === "string" ? clip(errorAttribute) : "success")
    // a name the model made up is not a series of its own
    const toolName = outcome === "ToolNotFound" ? "_OTHER" : text(a.get("gen_ai.tool.name"), "_OTHER")
    const name: Array<[string, string]> = [["gen_ai.tool.name", toolName]]
    this.sink.update(toolCalls, 1, [...name, ["volley.tool.outcome", outcome]])
    this.sink.update(toolDuration, seconds, name)
  }

  private endRun(seconds: number, failure: string | undefined): void {
    const a = this.inner.attributes
    const stop = a.get("volley.agent.stop_reason")
    const attrs: Array<[string, string]> = [
      ["gen_ai.agent.name", text(a.get("gen_ai.agent.name"), "_OTHER")],
      ["volley.agent.stop_reason", typeof stop === "string" ? clip(stop) : (failure ?? "_OTHER")]
    ]
    this.sink.update(runs, 1, attrs)
    this.sink.update(runDuration, seconds, attrs)
    const final = failure !== undefined && this.lastChatFailed ? 1 : 0
    const restarts = this.failedChats - final
    if (restarts > 0) this.sink.update(turnRestarts, restarts, [attrs[0]!])
  }
}

const enclosingRun = (parent: Option.Option<Tracer.AnySpan>): MeteredSpan | undefined => {
  let current = parent
  for (let depth = 0; depth < maxAncestors && Option.isSome(current); depth++) {
    const span = current.value
    if (span instanceof MeteredSpan && span.op === "invoke_agent") return span
    if (span._tag !== "Span") return undefined
    current = span.parent
  }
  return undefined
}

/** Where one tracer's metrics go, with the distinct values seen per attribute key. */
class Sink {
  readonly context: Context.Context<never>
  private readonly seen = new Map<string, Set<string>>()
  constructor(context: Context.Context<never>) {
    this.context = context
  }
  update<S>(metric: Metric.Metric<number, S>, value: number, attributes: ReadonlyArray<[string, string]>): void {
    const bounded = attributes.map(([key, raw]): [string, string] => [key, this.bound(key, raw)])
    Metric.withAttributes(metric, bounded).updateUnsafe(value, this.context)
  }
  private bound(key: string, value: string): string {
    let values = this.seen.get(key)
    if (values === undefined) {
      values = new Set()
      this.seen.set(key, values)
    }
    if (values.has(value)) return value
    if (values.size >= maxValuesPerAttribute) return "_OTHER"
    values.add(value)
    return value
  }
}

const clip = (value: string): string =>
  value.length <= maxAttributeLength ? value : value.slice(0, maxAttributeLength)

const text = (value: unknown, fallback: string): string => (typeof value === "string" ? clip(value) : fallback)

/** The `_tag` of the typed error (or the defect), `Interrupted` for an interruption, `_OTHER` otherwise. */
const errorType = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  const value = Option.isSome(error) ? error.value : Cause.hasInterrupts(cause) ? undefined : Cause.squash(cause)
  if (value === undefined) return "Interrupted"
  const tag = typeof value === "object" && value !== null ? (value as { readonly _tag?: unknown })._tag : undefined
  return typeof tag === "string" ? clip(tag) : "_OTHER"
}
