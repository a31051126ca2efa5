/**
 * `ResponsesClient`: the Effect service that speaks `POST /v1/responses`. `create` sends a JSON
 * request and decodes the response; `stream` sends `stream: true` and yields typed events decoded
 * from SSE, ending after the terminal event. Build it with `layer(options)` (needs an
 * `HttpClient`), `layerUndici(options)` (brings undici with the connect timeout) or `layerConfig`
 * (key and base URL as `Config` values, by default `HAOAI_API_KEY` / `HAOAI_BASE_URL`). Retries
 * follow `RetryPolicy` (or any `Schedule`); every call is a `chat {model}` span with GenAI
 * attributes and one child span per HTTP attempt.
 * Gotcha: the client retries only while nothing has reached the consumer; once a stream event was
 * emitted, a failure is final here and it is the agent's job to re-run the whole turn.
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Pull from "effect/Pull"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as HttpClient from "effect/http/HttpClient"
import { timeout as timeoutFailure } from "./internal/errors.ts"
import { httpClientTransport } from "./internal/http.ts"
import { maxJsonDepth as jsonDepthLimit } from "./internal/jsonDepth.ts"
import { lowerCased } from "./internal/responseBody.ts"
import { finalError, finalStreamError, type RetrySchedule, retrying } from "./internal/retry.ts"
import {
  type CallInput,
  type CallState,
  type Endpoint,
  type StreamHooks,
  type Timeouts,
  type Transport,
  timersFor
} from "./internal/transport.ts"
import { isRedactedHeader, redactedHeaderNames, redactWith, secretNeedles, truncateUtf8 } from "./Redaction.ts"
import { defaultMaxStreamBytes as sseMaxStreamBytes, defaultMaxEventSize as sseMaxEventSize } from "./internal/sse.ts"
import * as Undici from "./internal/undici.ts"
import { InvalidConfiguration, type ResponsesError } from "./ResponsesError.ts"
import type { CreateRequest, Response, StreamEvent } from "./ResponsesSchema.ts"
import * as RetryPolicy from "./RetryPolicy.ts"

/** Per-call options. */
export interface CallOptions {
  /** HTTP attempts already spent on this logical call by an outer layer (the agent's turn retry). */
  readonly previousAttempts?: number | undefined
  /** Extra headers for this call only (never logged). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Aborting it interrupts the call like a fiber interruption (no further request, never retried). */
  readonly signal?: AbortSignal | undefined
  /**
   * The idempotency key to send (when `Options.idempotencyKey` is on), so an outer retry of the same
   * logical call reuses its key; by default each call draws a fresh one.
   */
  readonly idempotencyKey?: string | undefined
}

/** The Responses API client: what the `ResponsesClient` service holds. */
export interface Service {
  /** Sends a non-streaming request; fails on HTTP errors, `status: "failed"` and malformed bodies. */
  readonly create: (request: CreateRequest, options?: CallOptions) => Effect.Effect<Response, ResponsesError>
  /** Sends a streaming request; emits every decoded event up to and including the terminal one. */
  readonly stream: (request: CreateRequest, options?: CallOptions) => Stream.Stream<StreamEvent, ResponsesError>
}

/** The Responses API client service. */
export class ResponsesClient extends Context.Service<ResponsesClient, Service>()("@volley/core/ResponsesClient") {}

/** A retry schedule for `Options.retrySchedule`: any `Schedule` over the client's failed attempts. */
export type { RetrySchedule }

/** Timer settings in milliseconds; `undefined` turns an optional timer off. */
export type { Timeouts }

/** The default base URL. */
export const defaultBaseUrl = "https://api.hao.ai/v1"

/** Default timers (docs/reliability.md): connect 10 s, headers 10 min, stream idle 5 min, content idle and total off. */
export const defaultTimeouts: Timeouts = {
  connectMs: 10_000,
  headersMs: 600_000,
  streamIdleMs: 300_000,
  contentIdleMs: undefined,
  totalMs: undefined
}

/** Default attempt counter header, sent on every attempt (0, 1, 2, …). */
export const defaultAttemptHeader = "x-volley-retry-count"

