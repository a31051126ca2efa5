/**
 * The record/replay fixture format: one JSON file per exchange (`0001.json`, `0002.json`, …) holding
 * the request body and the response (status, a few headers, and either the JSON `body`, the raw
 * `sse` text, or other `text`). Entry points: `write`, `readAll`, `redact`, `normalise`.
 * Gotcha: fixtures never hold request headers, and every configured secret, `sk-…` token and
 * `Bearer …` value is replaced by `<redacted>` before anything touches the disk.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** One recorded exchange. */
export interface Fixture {
  /** Format version, always 1. */
  readonly volleyFixture: 1
  readonly request: {
    readonly method: string
    readonly path: string
    readonly body: unknown
  }
  readonly response: {
    readonly status: number
    /** Only `content-type`, `x-request-id`, `retry-after` and `retry-after-ms` are kept. */
    readonly headers: Readonly<Record<string, string>>
    /** The JSON body (non-streaming answers and error bodies). */
    readonly body?: unknown
    /** The raw SSE text, byte for byte (streaming answers). */
    readonly sse?: string
    /** Any other body, as text. */
    readonly text?: string
  }
}

/** A fixture with the file it came from. */
export interface Loaded {
  readonly file: string
  readonly fixture: Fixture
}

/** Reading or writing fixtures failed. */
export class FixtureError extends Data.TaggedError("FixtureError")<{
  readonly message: string
  readonly path: string
}> {}

/** Response headers worth keeping in a fixture. */
export const keptHeaders: ReadonlyArray<string> = ["content-type", "x-request-id", "retry-after", "retry-after-ms"]

const tokenPatterns: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bsk-[A-Za-z0-9_-]{6,}/g, "<redacted>"],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer <redacted>"]
]

/** Replaces every secret (by value) and anything key-like with `<redacted>`. */
export const redact = (text: string, secrets: ReadonlyArray<string> = []): string => {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("<redacted>")
  for (const [pattern, replacement] of tokenPatterns) out = out.replace(pattern, replacement)
  return out
}

/** The file name of the n-th (1-based) exchange. */
export const fileName = (n: number): string => `${String(n).padStart(4, "0")}.json`

/** Writes a fixture (redacted) to `dir/NNNN.json`, creating `dir`. */
export const write = (dir: string, n: number, fixture: Fixture, secrets?: ReadonlyArray<string>) => {
  const file = path.join(dir, fileName(n))
  return Effect.tryPromise({
    try: async () => {
      await fs.mkdir(dir, { recursive: true })
      await fs.writeFile(file, `${redact(JSON.stringify(fixture, null, 2), secrets)}\n`, "utf8")
    },
    catch: (cause) => new FixtureError({ message: `could not write fixture: ${String(cause)}`, path: file })
  })
}

/** Reads every `*.json` fixture of `dir`, in file-name order. */
export const readAll = (dir: string): Effect.Effect<ReadonlyArray<Loaded>, FixtureError> =>
  Effect.tryPromise({
    try: async () => {
      const names = (await fs.readdir(dir)).filter((name) => name.endsWith(".json")).sort()
      const loaded: Array<Loaded> = []
      for (const name of names) {
        const fixture = JSON.parse(await fs.readFile(path.join(dir, name), "utf8")) as Fixture
        // boundary: inside tryPromise, a throw becomes the typed FixtureError below
        if (fixture.volleyFixture !== 1) throw new Error(`${name} is not a volley fixture (volleyFixture !== 1)`)
        loaded.push({ file: name, fixture })
      }
      return loaded
    },
    catch: (cause) => new FixtureError({ message: `could not read fixtures: ${String(cause)}`, path: dir })
  })

const idPattern = /^(resp|msg|fc|call|rs|fco|ws|fs|ci|mcp|ig|item|req|ctc|cu|lsh|sh)_[A-Za-z0-9_-]+$/
const ignoredKeys = new Set(["created_at", "completed_at"])

/**
 * A request body made comparable: ids (`msg_…`, `call_…`, …) become `<id:N>` by first appearance,
 * and timestamps (`created_at`, `completed_at`) are dropped. Keys are sorted.
 */
export const normalise = (value: unknown): unknown => {
  const seen = new Map<string, string>()
  const walk = (node: unknown): unknown => {
    if (typeof node === "string") {
      if (!idPattern.test(node)) return node
      const known = seen.get(node)
      if (known !== undefined) return known
      const placeholder = `<id:${seen.size + 1}>`
      seen.set(node, placeholder)
      return placeholder
    }
    if (Array.isArray(node)) return node.map(walk)
    if (typeof node === "object" && node !== null) {
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(node).sort()) {
        if (!ignoredKeys.has(key)) out[key] = walk((node as Record<string, unknown>)[key])
      }
      return out
    }
    return node
  }
  return walk(value)
}
