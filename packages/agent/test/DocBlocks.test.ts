/**
 * The doc-block gate (scripts/doc-blocks.mjs) must be able to fail: run as a child process on a
 * planted repository (README.md, docs/, examples/ with the real examples' tsconfig and
 * node_modules), it passes a block that compiles, a verbatim excerpt and a fragment with a reason,
 * and fails, naming doc:line, on a type error, an excerpt that is not verbatim, and a fragment
 * marker without a reason.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"

const root = path.join(import.meta.dirname, "..", "..", "..")
const planted: Array<string> = []
afterAll(() => {
  for (const dir of planted) fs.rmSync(dir, { recursive: true, force: true })
})

const plant = (docs: Record<string, string>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "volley-docblocks-"))
  planted.push(dir)
  fs.mkdirSync(path.join(dir, "docs"))
  fs.mkdirSync(path.join(dir, "examples", "sample"), { recursive: true })
  fs.symlinkSync(path.join(root, "examples", "node_modules"), path.join(dir, "examples", "node_modules"), "dir")
  fs.writeFileSync(
    path.join(dir, "examples", "tsconfig.json"),
    JSON.stringify({ extends: path.join(root, "examples", "tsconfig.json") })
  )
  fs.writeFileSync(
    path.join(dir, "examples", "sample", "main.ts"),
    'import { Effect } from "effect"\n\nexport const answer = Effect.succeed(42)\n'
  )
  fs.writeFileSync(path.join(dir, "README.md"), "# Planted\n")
  for (const [name, text] of Object.entries(docs)) fs.writeFileSync(path.join(dir, "docs", name), text)
  return dir
}

const gate = (dir: string) =>
  spawnSync(process.execPath, [path.join(root, "scripts", "doc-blocks.mjs"), dir], {
    env: { PATH: process.env.PATH ?? "" },
    encoding: "utf8"
  })

const good = [
  "# Guide",
  "",
  "```ts",
  'import { Effect } from "effect"',
  "",
  "const program = Effect.succeed(1).pipe(Effect.map((n) => n + 1))",
  "```",
  "",
  "> <!-- fragment: a signature summary -->",
  "> ```ts",
  "> run(input, options?) // Effect<Result>",
  "> ```",
  "",
  "<!-- excerpt: examples/sample/main.ts -->",
  "```ts",
  "export const answer = Effect.succeed(42)",
  "```",
  "",
  "```sh",
  "not typescript, not checked",
  "```",
  ""
].join("\n")

describe("doc code blocks", () => {
  it("passes compiling blocks, verbatim excerpts and fragments with a reason", () => {
    const result = gate(plant({ "guide.md": good }))
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stderr, "3 TypeScript blocks in 2 docs (1 compiled, 1 excerpts, 1 fragments), 0 errors")
  })

  it("fails on a type error, naming the doc line", () => {
    const bad = good.replace("(n) => n + 1", "(n) => n.toUpperCase()")
    const result = gate(plant({ "guide.md": bad }))
    assert.strictEqual(result.status, 1)
    assert.match(result.stderr, /docs\/guide\.md:6:\d+: error TS2339/)
  })

  it("fails on an excerpt that is not verbatim, or that points outside examples/", () => {
    const edited = gate(plant({ "guide.md": good.replace("Effect.succeed(42)", "Effect.succeed(43)") }))
    assert.strictEqual(edited.status, 1)
    assert.include(edited.stderr, "docs/guide.md:16: the block is not a verbatim excerpt of examples/sample/main.ts")
    const outside = gate(plant({ "guide.md": good.replace("examples/sample/main.ts", "docs/guide.md") }))
    assert.strictEqual(outside.status, 1)
    assert.include(outside.stderr, "excerpt source must be an existing examples/**/*.ts file")
  })

  it("fails on a fragment marker without a reason, and on a block that uses what it does not import", () => {
    const noReason = gate(plant({ "guide.md": good.replace("fragment: a signature summary", "fragment:") }))
    assert.strictEqual(noReason.status, 1)
    assert.include(noReason.stderr, "docs/guide.md:11: a fragment marker needs a reason")
    const noImport = gate(plant({ "guide.md": good.replace('import { Effect } from "effect"', "") }))
    assert.strictEqual(noImport.status, 1)
    assert.match(noImport.stderr, /docs\/guide\.md:6:\d+: error TS2304: Cannot find name 'Effect'/)
  })
})
