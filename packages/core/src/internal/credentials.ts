/**
 * The credential shapes behind `Redaction.redactCredentials`: URL user info, `sk-…`-style keys,
 * `Bearer`/`Basic` tokens and `password=…`-style pairs, plus `mayHoldCredential`, one scan that tells
 * whether any of them can match. Internal so the property test can compare the fast path with the
 * four replacements; the public module is Redaction.ts.
 * Gotcha: a new shape must also be added to `mayHoldCredential`, or text holding only it is skipped
 * (the property test in ResponsesClient.redaction.test.ts generates every shape's fragments).
 */

const urlCredentialsPattern = /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/?#@]*@/g
const keyPattern = /\b(?:sk|pk|rk|ak)-[A-Za-z0-9_-]{8,}/g
const bearerPattern = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi
// `authorization: Bearer x` keeps its scheme, like a bare bearer token
const keyValuePattern =
  /\b(api[_-]?key|password|passwd|secret|token|authorization)(\s*[=:]\s*)("?)((?:Bearer|Basic)\s+)?[^\s"&,;]+/gi

/**
 * What each shape needs somewhere in the text (`://`, a key prefix, a scheme and a space, a key word
 * then `=`/`:`), case-insensitive so it is a superset of all four. Text without it cannot change, so
 * one scan replaces four on the hot path, where a success response's id, model and status go through
 * on every call (about 0.5 → 0.2 µs per short string on this machine).
 */
const anyShape =
  /:\/\/|\b(?:sk|pk|rk|ak)-|\b(?:bearer|basic)\s|\b(?:api[_-]?key|password|passwd|secret|token|authorization)\s*[=:]/i

/** False when no credential shape can match anywhere in `text` (then `replaceCredentials` returns it unchanged). */
export const mayHoldCredential = (text: string): boolean => anyShape.test(text)

/** Replaces every credential shape in `text` with `placeholder` (keeping a URL's scheme and a token's scheme word). */
export const replaceCredentials = (text: string, placeholder: string): string =>
  text
    .replace(urlCredentialsPattern, `$1${placeholder}@`)
    .replace(keyPattern, placeholder)
    .replace(bearerPattern, `$1 ${placeholder}`)
    .replace(keyValuePattern, `$1$2$3$4${placeholder}`)
