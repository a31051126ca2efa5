/**
 * The shared redaction helpers (`Redaction.ts`, exported as `Redaction`): secrets by value,
 * their URL-encoded form and last 8 characters, credential shapes (keys, bearer and basic tokens, URL
 * user info, `password=…`), excerpts that redact
 * before cutting, UTF-8-safe truncation and the header list.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Redaction from "../src/Redaction.ts"
import { replaceCredentials } from "../src/internal/credentials.ts"

const secret = "sk-volley-CANARY-abcdefghijklmnop"

describe("Redaction", () => {
  it("G01 redactText removes a secret, its URL-encoded form and its last 8 characters", () => {
    const custom = "gw secret/with+chars=="
    const text = `key=${secret} enc=${encodeURIComponent(custom)} raw=${custom} tail=…${secret.slice(-8)}`
    const out = Redaction.redactText(text, [secret, custom])
    assert.notInclude(out, secret)
    assert.notInclude(out, secret.slice(-8))
    assert.notInclude(out, custom)
    assert.notInclude(out, encodeURIComponent(custom))
    assert.include(out, "<redacted>")
  })

  it("G01 redactText also removes unconfigured key-shaped tokens and bearer tokens", () => {
    const out = Redaction.redactText("use sk-proj-AAAAbbbbCCCC1234 or Authorization: Bearer abc.def-ghi_jkl", [])
    assert.notInclude(out, "sk-proj-AAAAbbbbCCCC1234")
    assert.notInclude(out, "abc.def-ghi_jkl")
    assert.include(out, "Bearer <redacted>")
  })

  it("one pattern set for every package: URL user info, Basic tokens and password=… pairs, all as <redacted>", () => {
    assert.strictEqual(Redaction.redactCredentials("postgres://user:pw@host/db"), "postgres://<redacted>@host/db")
    assert.strictEqual(Redaction.redactCredentials("got Basic dXNlcjpwdw== back"), "got Basic <redacted> back")
    assert.strictEqual(Redaction.redactCredentials("password=hunter2 next"), "password=<redacted> next")
    assert.strictEqual(Redaction.redactCredentials("Authorization: Bearer abc.def"), "Authorization: Bearer <redacted>")
    assert.strictEqual(Redaction.redactCredentials("plain text, 5 tokens: fine"), "plain text, 5 tokens: fine")
    // the client's redaction (redactWith) applies the same shapes after the configured secrets
    assert.strictEqual(
      Redaction.redactWith("see https://me:secretpw@example.test/x", []),
      "see https://<redacted>@example.test/x"
    )
  })

  it("G01 redactDeep redacts every string of a JSON-like value, keys included", () => {
    const value = { a: [secret, { [secret]: `x ${secret}` }], n: 1, z: null }
    const out = Redaction.redactDeep(value, Redaction.secretNeedles([secret]))
    assert.notInclude(JSON.stringify(out), secret)
    assert.strictEqual(out.n, 1)
    assert.isNull(out.z)
  })

  it("short secrets are not redacted by value (they would mangle ordinary text)", () => {
    assert.strictEqual(Redaction.redactText("a 1 b", ["1"]), "a 1 b")
  })

  it("excerpt redacts before it truncates, so a secret across the 1 KiB boundary does not survive in part", () => {
    const text = `${"x".repeat(1010)}${secret}${"y".repeat(100)}`
    const out = Redaction.excerpt(text, [secret])
    assert.isAtMost(Buffer.byteLength(out, "utf8"), 1024)
    assert.notInclude(out, secret.slice(0, 12))
  })

  it("truncateUtf8 never splits a multi-byte character", () => {
    const out = Redaction.truncateUtf8("🌍".repeat(100), 10)
    assert.isAtMost(Buffer.byteLength(out, "utf8"), 10)
    assert.notInclude(out, "\uFFFD")
    assert.strictEqual(out, "🌍…")
  })

  it("isRedactedHeader matches the list case-insensitively, plus extra names", () => {
    assert.isTrue(Redaction.isRedactedHeader("Authorization"))
    assert.isTrue(Redaction.isRedactedHeader("X-Amz-Security-Token"))
    assert.isFalse(Redaction.isRedactedHeader("x-gateway-key"))
    assert.isTrue(Redaction.isRedactedHeader("X-Gateway-Key", ["x-gateway-key"]))
  })
})

describe("Redaction properties", () => {
  // the fast path skips text that no shape can match: it must never skip one that would
  const fragment = fc.constantFrom(
    "://",
    ":/",
    "http",
    "postgres://u:p@h",
    "@",
    "sk-",
    "SK-",
    "pk-",
    "rk-",
    "ak-",
    "abcdefgh12",
    "Bearer",
    "bearer",
    "BASIC",
    "Basic",
    " ",
    "\t",
    "\n",
    "api_key",
    "API-KEY",
    "apikey",
    "password",
    "Passwd",
    "secret",
    "token",
    "Authorization",
    "=",
    ":",
    '"',
    "x",
    "-",
    "_",
    "é",
    "0"
  )
  it("redactCredentials agrees with the four replacements on any mix of shape fragments", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fragment, fc.string({ maxLength: 4 })), { maxLength: 12 }), (parts) => {
        const text = parts.join("")
        return Redaction.redactCredentials(text) === replaceCredentials(text, Redaction.placeholder)
      }),
      { numRuns: 5000 }
    )
  })

  it("G01 a configured secret placed anywhere in random text never survives redactText or excerpt", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 0, max: 3000 }), (before, after, pad) => {
        const text = `${before}${"z".repeat(pad)}${secret}${after}`
        const redacted = Redaction.redactText(text, [secret])
        const cut = Redaction.excerpt(text, [secret])
        return (
          !redacted.includes(secret) &&
          !redacted.includes(secret.slice(-8)) &&
          !cut.includes(secret.slice(-8)) &&
          Buffer.byteLength(cut, "utf8") <= 1024
        )
      }),
      { numRuns: 500 }
    )
  })
})
