/**
 * A `ResponsesClient` pointed at a local server in one line, for tests and programs without an API
 * key. `layer(script)` answers in memory (no socket, exact chunk boundaries, fastest);
 * `layerServer(script)` starts the real loopback server and connects over undici (needed for socket
 * faults such as resets); `layerLocal()` is `layerServer` answering with volley-local. Each also gives
 * the `ResponsesServer` service, for assertions on the recorded requests. `layerConfigOrLocal()` is
 * what an example's `main` uses: the real API when `HAOAI_API_KEY` or `HAOAI_BASE_URL` is set,
 * volley-local otherwise. Gotcha: the in-memory server's base URL is `http://localhost/v1`, which
 * only its own `HttpClient` can reach.
 */
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as LocalModel from "./LocalModel.ts"
import * as ResponsesServer from "./ResponsesServer.ts"
import type * as ScriptedModel from "./ScriptedModel.ts"
import { ResponsesClient, type ResponsesError } from "@volley/core"

/** The scripted turns, or the full server options (script, fallback, handler, chaos, …). */
export type Script = ReadonlyArray<ScriptedModel.Step> | ResponsesServer.Options

/** Client settings other than where it connects (retry policy, timeouts, headers, …). */
export type ClientOptions = Omit<ResponsesClient.Options, "baseUrl">

/** What the test layers give: the client, and the server it talks to. */
export type Services = ResponsesClient.ResponsesClient | ResponsesServer.ResponsesServer

/** A client over an in-memory server answering `script`: no socket, so it is fast and deterministic. */
export const layer = (
  script: Script,
  options: ClientOptions = {}
): Layer.Layer<Services, ResponsesError.InvalidConfiguration> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layer({ ...options, baseUrl: server.baseUrl })
    })
  ).pipe(Layer.provideMerge(ResponsesServer.layerHttpClient(script)))

/** A client over undici to a real server on 127.0.0.1 answering `script` (closed with the layer). */
export const layerServer = (
  script: Script,
  options: ClientOptions = {}
): Layer.Layer<Services, ResponsesError.InvalidConfiguration> => over(ResponsesServer.layer(script), options)

/** `layerServer` answering every request with volley-local, the rule-based stand-in model. */
export const layerLocal = (options: ClientOptions = {}): Layer.Layer<Services, ResponsesError.InvalidConfiguration> =>
  over(LocalModel.layer(), options)

/**
 * The real API through `ResponsesClient.layerConfig` when `HAOAI_API_KEY` or `HAOAI_BASE_URL` is set
 * (so a base URL without a key fails with one `InvalidConfiguration` unless it is loopback), otherwise
 * volley-local on 127.0.0.1, announced by `LocalModel.notice` on stderr.
 */
export const layerConfigOrLocal = (
  options: ClientOptions = {}
): Layer.Layer<ResponsesClient.ResponsesClient, ResponsesError.InvalidConfiguration | Config.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const key = yield* Config.option(Config.Redacted("HAOAI_API_KEY"))
      const baseUrl = yield* Config.option(Config.String("HAOAI_BASE_URL"))
      // layerConfig reads the key from configuration: a key given in `options` is not used there
      if (Option.isSome(key) || Option.isSome(baseUrl))
        return ResponsesClient.layerConfig({ ...options, apiKey: undefined })
      yield* Console.error(LocalModel.notice)
      return layerLocal(options)
    })
  )

/** A client over undici to the server `server` gives, with the server kept in the output. */
const over = <E>(
  server: Layer.Layer<ResponsesServer.ResponsesServer, E>,
  options: ClientOptions
): Layer.Layer<Services, E | ResponsesError.InvalidConfiguration> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const found = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layerUndici({ ...options, baseUrl: found.baseUrl })
    })
  ).pipe(Layer.provideMerge(server))
