/**
 * Building what the model sees: redaction of secrets, the `{"error":{"type":…,"message":…}}` error
 * output capped at 2 KiB, truncation of large outputs at a UTF-8 byte cap with a note giving the
 * original size, and JSON stringification that reports circular values and BigInts instead of throwing.
 * Gotcha: caps are in UTF-8 bytes, and a cut never splits a character.
 */
import { Redaction } from "@volley/core"
import * as Result from "effect/Result"

/** Maximum size of an error output, in bytes. */
export const MAX_ERROR_BYTES = 2048

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: false })

/** Size of a string in UTF-8 bytes. */
export const byteLength = (text: string): number => Buffer.byteLength(text, "utf8")

/** Remove credentials from free text with core's one redaction (`Redaction.redactCredentials`, `<redacted>`). */
export const redact = (text: string): string => Redaction.redactCredentials(text)

/** Cut a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
export const cutBytes = (text: string, maxBytes: number): string => {
  if (maxBytes <= 0) return ""
  if (text.length <= maxBytes / 3) return text
  const bytes = encoder.encode(text)
  if (bytes.length <= maxBytes) return text
  let end = maxBytes
  // back off continuation bytes (10xxxxxx) so the cut lands on a character boundary
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return decoder.decode(bytes.subarray(0, end))
}

/** The error output sent to the model: exactly `{"error":{"type":…,"message":…}}`, redacted, ≤ 2 KiB. */
export const errorOutput = (type: string, message: string): string => {
  const clean = redact(message)
  const full = JSON.stringify({ error: { type, message: clean } })
  if (byteLength(full) <= MAX_ERROR_BYTES) return full
  const overhead = byteLength(JSON.stringify({ error: { type, message: "" } })) + 16
  let budget = MAX_ERROR_BYTES - overhead
  for (;;) {
    const candidate = JSON.stringify({ error: { type, message: `${cutBytes(clean, budget)} …` } })
    if (byteLength(candidate) <= MAX_ERROR_BYTES || budget <= 0) return candidate
    budget -= byteLength(candidate) - MAX_ERROR_BYTES
  }
}

/** A tool output cut to `maxBytes`, with a note giving the original size, or the text unchanged. */
export const truncate = (text: string, maxBytes: number): { readonly text: string; readonly truncated: boolean } => {
  if (text.length <= maxBytes / 3) return { text, truncated: false }
  const size = byteLength(text)
  if (size <= maxBytes) return { text, truncated: false }
  const note = `\n[output truncated by Volley: ${size} bytes in total, the first ${maxBytes} bytes are shown]`
  const kept = cutBytes(text, Math.max(0, maxBytes - byteLength(note)))
  return { text: `${kept}${note}`, truncated: true }
}

/** `JSON.stringify` that fails with a reason on circular values, BigInts and values with no JSON form. */
export const stringify = (value: unknown): Result.Result<string, string> => {
  // Boundary: JSON.stringify throws on circular structures and BigInt; turned into a Result here.
  try {
    const text = JSON.stringify(value)
    return typeof text === "string" ? Result.succeed(text) : Result.fail("the value has no JSON representation")
  } catch (error) {
    return Result.fail(error instanceof Error ? error.message : "the value could not be serialised")
  }
}

/** Clip a string to `max` characters for messages (never echo long model text back). */
export const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max)}…`)