/** Default idempotency key header (when `idempotencyKey` is on). */
export const defaultIdempotencyHeader = "idempotency-key"

/** Default cap on one SSE event (16 MiB); larger events fail with `EventTooLarge`. */
export const defaultMaxEventSize: number = sseMaxEventSize

/** Default cap on all the bytes of one SSE stream (64 MiB); past it the stream fails with `ResponseTooLarge`. */
export const defaultMaxStreamBytes: number = sseMaxStreamBytes

/** Deepest nesting of model JSON accepted (256 levels); deeper is `ResponseDecodeError{path: "(nesting)"}`. */
export const maxJsonDepth: number = jsonDepthLimit

/** Default cap on one JSON response body (32 MiB); a larger one fails with `ResponseTooLarge` unread. */
export const defaultMaxJsonBytes = 32 * 1024 * 1024

/** Default cap on open connections per origin of the undici transports (256); further requests queue. */
export const defaultMaxConnections = 256

/** At most this many SSE `retry:` fields become span events per call; the rest are only counted. */
export const maxRetryFieldEvents = 4

/** At most this many argument or output mismatches become span events per call; the rest are only counted. */
export const maxMismatchEvents = 16

/** Largest attribute value recorded when `captureContent` is on (8 KiB). */
export const maxContentAttributeBytes = 8 * 1024

/** How the client is configured. Every field is optional; the defaults are in docs/reliability.md, Defaults. */
export interface Options {
  /** API root, e.g. `https://api.hao.ai/v1` (default). Query parameters (`?key=…`) are treated as secrets. */
  readonly baseUrl?: string | undefined
  /** The API key. Optional only for loopback base URLs. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Header carrying the key: `authorization` (default, sent as `Bearer <key>`) or e.g. `x-gateway-key` (raw key). */
  readonly authHeader?: string | undefined
  /** Extra headers on every request. Values of headers in the redacted list are treated as secrets. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Retry settings replacing those of the current `RetryPolicy` (which defaults to `RetryPolicy.defaults`). */
  readonly retryPolicy?: Partial<RetryPolicy.RetryPolicy> | undefined
  /**
   * Any `Schedule` over failed attempts instead of `RetryPolicy.schedule(policy)` (which decides
   * when, how often and how long); failures that are not retryable are never retried.
   */
  readonly retrySchedule?: RetrySchedule | undefined
  /** Timer settings replacing `defaultTimeouts`. */
  readonly timeouts?: Partial<Timeouts> | undefined
  /** Largest SSE event in bytes (16 MiB). */
  readonly maxEventSize?: number | undefined
  /** Largest total of bytes one SSE stream may send, comments and `retry:` lines included (64 MiB). */
  readonly maxStreamBytes?: number | undefined
  /** Largest JSON response body, for `create` and a JSON answer to `stream` (32 MiB). */
  readonly maxJsonBytes?: number | undefined
  /** Most open connections per origin (`layerUndici` / `makeUndici` / `layerConfig`; 256): more requests queue. */
  readonly maxConnections?: number | undefined
  /** Send one idempotency key per logical call, the same on every attempt (off; `true` = `idempotency-key`). */
  readonly idempotencyKey?: boolean | { readonly header: string } | undefined
  /** Attempt counter header name (`x-volley-retry-count`), or `false` for none. */
  readonly attemptHeader?: string | false | undefined
  /** Allow a non-loopback `http://` base URL with credentials (off: such a config fails to build). */
  readonly allowInsecureTransport?: boolean | undefined
  /** Record prompts, instructions and outputs on spans, each attribute ≤ 8 KiB (off). */
  readonly captureContent?: boolean | undefined
  /** More values to redact wherever they appear (e.g. a gateway secret sent some other way). */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | undefined
  /** `gen_ai.system` / `gen_ai.provider.name` span attribute ("haoai"). */
  readonly providerName?: string | undefined
}

/** Builds the client over the `HttpClient` in context; fails with `InvalidConfiguration` for an unusable or insecure configuration. */
export const make = Effect.fnUntraced(function* (options: Options = {}) {
  const client = yield* HttpClient.HttpClient
  return yield* makeWith(options, (endpoint) => httpClientTransport(client, endpoint))
})

