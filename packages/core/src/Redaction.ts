/**
 * `Redaction`: the one secret redaction of every Volley package, with one placeholder (`<redacted>`)
 * and one set of credential shapes (internal/credentials.ts). `redactCredentials` removes what looks like a credential (URL
 * user info, `sk-…`-style keys, `Bearer`/`Basic` tokens, `password=…`-style pairs); `redactText`
 * also removes configured secrets by value (and their last 8 characters); `excerpt` redacts then cuts
 * to 1 KiB of UTF-8; `redactedHeaderNames` never leave the process in logs or spans. Secrets are
 * matched with plain string search, never by building a RegExp from data (G07's static scan forbids it).
 * Gotcha: redact *before* truncating, or a secret cut in half at the boundary survives.
 */
import { mayHoldCredential, replaceCredentials } from "./internal/credentials.ts"

/** Headers whose values are never logged, traced or put on errors (docs/reliability.md, Defaults: Redaction). */
export const redactedHeaderNames: ReadonlyArray<string> = [
  "authorization",
  "api-key",
  "x-api-key",
  "x-amz-security-token",
  "cookie",
  "set-cookie"
]

/** What a redacted value is replaced with. */
export const placeholder = "<redacted>"

/** Default maximum size of a message excerpt, in UTF-8 bytes (1 KiB). */
export const maxExcerptBytes = 1024

/** Secrets shorter than this are not redacted by value (too likely to hit ordinary text). */
const minSecretLength = 6
/** Secrets at least this long also have their last 8 characters redacted (servers echo key suffixes). */
const minSuffixSecretLength = 16
const suffixLength = 8

/** Removes credential shapes from free text: URL user info, API-key-looking tokens, bearer tokens, `password=…`. */
export const redactCredentials = (text: string): string =>
  mayHoldCredential(text) ? replaceCredentials(text, placeholder) : text

/** The values `redactText` looks for, longest first, including each long secret's last 8 characters. */
export const secretNeedles = (secrets: Iterable<string>): ReadonlyArray<string> => {
  const needles = new Set<string>()
  for (const secret of secrets) {
    if (secret.length < minSecretLength) continue
    needles.add(secret)
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret) needles.add(encoded)
    if (secret.length >= minSuffixSecretLength) needles.add(secret.slice(-suffixLength))
  }
  return [...needles].sort((a, b) => b.length - a.length)
}

/** Replaces every configured secret (by value), its last 8 characters, and credential shapes in `text`. */
export const redactText = (text: string, secrets: Iterable<string>): string => redactWith(text, secretNeedles(secrets))

/** `redactText` with needles prepared once by `secretNeedles` (for hot paths). */
export const redactWith = (text: string, needles: ReadonlyArray<string>): string => {
  let out = text
  for (const needle of needles) if (out.includes(needle)) out = out.split(needle).join(placeholder)
  return redactCredentials(out)
}

/** Deepest nesting `redactDeep` walks; a deeper subtree is replaced whole by `deepPlaceholder`. */
export const maxRedactDepth = 64

/** What replaces a subtree nested deeper than `maxRedactDepth` (it cannot be checked, so it is not kept). */
export const deepPlaceholder = "<redacted: nested too deep>"

/**
 * A copy of JSON-like `value` with `redactWith` applied to every string in it (keys included).
 * Depth-bounded: an object or array below `maxRedactDepth` levels becomes `deepPlaceholder`, so a
 * secret hidden deeper is removed rather than passed through unchecked.
 */
export const redactDeep = <A>(value: A, needles: ReadonlyArray<string>): A => redactValue(value, needles, 0) as A

const redactValue = (value: unknown, needles: ReadonlyArray<string>, depth: number): unknown => {
  if (typeof value === "string") return redactWith(value, needles)
  if (typeof value !== "object" || value === null) return value
  if (depth >= maxRedactDepth) return deepPlaceholder
  if (Array.isArray(value)) return value.map((item) => redactValue(item, needles, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) out[redactWith(key, needles)] = redactValue(item, needles, depth + 1)
  return out
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character; appends `…` when cut. */
export const truncateUtf8 = (text: string, maxBytes: number): string => {
  const bytes = Buffer.byteLength(text, "utf8")
  if (bytes <= maxBytes) return text
  const budget = Math.max(0, maxBytes - 3) // room for the ellipsis (3 bytes)
  let used = 0
  let end = 0
  for (const char of text) {
    const size = Buffer.byteLength(char, "utf8")
    if (used + size > budget) break
    used += size
    end += char.length
  }
  return `${text.slice(0, end)}…`
}

/** Redacts `text`, then truncates it to at most `maxBytes` (default 1 KiB) UTF-8 bytes. */
export const excerpt = (text: string, secrets: Iterable<string>, maxBytes: number = maxExcerptBytes): string =>
  truncateUtf8(redactText(text, secrets), maxBytes)

/** True when `name` (any case) is in `redactedHeaderNames` or in `extra`. */
export const isRedactedHeader = (name: string, extra: ReadonlyArray<string> = []): boolean => {
  const lower = name.toLowerCase()
  return redactedHeaderNames.includes(lower) || extra.some((other) => other.toLowerCase() === lower)
}

/** A copy of `headers` with every redacted header's value replaced by `<redacted>`. */
export const redactHeaders = (
  headers: Readonly<Record<string, string>>,
  extra: ReadonlyArray<string> = []
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) out[name] = isRedactedHeader(name, extra) ? placeholder : value
  return out
}
