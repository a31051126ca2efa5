import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// The static scan of scripts/static-scan.mjs (part of G07, docs/reliability.md) run on throw-away trees.
const scanner = new URL("../../../scripts/static-scan.mjs", import.meta.url).pathname

const scan = (files: Record<string, string>) => {
  const root = mkdtempSync(join(tmpdir(), "volley-scan-"))
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, "packages", "demo", "src", path)
    mkdirSync(join(full, ".."), { recursive: true })
    writeFileSync(full, text)
  }
  const result = spawnSync(process.execPath, [scanner, root], { encoding: "utf8" })
  return { status: result.status, stderr: result.stderr }
}

describe("static security scan", () => {
  it("passes clean sources, literal patterns and escaped patterns", () => {
    const result = scan({
      "ok.ts": [
        'const a = new RegExp("^[a-z]+$")',
        "const t = new RegExp(`^plain template$`)",
        "const b = /x/",
        "const c = new RegExp(escapeRegExp(userText))",
        "// eval(comment) is fine",
        "const medieval = retrieval(1)"
      ].join("\n")
    })
    assert.strictEqual(result.status, 0, result.stderr)
  })

  it("lists a line that opts out with a reason, and still fails an opt-out without one", () => {
    const ok = scan({
      "schema.ts": 'const r = new RegExp(schema.pattern, "u") // static-scan-allow: developer-written schema pattern\n'
    })
    assert.strictEqual(ok.status, 0, ok.stderr)
    assert.include(ok.stderr, "allowed: developer-written schema pattern")
    const bare = scan({ "schema.ts": "const r = new RegExp(schema.pattern) // static-scan-allow:\n" })
    assert.strictEqual(bare.status, 1)
  })

  for (const [name, line] of [
    ["eval", "const x = eval(modelText)"],
    ["new Function", "const f = new Function('a', body)"],
    ["vm.run*", "vm.runInNewContext(code, {})"],
    ["RegExp from data", "const r = new RegExp(toolOutput)"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the scanned source text contains a template
    ["RegExp from data", "const r = new RegExp(`\\b${word}\\b`, 'u')"]
  ] as const) {
    it(`fails on ${name}, naming the file and line`, () => {
      const result = scan({ "nested/bad.ts": `const ok = 1\n${line}\n` })
      assert.strictEqual(result.status, 1)
      assert.include(result.stderr, "bad.ts:2")
      assert.include(result.stderr, name)
    })
  }
})