/**
 * The client straight on undici (its own keep-alive agent, closed with the scope): what `layerUndici`
 * builds. Real Node timers: use `make` over an `HttpClient` when a test needs the TestClock.
 */
export const makeUndici = (options: Options = {}): Effect.Effect<Service, InvalidConfiguration, Scope.Scope> =>
  Effect.gen(function* () {
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        Undici.makeAgent(
          options.timeouts?.connectMs ?? defaultTimeouts.connectMs,
          options.maxConnections ?? defaultMaxConnections
        )
      ),
      (agent) => Effect.promise(() => agent.destroy())
    )
    const timers = yield* timersFor
    return yield* makeWith(options, (endpoint) => Undici.makeTransport(agent, endpoint, timers))
  })

const makeWith = Effect.fnUntraced(function* (options: Options, transportFor: (endpoint: Endpoint) => Transport) {
  const base = yield* makeEndpoint(options)
  const idempotency = options.idempotencyKey
  const idempotencyHeader =
    idempotency === true ? defaultIdempotencyHeader : idempotency ? idempotency.header : undefined
  const endpoint: Endpoint = { ...base, idempotencyHeader }
  const settings: Settings = {
    transport: transportFor(endpoint),
    endpoint,
    overrides: options.retryPolicy ?? {},
    schedule: options.retrySchedule,
    hasOverrides: options.retryPolicy !== undefined && Object.keys(options.retryPolicy).length > 0,
    captureContent: options.captureContent === true,
    system: options.providerName ?? "haoai",
    serverAddress: new URL(endpoint.url).hostname
  }
  return ResponsesClient.of({
    create: (request, callOptions) => create(settings, request, callOptions),
    stream: (request, callOptions) => stream(settings, request, callOptions)
  })
})

/** The client as a layer over the `HttpClient` in context. */
export const layer = (
  options: Options = {}
): Layer.Layer<ResponsesClient, InvalidConfiguration, HttpClient.HttpClient> =>
  Layer.effect(ResponsesClient, make(options))

/** The client over its own undici agent (`makeUndici`), configured with the connect timeout. */
export const layerUndici = (options: Options = {}): Layer.Layer<ResponsesClient, InvalidConfiguration> =>
  Layer.effect(ResponsesClient, Effect.map(makeUndici(options), ResponsesClient.of))

/** What `layerConfig` reads: the key and base URL as `Config` values, the other `Options` as they are. */
export interface ConfigOptions extends Omit<Options, "baseUrl" | "apiKey"> {
  /** The API key (default `HAOAI_API_KEY`, optional: a missing key is allowed only for loopback base URLs). */
  readonly apiKey?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
  /** The API root (default `HAOAI_BASE_URL`, falling back to `https://api.hao.ai/v1`). */
  readonly baseUrl?: Config.Config<string> | undefined
}

/** The default `Config` of the API key: `HAOAI_API_KEY`, redacted, optional. */
export const defaultApiKeyConfig: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.Redacted("HAOAI_API_KEY")
)

/** The default `Config` of the base URL: `HAOAI_BASE_URL`, else `https://api.hao.ai/v1`. */
export const defaultBaseUrlConfig: Config.Config<string> = Config.String("HAOAI_BASE_URL").pipe(
  Config.withDefault(defaultBaseUrl)
)

