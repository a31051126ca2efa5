/**
 * The safe JSON parser (agrees with JSON.parse on valid JSON, strips prototype-pollution keys, reports
 * positions without echoing input) and the output helpers (redaction, byte caps).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { cutBytes, errorOutput, redact, truncate } from "../src/internal/output.ts"
import * as SafeJson from "../src/internal/safeJson.ts"
import * as Tool from "../src/Tool.ts"

describe("safe JSON", () => {
  it("nesting is bounded by Tool.maxArgumentsDepth: one level deeper fails, 100,000 levels do not overflow", () => {
    const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`
    assert.isTrue(Result.isSuccess(SafeJson.parse(nested(Tool.maxArgumentsDepth))))
    for (const levels of [Tool.maxArgumentsDepth + 1, 4000, 100_000]) {
      const parsed = SafeJson.parse(nested(levels))
      assert.isTrue(Result.isFailure(parsed), String(levels))
      if (Result.isFailure(parsed)) assert.include(parsed.failure.message, "deeper than 256 levels")
    }
  })

  it("agrees with JSON.parse on valid JSON (property)", () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const parsed = SafeJson.parse(text)
        return Result.isSuccess(parsed) && JSON.stringify(parsed.success) === JSON.stringify(JSON.parse(text))
      }),
      { seed: 3, numRuns: 500 }
    )
  })

  it("rejects what JSON.parse rejects (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (text) => {
        let valid = true
        try {
          JSON.parse(text)
        } catch {
          valid = false
        }
        return Result.isSuccess(SafeJson.parse(text)) === valid
      }),
      { seed: 5, numRuns: 2000 }
    )
  })

  it("D04 drops __proto__ everywhere and object-valued constructor/prototype keys", () => {
    const parsed = SafeJson.parse(
      '{"a":{"__proto__":{"p":1},"b":[{"__proto__":null,"constructor":{"prototype":{}},"k":1}]},"constructor":"ok"}'
    )
    assert.isTrue(Result.isSuccess(parsed))
    if (!Result.isSuccess(parsed)) return
    assert.strictEqual(JSON.stringify(parsed.success), '{"a":{"b":[{"k":1}]},"constructor":"ok"}')
    assert.isUndefined(({} as { p?: number }).p)
  })

  it("errors carry position, line and column, and never the input", () => {
    const parsed = SafeJson.parse('{\n  "a": 1,\n  "b": tru\n}')
    assert.isTrue(Result.isFailure(parsed))
    if (!Result.isFailure(parsed)) return
    assert.deepStrictEqual(parsed.failure, { message: "unexpected character 't'", position: 19, line: 3, column: 8 })
  })

  it("numbers: 1e999 is Infinity, -0 is -0, huge integers lose precision", () => {
    const parsed = SafeJson.parse("[1e999, -0, 12345678901234567890]")
    if (!Result.isSuccess(parsed)) return assert.fail("expected success")
    const [inf, zero, big] = parsed.success as Array<number>
    assert.strictEqual(inf, Infinity)
    assert.isTrue(Object.is(zero, -0))
    assert.isFalse(Number.isSafeInteger(big))
  })

  it("deep nesting is an error, not a stack overflow", () => {
    assert.isTrue(Result.isFailure(SafeJson.parse("[".repeat(100_000))))
  })
})

describe("output helpers", () => {
  it("redacts URL credentials, API keys, bearer tokens and key=value secrets", () => {
    assert.strictEqual(redact("postgres://user:pw@host/db"), "postgres://<redacted>@host/db")
    assert.strictEqual(redact("key sk-volley-CANARY-abcdef123"), "key <redacted>")
    assert.notInclude(redact("Authorization: Bearer abc.def"), "abc.def")
    assert.strictEqual(redact("got Bearer abc.def back"), "got Bearer <redacted> back")
    assert.strictEqual(redact("password=hunter2 next"), "password=<redacted> next")
    assert.strictEqual(redact("plain text"), "plain text")
  })

  it("error outputs are exactly {error:{type,message}} and at most 2 KiB", () => {
    const output = errorOutput("tool_error", "😀".repeat(2000))
    assert.isAtMost(Buffer.byteLength(output), 2048)
    assert.deepStrictEqual(Object.keys(JSON.parse(output).error), ["type", "message"])
  })

  it("cuts never split a character (4-byte and 3-byte)", () => {
    for (let n = 0; n < 12; n++) {
      const cut = cutBytes("😀€a😀", n)
      assert.isAtMost(Buffer.byteLength(cut), n)
      assert.notInclude(cut, "\uFFFD")
    }
    assert.deepStrictEqual(truncate("short", 1000), { text: "short", truncated: false })
  })
})
