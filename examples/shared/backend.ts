/**
 * The backend every example runs against: the real API when `HAOAI_API_KEY` is set (base URL from
 * `HAOAI_BASE_URL`), otherwise the built-in `volley-local` model served on 127.0.0.1 (its notice goes
 * to stderr). `Backend` is the `ResponsesClient` layer for a program; `defaultModel` picks the model
 * id to match; `clientOver` / `inMemory` are what the examples' tests use instead of `Backend`.
 * Gotcha: `inMemory` has no socket, so it is fast, but socket faults (resets) need `clientOver`.
 */
import { ResponsesClient, type ResponsesError } from "@volley/core"
import { LocalModel, ResponsesServer, type ScriptedModel } from "@volley/testing"
import { Config, Effect, Layer, Option } from "effect"
import { displayUrl } from "./terminal.ts"

/** The model id used with a real API key when the example does not say otherwise. */
export const realModel = "openai/gpt-5.4-mini"

/** A client for a server layer: the server's base URL over a real undici connection. */
export const clientOver = <E>(
  server: Layer.Layer<ResponsesServer.ResponsesServer, E>
): Layer.Layer<
  ResponsesClient.ResponsesClient | ResponsesServer.ResponsesServer,
  E | ResponsesError.InvalidConfiguration
> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const found = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layerUndici({ baseUrl: found.baseUrl })
    })
  ).pipe(Layer.provideMerge(server))

/** A client over an in-memory server answering `script` (no socket; for fast tests). */
export const inMemory = (
  script: ReadonlyArray<ScriptedModel.Step> | ResponsesServer.Options
): Layer.Layer<
  ResponsesClient.ResponsesClient | ResponsesServer.ResponsesServer,
  ResponsesError.InvalidConfiguration
> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const found = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layer({ baseUrl: found.baseUrl })
    })
  ).pipe(Layer.provideMerge(ResponsesServer.layerHttpClient(script)))

/** The real API with a key, else volley-local on a loopback port (printing `LocalModel.notice` on stderr). */
export const Backend = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* Config.option(Config.Redacted("HAOAI_API_KEY"))
    if (Option.isSome(key)) {
      const baseUrl = yield* Config.String("HAOAI_BASE_URL").pipe(Config.withDefault(ResponsesClient.defaultBaseUrl))
      process.stderr.write(`volley: using ${displayUrl(baseUrl)}\n`)
      return ResponsesClient.layerConfig()
    }
    process.stderr.write(`${LocalModel.notice}\n`)
    return Layer.unwrap(
      Effect.gen(function* () {
        const server = yield* ResponsesServer.ResponsesServer
        return ResponsesClient.layerUndici({ baseUrl: server.baseUrl })
      })
    ).pipe(Layer.provide(LocalModel.layer()))
  })
)

/** `realModel` with an API key, `volley-local` without. */
export const defaultModel: Effect.Effect<string, Config.ConfigError> = Effect.map(
  Config.option(Config.Redacted("HAOAI_API_KEY")),
  (key) => (Option.isSome(key) ? realModel : LocalModel.modelName)
)