/**
 * The client from configuration, over undici: the key from `options.apiKey` (default
 * `HAOAI_API_KEY`, redacted; may be absent only for loopback base URLs) and the base URL from
 * `options.baseUrl` (default `HAOAI_BASE_URL`, else `https://api.hao.ai/v1`). Other settings are plain `options`.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<ResponsesClient, InvalidConfiguration | ConfigError.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const { apiKey: apiKeyConfig, baseUrl: baseUrlConfig, ...rest } = options
      const apiKey = yield* apiKeyConfig ?? defaultApiKeyConfig
      const baseUrl = yield* baseUrlConfig ?? defaultBaseUrlConfig
      if (Option.isNone(apiKey) && !isLoopbackUrl(baseUrl)) {
        const name = apiKeyConfig === undefined ? "HAOAI_API_KEY" : "the configured API key"
        return yield* new InvalidConfiguration({
          message: `${name} is not set (a missing key is allowed only for loopback base URLs)`,
          retryable: false
        })
      }
      return layerUndici({ ...rest, baseUrl, apiKey: Option.getOrUndefined(apiKey) })
    })
  )

/** `options` with `previousAttempts` set: how an outer retry layer shares the client's retry budget. */
export const withPreviousAttempts = (options: CallOptions | undefined, previousAttempts: number): CallOptions => ({
  ...options,
  previousAttempts
})

/** True for `localhost`, `127.0.0.0/8` and `::1` base URLs (where plain http and no key are fine). */
export const isLoopbackUrl = (url: string): boolean => {
  const parsed = parseUrl(url)
  return parsed !== undefined && isLoopbackHost(parsed.hostname)
}

// ---------------------------------------------------------------------------------------------
// private helpers
// ---------------------------------------------------------------------------------------------

interface Settings {
  readonly transport: Transport
  readonly endpoint: Endpoint
  readonly overrides: Partial<RetryPolicy.RetryPolicy>
  readonly schedule: RetrySchedule | undefined
  readonly hasOverrides: boolean
  readonly captureContent: boolean
  readonly system: string
  readonly serverAddress: string
}

const makeEndpoint = (options: Options): Effect.Effect<Omit<Endpoint, "idempotencyHeader">, InvalidConfiguration> =>
  Effect.gen(function* () {
    const invalid = (message: string) => new InvalidConfiguration({ message, retryable: false })
    const parsed = parseUrl(options.baseUrl ?? defaultBaseUrl)
    if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
      return yield* invalid("baseUrl must be an absolute http(s) URL")
    }
    if (parsed.username !== "" || parsed.password !== "") {
      return yield* invalid("baseUrl must not carry credentials in its user info; use apiKey")
    }
    const urlParams = [...parsed.searchParams].map(([name, value]) => [name, Redacted.make(value)] as const)
    const headers = lowerCased(options.headers ?? {})
    const secretValues = [
      ...(options.apiKey === undefined ? [] : [Redacted.value(options.apiKey)]),
      ...urlParams.map(([, value]) => Redacted.value(value)),
      ...(options.secrets ?? []).map(Redacted.value),
      ...Object.entries(headers)
        .filter(([name]) => isRedactedHeader(name))
        .map(([, value]) => value)
    ]
    const hasCredentials = secretValues.length > 0
    if (
      parsed.protocol === "http:" &&
      hasCredentials &&
      !isLoopbackHost(parsed.hostname) &&
      options.allowInsecureTransport !== true
    ) {
      return yield* invalid(
        "refusing to send credentials over plain http to a non-loopback host; use https or set allowInsecureTransport"
      )
    }
    const authName = (options.authHeader ?? "authorization").toLowerCase()
    const auth =
      options.apiKey === undefined
        ? undefined
        : ([
            authName,
            authName === "authorization" ? Redacted.make(`Bearer ${Redacted.value(options.apiKey)}`) : options.apiKey
          ] as const)
    const path = parsed.pathname.endsWith("/") ? parsed.pathname.slice(0, -1) : parsed.pathname
    const timeouts = { ...defaultTimeouts, ...options.timeouts }
    const attemptHeader = options.attemptHeader === false ? undefined : (options.attemptHeader ?? defaultAttemptHeader)
    return {
      url: `${parsed.origin}${path}/responses`,
      urlParams,
      auth,
      headers,
      redactedHeaderNames: [...redactedHeaderNames, ...(auth === undefined ? [] : [auth[0]])],
      needles: secretNeedles(secretValues),
      attemptHeader,
      timeouts,
      maxEventSize: options.maxEventSize ?? defaultMaxEventSize,
      maxStreamBytes: options.maxStreamBytes ?? defaultMaxStreamBytes,
      maxJsonBytes: options.maxJsonBytes ?? defaultMaxJsonBytes
    }
  })

