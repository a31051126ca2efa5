import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// scripts/doc-check.mjs (module headers and a doc comment on every export), run on throw-away trees.
const checker = new URL("../../../scripts/doc-check.mjs", import.meta.url).pathname

const check = (files: Record<string, string>) => {
  const root = mkdtempSync(join(tmpdir(), "volley-docs-"))
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, "packages", "demo", "src", path)
    mkdirSync(join(full, ".."), { recursive: true })
    writeFileSync(full, text)
  }
  return spawnSync(process.execPath, [checker, root], { encoding: "utf8" })
}

describe("doc check", () => {
  it("passes a documented module", () => {
    const result = check({
      "Good.ts":
        '/**\n * A module.\n */\nimport x from "y"\n\n/** A value. */\nexport const a = x\n/** A type. */\nexport type B = string\n'
    })
    assert.strictEqual(result.status, 0, result.stderr)
  })

  it("fails a module without a header and an export without a doc comment, naming each", () => {
    const result = check({
      "internal/Bad.ts": 'import x from "y"\n\nexport const a = x\n',
      "Half.ts": "/** Header. */\n\n/** Documented. */\nexport const a = 1\n\nexport interface Naked {}\n"
    })
    assert.strictEqual(result.status, 1)
    assert.include(result.stderr, "Bad.ts:1: no module header")
    assert.include(result.stderr, "Bad.ts:3: export without a doc comment")
    assert.include(result.stderr, "Half.ts:6: export without a doc comment")
  })
})
