/**
 * The case gate (scripts/case-coverage.mjs) takes its case IDs from the case list of
 * docs/reliability.md: a row added there fails the gate until a test covers it, and when the vitest
 * report names its files, each row's "tests" links must name exactly the files holding its tests.
 * Run as a child process on planted docs and reports; the real doc is checked for its 67 IDs.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = path.join(import.meta.dirname, "..", "..", "..")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "volley-cases-"))
const docsDir = path.join(dir, "docs")
fs.mkdirSync(docsDir)

const write = (name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

const gate = (doc: string, report: unknown) =>
  spawnSync(
    process.execPath,
    [path.join(root, "scripts", "case-coverage.mjs"), write("report.json", JSON.stringify(report)), "--doc", doc],
    { env: { PATH: process.env.PATH ?? "", VOLLEY_STRICT_CASES: "1" }, encoding: "utf8" }
  )

const doc = (rows: ReadonlyArray<string>) =>
  write(
    "docs/reliability.md",
    ["# R", "", "## Cases and their tests", "", "| ID | in | out | tests |", "| --- | --- | --- | --- |", ...rows, ""]
      .concat(["## Targets", "", "| A99 | not a case row: outside the case list |"])
      .join("\n")
  )

const row = (id: string, ...files: ReadonlyArray<string>) =>
  `| ${id} | x | y | ${files.map((file) => `[${file}](../packages/${file})`).join(", ")} |`

const named = (tests: ReadonlyArray<readonly [file: string, title: string]>) => ({
  testResults: [...new Set(tests.map(([file]) => file))].map((file) => ({
    name: path.join(dir, "packages", file),
    assertionResults: tests.filter(([f]) => f === file).map(([, title]) => ({ title, status: "passed" }))
  }))
})

describe("case coverage reads its IDs from docs/reliability.md", () => {
  it("a case row added to the doc fails the gate until a test covers it", () => {
    const report = named([["a/test/X.test.ts", "A01 something"]])
    assert.strictEqual(gate(doc([row("A01", "a/test/X.test.ts")]), report).status, 0)
    const added = gate(doc([row("A01", "a/test/X.test.ts"), row("A02")]), report)
    assert.strictEqual(added.status, 1)
    assert.include(added.stderr, "missing: A02")
    assert.include(added.stderr, "covered: 1/2")
  })

  it("a test naming an ID the doc does not list fails", () => {
    const result = gate(doc([row("A01")]), {
      testResults: [
        {
          assertionResults: [
            { title: "A01 x", status: "passed" },
            { title: "B07 y", status: "passed" }
          ]
        }
      ]
    })
    assert.strictEqual(result.status, 1)
    assert.include(result.stderr, "does not list: B07")
  })

  it("links must name exactly the files holding the case's tests", () => {
    const report = named([
      ["a/test/X.test.ts", "A01 one"],
      ["a/test/Y.test.ts", "A01 two"]
    ])
    assert.strictEqual(gate(doc([row("A01", "a/test/X.test.ts", "a/test/Y.test.ts")]), report).status, 0)
    const unlinked = gate(doc([row("A01", "a/test/X.test.ts")]), report)
    assert.strictEqual(unlinked.status, 1)
    assert.include(unlinked.stderr, "a/test/Y.test.ts has a A01 test but is not linked")
    const stale = gate(doc([row("A01", "a/test/X.test.ts", "a/test/Y.test.ts", "a/test/Z.test.ts")]), report)
    assert.strictEqual(stale.status, 1)
    assert.include(stale.stderr, "packages/a/test/Z.test.ts, which has no passing A01 test")
  })

  it("--write-links rewrites each row's tests cell from the report, keeping the other cells", () => {
    const report = named([
      ["a/test/X.test.ts", "A01 one"],
      ["a/test/Y.test.ts", "A01 two"]
    ])
    const file = doc([row("A01", "a/test/Z.test.ts"), row("A02")])
    const gateWrite = spawnSync(
      process.execPath,
      [
        path.join(root, "scripts", "case-coverage.mjs"),
        write("report.json", JSON.stringify(report)),
        "--doc",
        file,
        "--write-links"
      ],
      { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8" }
    )
    assert.include(gateWrite.stderr, "rewritten from the report")
    const text = fs.readFileSync(file, "utf8")
    // (links are relative to the doc; the labels of files outside the repository are long, not checked)
    assert.match(
      text,
      /\| A01 \| x \| y \| \[[^\]]*\]\(\.\.\/packages\/a\/test\/X\.test\.ts\), \[[^\]]*\]\(\.\.\/packages\/a\/test\/Y\.test\.ts\) \|\n/
    )
    assert.include(text, "| A02 | x | y |  |\n")
    assert.include(text, "| A99 | not a case row: outside the case list |")
  })

  it("a doc without a case list, or with a duplicated row, fails", () => {
    const report = named([["a/test/X.test.ts", "A01 x"]])
    assert.strictEqual(gate(write("docs/empty.md", "# nothing here\n"), report).status, 1)
    assert.strictEqual(gate(doc([row("A01", "a/test/X.test.ts"), row("A01", "a/test/X.test.ts")]), report).status, 1)
  })

  it("docs/reliability.md lists the 67 cases A01–G07, each once", () => {
    const text = fs.readFileSync(path.join(root, "docs", "reliability.md"), "utf8")
    const section = text.slice(text.indexOf("## Cases and their tests"), text.indexOf("## Targets"))
    const ids = [...section.matchAll(/^\| ([A-G]\d\d) \|/gm)].map((match) => match[1])
    const expected = Object.entries({ A: 13, B: 12, C: 9, D: 14, E: 7, F: 5, G: 7 }).flatMap(([letter, count]) =>
      Array.from({ length: count }, (_, i) => `${letter}${String(i + 1).padStart(2, "0")}`)
    )
    assert.deepStrictEqual(ids, expected)
  })
})