const create = (
  settings: Settings,
  request: CreateRequest,
  callOptions: CallOptions | undefined
): Effect.Effect<Response, ResponsesError> =>
  abortable(callOptions?.signal)(
    // no stack trace per call (`useSpan` captures none): an `Error` per model call, only shown in pretty causes
    Effect.useSpan(`chat ${request.model}`, spanOptions(settings, request), (span) =>
      Effect.flatMap(currentPolicy(settings), (policy) => {
        const state = newState(settings, callOptions)
        const input = callInputOf(settings, request, false, "application/json", callOptions)
        annotateRequest(settings, span, request)
        const run = retrying(state, policy, settings.schedule, span, (resend) =>
          settings.transport.create(policy, input, resend, span)
        )
        // the span is handed to the transport as the attempts' parent, not put in the context
        return withTotalDeadline(settings, state, run).pipe(
          Effect.matchEffect({
            onFailure: (error) => {
              span.attribute("error.type", error._tag)
              return Effect.fail(error)
            },
            onSuccess: (response) => {
              annotateResponse(settings, span, response)
              return Effect.succeed(response)
            }
          })
        )
      })
    )
  )

/** The current `RetryPolicy` with the client's overrides. */
const currentPolicy = (settings: Settings): Effect.Effect<RetryPolicy.RetryPolicy> =>
  Effect.map(Effect.service(RetryPolicy.RetryPolicy), (base) =>
    settings.hasOverrides ? RetryPolicy.make({ ...base, ...settings.overrides }) : base
  )

const stream = (
  settings: Settings,
  request: CreateRequest,
  callOptions: CallOptions | undefined
): Stream.Stream<StreamEvent, ResponsesError> => {
  // One channel for the whole call (span, retries, first events, the rest): every Stream operator
  // stacked here used to cost setup and a pull step per chunk on the hottest path (bench/README.md).
  const events = (state: CallState): Stream.Stream<StreamEvent, ResponsesError> =>
    Stream.fromChannel(Channel.fromTransform((_, scope) => startStream(settings, request, callOptions, state, scope)))
  const deadline = settings.endpoint.timeouts.totalMs
  const bounded =
    deadline === undefined
      ? Stream.suspend(() => events(newState(settings, callOptions)))
      : Stream.suspend(() => {
          const state = newState(settings, callOptions)
          return events(state).pipe(
            Stream.interruptWhen(
              Effect.sleep(deadline).pipe(
                Effect.andThen(Effect.fail(finalError(state, timeoutFailure("total", deadline).error)))
              )
            )
          )
        })
  const signal = callOptions?.signal
  if (signal === undefined) return bounded
  if (signal.aborted) return Stream.fromEffect(Effect.interrupt)
  return bounded.pipe(
    Stream.interruptWhen(onAbort(signal)),
    Stream.catchTag("VolleyAborted", () => Stream.fromEffect(Effect.interrupt))
  )
}

/** Opens the `chat` span, runs the attempts until the first events, and returns the pull of the call's events. */
const startStream = (
  settings: Settings,
  request: CreateRequest,
  callOptions: CallOptions | undefined,
  state: CallState,
  scope: Scope.Scope
): Effect.Effect<Pull.Pull<readonly [StreamEvent, ...Array<StreamEvent>], ResponsesError>, ResponsesError> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const span = yield* Effect.makeSpan(`chat ${request.model}`, spanOptions(settings, request))
    yield* Scope.addFinalizerExit(scope, (exit) => Effect.sync(() => span.end(clock.currentTimeNanosUnsafe(), exit)))
    const policy = yield* currentPolicy(settings)
    const input = callInputOf(settings, request, true, "text/event-stream", callOptions)
    annotateRequest(settings, span, request)
    const hooks = streamHooks(span, clock, settings.endpoint.needles)
    const failed = (error: ResponsesError): ResponsesError => {
      span.attribute("error.type", error._tag)
      return error
    }
    const start = yield* retrying(state, policy, settings.schedule, span, (resend) =>
      Effect.flatMap(Scope.fork(scope), (attemptScope) =>
        settings.transport.stream({ policy, input, resend, state, hooks, parent: span }).pipe(
          Scope.provide(attemptScope),
          Effect.onExit((exit) => (Exit.isFailure(exit) ? Scope.close(attemptScope, exit) : Effect.void))
        )
      )
    ).pipe(Effect.mapError(failed))
    let first: ReadonlyArray<StreamEvent> | undefined = start.first
    const emit = (chunk: ReadonlyArray<StreamEvent>) => {
      for (let i = 0; i < chunk.length; i++) annotateEvent(settings, span, chunk[i]!)
      return chunk as readonly [StreamEvent, ...Array<StreamEvent>]
    }
    const rest = start.rest.pipe(
      Effect.mapError((error) => (Cause.isDone(error) ? error : failed(finalStreamError(state, error)))),
      Effect.map(emit)
    )
    return Effect.suspend(() => {
      const chunk = first
      first = undefined
      return chunk !== undefined && chunk.length > 0 ? Effect.succeed(emit(chunk)) : rest
    })
  })

