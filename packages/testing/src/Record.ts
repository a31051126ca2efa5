/**
 * Record mode: the local server proxies each request to a real Responses API (`upstream`, e.g.
 * `https://api.hao.ai/v1`) and writes every exchange as a fixture (see `Fixture`), streaming the
 * answer through to the client as it arrives. Entry points: `handler(options)`, `layer(options)`,
 * `layerConfig(dir)` (reads `HAOAI_BASE_URL` and `HAOAI_API_KEY`). Gotcha: the key is sent only
 * upstream; fixtures never contain it (request headers are not stored, secrets are redacted by value).
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Fixture from "./Fixture.ts"
import { type Action, type Handler, jsonActions, plan, ScriptIncomplete } from "./Handler.ts"
import * as ResponsesServer from "./ResponsesServer.ts"

/** Where to forward and where to write. */
export interface Options {
  /** The real API's base URL, ending in `/v1`. */
  readonly upstream: string
  /** The directory fixtures are written to (created if missing). */
  readonly dir: string
  /** The key sent upstream; without it, the client's own `Authorization` header is forwarded. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** More values to redact from fixtures. */
  readonly secrets?: ReadonlyArray<string> | undefined
}

/** A handler proxying to `upstream` and writing one fixture per exchange. */
export const handler = (options: Options): Handler => {
  let count = 0
  const failures: Array<string> = []
  const upstream = options.upstream.replace(/\/+$/, "")
  return {
    handle: (_body, request) =>
      Effect.gen(function* () {
        const n = ++count
        const clientAuth = request.headers.authorization
        const secrets = [
          ...(options.secrets ?? []),
          ...(options.apiKey === undefined ? [] : [Redacted.value(options.apiKey)]),
          ...(clientAuth === undefined ? [] : [clientAuth.replace(/^Bearer\s+/i, "")])
        ]
        const auth = options.apiKey === undefined ? clientAuth : `Bearer ${Redacted.value(options.apiKey)}`
        const response = yield* Effect.tryPromise({
          try: (signal) =>
            fetch(`${upstream}/responses`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                accept: request.headers.accept ?? "*/*",
                ...(auth === undefined ? {} : { authorization: auth })
              },
              body: request.rawBody,
              signal
            }),
          catch: (cause) => Fixture.redact(String(cause), secrets)
        }).pipe(Effect.result)
        if (response._tag === "Failure") {
          failures.push(`request #${request.index}: upstream unreachable (${response.failure})`)
          return plan(
            jsonActions(502, {
              error: {
                message: "volley-testing record: upstream unreachable",
                type: "upstream_error",
                param: null,
                code: null
              }
            })
          )
        }
        const upstreamResponse = response.success
        const headers: Record<string, string> = {}
        for (const name of Fixture.keptHeaders) {
          const value = upstreamResponse.headers.get(name)
          if (value !== null) headers[name] = value
        }
        const chunks: Array<Uint8Array> = []
        const head: Action = { _tag: "Head", status: upstreamResponse.status, headers }
        const body =
          upstreamResponse.body === null
            ? Stream.empty
            : Stream.fromReadableStream({
                evaluate: () => upstreamResponse.body!,
                onError: (cause) => cause
              }).pipe(
                Stream.tap((chunk) => Effect.sync(() => chunks.push(chunk))),
                Stream.map((chunk): Action => ({ _tag: "Write", chunk })),
                Stream.catch(() => Stream.succeed<Action>({ _tag: "Reset" }))
              )
        const save = Effect.suspend(() =>
          Fixture.write(
            options.dir,
            n,
            toFixture(
              request.path,
              request.rawBody,
              upstreamResponse.status,
              headers,
              Buffer.concat(chunks).toString("utf8")
            ),
            secrets
          )
        ).pipe(
          Effect.catch((error) => Effect.sync(() => failures.push(`request #${request.index}: ${error.message}`))),
          Effect.as<Action>({ _tag: "End" })
        )
        return Stream.concat(Stream.succeed(head), Stream.concat(body, Stream.fromEffect(save)))
      }),
    check: Effect.sync(() =>
      failures.length === 0
        ? undefined
        : new ScriptIncomplete({
            message: failures.join("; "),
            unusedTurns: 0,
            extraRequests: 0,
            problems: [...failures]
          })
    )
  }
}

/** A local server in record mode. */
export const layer = (
  options: Options & Omit<ResponsesServer.Options, "script" | "fallback" | "handler">
): Layer.Layer<ResponsesServer.ResponsesServer> =>
  // a fresh handler (fixture counter) per build of the layer
  Layer.unwrap(Effect.sync(() => ResponsesServer.layer({ ...options, handler: handler(options) })))

/** Record mode against `HAOAI_BASE_URL` with the key from `HAOAI_API_KEY`, writing to `dir`. */
export const layerConfig = (dir: string): Layer.Layer<ResponsesServer.ResponsesServer, Config.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const upstream = yield* Config.String("HAOAI_BASE_URL").pipe(Config.withDefault("https://api.hao.ai/v1"))
      const apiKey = yield* Config.Redacted("HAOAI_API_KEY")
      return layer({ upstream, apiKey, dir })
    })
  )

const toFixture = (
  path: string,
  rawBody: string,
  status: number,
  headers: Readonly<Record<string, string>>,
  text: string
): Fixture.Fixture => {
  const contentType = headers["content-type"] ?? ""
  const response = contentType.includes("event-stream")
    ? { status, headers, sse: text }
    : parse(text) !== undefined
      ? { status, headers, body: parse(text) }
      : { status, headers, text }
  return { volleyFixture: 1, request: { method: "POST", path, body: parse(rawBody) ?? rawBody }, response }
}

const parse = (text: string): unknown => {
  try {
    // boundary: upstream bodies are arbitrary text; non-JSON is stored as `text`
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
