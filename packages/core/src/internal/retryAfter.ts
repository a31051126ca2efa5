/**
 * Parses the server's advertised retry delay from response headers, as openai-node does:
 * `retry-after-ms` (float milliseconds, honoured even when 0) wins; otherwise `retry-after` as float
 * seconds or an HTTP date. Entry point: `parseRetryAfter(headers, nowMillis)`.
 * Gotcha: every invalid value (negative, `inf`, `nan`, non-numeric, overflowing, an unparsable or past
 * date) yields `undefined`, so the caller falls back to the default backoff instead of crashing.
 */

/** An advertised delay and the header it came from. */
export interface RetryAfter {
  /** The advertised delay in milliseconds (finite, >= 0). */
  readonly delayMs: number
  /** Which header carried it. */
  readonly source: "retry-after-ms" | "retry-after"
}

// Plain decimal numbers only: `Number()` would also accept "0x10", "1e3", "Infinity" and "".
const decimal = /^\s*\d+(?:\.\d+)?\s*$/

const parseDecimal = (value: string, scale: number): number | undefined => {
  if (!decimal.test(value)) return undefined
  const ms = Number(value) * scale
  return Number.isFinite(ms) && ms <= Number.MAX_SAFE_INTEGER ? ms : undefined
}

// Only values that look like a date are parsed as one: `Date.parse("-5")` is a valid year.
const looksLikeDate = /^[A-Za-z]{3},\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}:\d{2}\s+GMT$/

const parseDate = (value: string, nowMillis: number): number | undefined => {
  const trimmed = value.trim()
  if (!looksLikeDate.test(trimmed)) return undefined
  const at = Date.parse(trimmed)
  if (!Number.isFinite(at)) return undefined
  const ms = at - nowMillis
  return ms >= 0 ? ms : undefined
}

/** Reads one header from a lower-cased header record. */
type HeaderLookup = (name: string) => string | undefined

/** The advertised delay, or `undefined` when neither header holds a valid value. */
export const parseRetryAfter = (header: HeaderLookup, nowMillis: number): RetryAfter | undefined => {
  const ms = header("retry-after-ms")
  if (ms !== undefined) {
    const delayMs = parseDecimal(ms, 1)
    if (delayMs !== undefined) return { delayMs, source: "retry-after-ms" }
  }
  const value = header("retry-after")
  if (value === undefined) return undefined
  const delayMs = parseDecimal(value, 1000) ?? parseDate(value, nowMillis)
  return delayMs === undefined ? undefined : { delayMs, source: "retry-after" }
}