/**
 * The span events of one streamed call, each kind bounded: a server can send `retry:` fields or
 * mismatching items without end, so only the first few become events and the rest are counted in an
 * attribute (`volley.sse.retry_fields`, `volley.stream.mismatches`).
 */
const streamHooks = (span: Tracer.Span, clock: Clock.Clock, needles: ReadonlyArray<string>): StreamHooks => {
  let retryFields = 0
  let mismatches = 0
  const mismatchEvent = (name: string, attributes: Record<string, unknown>) => {
    mismatches++
    span.attribute("volley.stream.mismatches", mismatches)
    if (mismatches <= maxMismatchEvents) span.event(name, clock.currentTimeNanosUnsafe(), attributes)
  }
  return {
    onRetryField: (ms) => {
      retryFields++
      span.attribute("volley.sse.retry_fields", retryFields)
      if (retryFields <= maxRetryFieldEvents) {
        span.event("volley.sse.retry_field", clock.currentTimeNanosUnsafe(), { "volley.sse.retry_ms": ms })
      }
    },
    onMismatch: (info) =>
      mismatchEvent("volley.function_call.arguments_mismatch", {
        "volley.output_index": info.outputIndex,
        ...(info.callId === undefined
          ? {}
          : { "gen_ai.tool.call.id": truncateUtf8(redactWith(info.callId, needles), 256) })
      }),
    onWarning: (warning) =>
      warning._tag === "UnknownItemId"
        ? mismatchEvent("volley.stream.unknown_item_id", { "volley.output_index": warning.outputIndex })
        : mismatchEvent("volley.stream.output_mismatch", {
            "volley.output.differences": warning.differences.length,
            "volley.output.indexes": warning.differences.map((difference) => difference.outputIndex).join(",")
          })
  }
}

/** The abort of a `CallOptions.signal`, turned into an interruption right after the race. */
class Aborted {
  readonly _tag = "VolleyAborted"
}

/** Fails with `Aborted` once `signal` aborts (the listener is removed when the effect is interrupted). */
const onAbort = (signal: AbortSignal): Effect.Effect<never, Aborted> =>
  Effect.callback<never, Aborted>((resume) => {
    const listener = () => resume(Effect.fail(new Aborted()))
    signal.addEventListener("abort", listener, { once: true })
    return Effect.sync(() => signal.removeEventListener("abort", listener))
  })

/** Interrupts `effect` when `signal` aborts; an already-aborted signal sends nothing. */
const abortable =
  (signal: AbortSignal | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    if (signal === undefined) return effect
    return Effect.suspend(() =>
      signal.aborted
        ? Effect.interrupt
        : Effect.raceFirst(effect, onAbort(signal)).pipe(
            Effect.catchIf(
              (error): error is Aborted => error instanceof Aborted,
              () => Effect.interrupt
            )
          )
    ) as Effect.Effect<A, E, R>
  }

const newState = (settings: Settings, callOptions: CallOptions | undefined): CallState => ({
  attempts: Math.max(0, Math.floor(callOptions?.previousAttempts ?? 0)),
  causes: [],
  requestId: undefined,
  needles: settings.endpoint.needles
})

