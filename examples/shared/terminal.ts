/**
 * What the examples may print to a terminal from untrusted sources: `safeText` drops control
 * characters from server or model text (escape sequences could retitle the window, clear the screen or
 * forge links), and `displayUrl` shows a base URL as scheme, host and path only (user info and query
 * may carry credentials). Both are pure. Gotcha: `safeText` works per character, not per escape
 * sequence, so a sequence split across two deltas is still neutralised; its printable rest (`[31m`)
 * stays visible, harmlessly.
 */

// C0 controls except tab (U+0009) and newline (U+000A), DEL, C1 controls, and the bidirectional
// overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder what a terminal shows.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const control = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/** `text` without control characters; newlines and tabs are kept. */
export const safeText = (text: string): string => text.replace(control, "")

/** Scheme, host (with port) and path of `url`; never its user info, query or fragment. */
export const displayUrl = (url: string): string => {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  return parsed === undefined
    ? "(an unparsable base URL)"
    : safeText(`${parsed.protocol}//${parsed.host}${parsed.pathname}`)
}
