/**
 * The backend every example's `main` runs against: `TestClient.layerConfigOrLocal()` from
 * `@volley/testing`, i.e. the real API when `HAOAI_API_KEY` (or `HAOAI_BASE_URL`) is set, otherwise
 * the built-in `volley-local` model served on 127.0.0.1 (its notice goes to stderr). `defaultModel`
 * picks the model id to match. The examples' tests use `TestClient.layer` / `layerServer` /
 * `layerLocal` directly. Gotcha: a non-loopback `HAOAI_BASE_URL` without a key fails with
 * `InvalidConfiguration` (one line from each example's `main`) instead of falling back silently.
 */
import { ResponsesClient } from "@volley/core"
import { LocalModel, TestClient } from "@volley/testing"
import { Config, Effect, Layer, Option } from "effect"
import { displayUrl } from "./terminal.ts"

/** The model id used with a real API key when the example does not say otherwise. */
export const realModel = "openai/gpt-5.4-mini"

/** The real API with a key, else volley-local on a loopback port (printing `LocalModel.notice` on stderr). */
export const Backend = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* Config.option(Config.Redacted("HAOAI_API_KEY"))
    if (Option.isSome(key)) {
      const baseUrl = yield* Config.String("HAOAI_BASE_URL").pipe(Config.withDefault(ResponsesClient.defaultBaseUrl))
      process.stderr.write(`volley: using ${displayUrl(baseUrl)}\n`)
    }
    return TestClient.layerConfigOrLocal()
  })
)

/** `realModel` with an API key, `volley-local` without. */
export const defaultModel: Effect.Effect<string, Config.ConfigError> = Effect.map(
  Config.option(Config.Redacted("HAOAI_API_KEY")),
  (key) => (Option.isSome(key) ? realModel : LocalModel.modelName)
)