const callInputOf = (
  settings: Settings,
  request: CreateRequest,
  streaming: boolean,
  accept: string,
  callOptions: CallOptions | undefined
): CallInput => ({
  // A request that cannot be encoded (a BigInt, a cycle) is a bug in the caller: it dies here.
  body: JSON.stringify({ ...request, stream: streaming }),
  accept,
  idempotencyKey:
    settings.endpoint.idempotencyHeader === undefined
      ? undefined
      : (callOptions?.idempotencyKey ?? `volley-${crypto.randomUUID()}`),
  headers: callOptions?.headers
})

const withTotalDeadline = <A>(
  settings: Settings,
  state: CallState,
  effect: Effect.Effect<A, ResponsesError>
): Effect.Effect<A, ResponsesError> => {
  const deadline = settings.endpoint.timeouts.totalMs
  if (deadline === undefined) return effect
  return effect.pipe(
    Effect.timeoutOrElse({
      duration: deadline,
      orElse: () => Effect.fail(finalError(state, timeoutFailure("total", deadline).error))
    })
  )
}

const spanOptions = (settings: Settings, request: CreateRequest): Tracer.SpanOptionsNoTrace => ({
  kind: "client",
  attributes: {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": settings.system,
    "gen_ai.provider.name": settings.system,
    "gen_ai.request.model": request.model,
    "server.address": settings.serverAddress,
    ...(typeof request.max_output_tokens === "number"
      ? { "gen_ai.request.max_tokens": request.max_output_tokens }
      : {}),
    ...(typeof request.temperature === "number" ? { "gen_ai.request.temperature": request.temperature } : {})
  }
})

const contentAttribute = (settings: Settings, value: unknown): string =>
  truncateUtf8(
    redactWith(typeof value === "string" ? value : stringifyOrPlaceholder(value), settings.endpoint.needles),
    maxContentAttributeBytes
  )

const annotateRequest = (settings: Settings, span: Tracer.Span, request: CreateRequest): void => {
  if (!settings.captureContent) return
  span.attribute("gen_ai.input.messages", contentAttribute(settings, request.input))
  if (typeof request.instructions === "string") {
    span.attribute("gen_ai.system_instructions", contentAttribute(settings, request.instructions))
  }
}

/** A server-supplied string as a span attribute: redacted (a server may echo the key) and at most 256 bytes. */
const serverText = (settings: Settings, value: string): string =>
  truncateUtf8(redactWith(value, settings.endpoint.needles), 256)

const annotateResponse = (settings: Settings, span: Tracer.Span, response: Response): void => {
  span.attribute("gen_ai.response.id", serverText(settings, response.id))
  if (response.model !== undefined) span.attribute("gen_ai.response.model", serverText(settings, response.model))
  const finish = response.incomplete_details?.reason ?? response.status
  if (finish != null) span.attribute("gen_ai.response.finish_reasons", [serverText(settings, finish)])
  if (response.usage != null) {
    span.attribute("gen_ai.usage.input_tokens", response.usage.input_tokens)
    span.attribute("gen_ai.usage.output_tokens", response.usage.output_tokens)
  }
  if (settings.captureContent && response.output !== undefined) {
    span.attribute("gen_ai.output.messages", contentAttribute(settings, response.output))
  }
}

const annotateEvent = (settings: Settings, span: Tracer.Span, event: StreamEvent): void => {
  switch (event.type) {
    case "response.created":
      span.attribute("gen_ai.response.id", serverText(settings, event.response.id))
      return
    case "response.completed":
    case "response.incomplete":
      annotateResponse(settings, span, event.response)
      return
  }
}

/** `JSON.stringify` as a value for a span attribute: a boundary with a throwing API (cycles, BigInt, depth). */
const stringifyOrPlaceholder = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? ""
  } catch {
    return "<not serialisable>"
  }
}

/** `new URL` as a value: a boundary with a throwing API. */
const parseUrl = (url: string): URL | undefined => {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}

const isLoopbackHost = (hostname: string): boolean => {
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1") return true
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}
