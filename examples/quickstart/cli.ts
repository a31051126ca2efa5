/**
 * The demo's command line, as pure functions: `parseArgs` (flags and prompt), `describeError` (the
 * one short stderr line for each way a run can fail) and `makeStyle` (colours only when allowed).
 * `main.ts` wires them to the agent. Gotcha: messages never include an API key: every error text
 * used here was built redacted by `@volley/core`.
 */
import type { AgentError } from "@volley/agent"
import type { ResponsesError } from "@volley/core"

/** The default question when no prompt is given. */
export const defaultPrompt = "What's the weather like in Paris and Tokyo right now?"

/** Parsed command line. */
export interface Args {
  readonly stream: boolean
  readonly maxTurns: number | undefined
  readonly model: string | undefined
  readonly prompt: string
  /** `--otlp URL`: export traces and GenAI metrics to this OTLP/HTTP collector (absent: none). */
  readonly otlp?: string
  /** `--durable --run-id ID [--data-dir D]`: run durably on an embedded Postgres; rerunning resumes. */
  readonly durable?: { readonly runId: string; readonly dataDir?: string }
}

/** Usage text. */
export const usage =
  'usage: npm run --silent demo -- [--no-stream] [--max-turns N] [--model ID] [--otlp URL] [--trace] [--durable --run-id ID [--data-dir D]] ["<prompt>"]'

/** Parses argv (without node and script); a string is a usage error message. */
export const parseArgs = (argv: ReadonlyArray<string>): Args | string => {
  let stream = true
  let maxTurns: number | undefined
  let model: string | undefined
  let otlp: string | undefined
  let durable = false
  let runId: string | undefined
  let dataDir: string | undefined
  const words: Array<string> = []
  let rest = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (rest) words.push(arg)
    else if (arg === "--") rest = true
    else if (arg === "--no-stream") stream = false
    else if (arg === "--stream") stream = true
    else if (arg === "--max-turns" || arg.startsWith("--max-turns=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i]
      const n = Number(value)
      if (value === undefined || !Number.isInteger(n) || n < 1)
        return `--max-turns needs a positive integer, got ${value ?? "nothing"}`
      maxTurns = n
    } else if (arg === "--model" || arg.startsWith("--model=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i]
      if (value === undefined || value === "") return "--model needs a model id"
      model = value
    } else if (arg === "--otlp" || arg.startsWith("--otlp=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i]
      if (value === undefined || !/^https?:\/\/[^\s]+$/.test(value))
        return "--otlp needs a collector URL (http://host:4318)"
      otlp = value
    } else if (arg === "--durable") durable = true
    else if (arg === "--run-id" || arg.startsWith("--run-id=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i]
      if (value === undefined || !/^[\w.:-]{1,128}$/.test(value))
        return "--run-id needs an id (letters, digits, . _ : -, at most 128)"
      runId = value
    } else if (arg === "--data-dir" || arg.startsWith("--data-dir=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i]
      if (value === undefined || value === "") return "--data-dir needs a folder"
      dataDir = value
    } else if (arg.startsWith("--")) return `unknown option ${arg}`
    else words.push(arg)
  }
  const prompt = words.join(" ").trim()
  if (durable && runId === undefined) return "--durable needs --run-id ID (rerun with the same id to resume)"
  if (!durable && (runId !== undefined || dataDir !== undefined)) return "--run-id and --data-dir need --durable"
  return {
    stream,
    maxTurns,
    model,
    prompt: prompt === "" ? defaultPrompt : prompt,
    ...(otlp === undefined ? {} : { otlp }),
    ...(runId === undefined ? {} : { durable: dataDir === undefined ? { runId } : { runId, dataDir } })
  }
}

const httpError = (error: ResponsesError.ResponsesError): string | undefined => {
  switch (error._tag) {
    case "AuthenticationError":
      return `authentication failed (HTTP ${error.status}): ${error.message}`
    case "RateLimitError":
      return `rate limited (HTTP 429) after ${error.attempts} attempt${error.attempts === 1 ? "" : "s"}: ${error.message}`
    case "QuotaExhaustedError":
      return `quota exhausted (HTTP ${error.status}): ${error.message}`
    case "InvalidRequestError":
    case "InternalProviderError":
      return `the API answered HTTP ${error.status}: ${error.message}`
    case "ResponseFailed":
      return `the model failed: ${error.message}`
    case "NetworkError":
      return `network error (${error.phase}): ${error.message}`
    case "RequestTimeout":
      return `timed out (${error.phase}): ${error.message}`
    default:
      return undefined
  }
}

/** The one-line description of a failed run. */
export const describeError = (error: AgentError.AgentError): string => {
  switch (error._tag) {
    case "MaxTurnsExceeded":
      return `turn limit of ${error.limit} reached`
    case "ModelError":
      return httpError(error.error) ?? `${error.error._tag}: ${error.error.message}`
    case "Refused":
      return `the model refused: ${error.text}`
    case "Truncated":
      return `the answer was cut off (${error.reason})`
    default:
      return `${error._tag}: ${error.message}`
  }
}

/** Colour helpers; identity functions when colour is off. */
export interface Style {
  readonly dim: (text: string) => string
  readonly accent: (text: string) => string
  readonly error: (text: string) => string
}

/** Colours only when NO_COLOR is unset and both streams are terminals. */
export const makeStyle = (
  env: Readonly<Record<string, string | undefined>>,
  stdoutTty: boolean,
  stderrTty: boolean
): Style => {
  const on = (env.NO_COLOR === undefined || env.NO_COLOR === "") && stdoutTty && stderrTty
  const wrap = (code: string) => (text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text)
  return { dim: wrap("2"), accent: wrap("36"), error: wrap("31") }
}

/** Shortens a tool argument or output for a progress line. */
export const clip = (text: string, max = 120): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)
