#!/usr/bin/env node
// The reliability case gate. The case IDs come from the case list of docs/reliability.md (section
// "Cases and their tests": every table row that starts with an ID such as `| A01 |`), so a case
// added to the doc needs a test before `npm test` passes. A case is covered when a passing,
// non-skipped test title starts with its ID. When the vitest report names its test files, each
// case's links in the doc are checked too: a linked file must hold a passing test for that ID, and
// a file that holds one must be linked (so the doc's test column cannot drift).
// Usage: node scripts/case-coverage.mjs <vitest-json-report> [--doc <path>] [--write-links]
// `--write-links` rewrites each case row's "tests" cell from the report (after adding or moving tests).
// Prints the covered/missing IDs and the number of skipped tests. Exits 1 on a missing ID or a
// wrong link when VOLLEY_STRICT_CASES=1 (scripts/test.mjs sets it), and always on a doc with no case list.
import { readFileSync, writeFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"

const root = join(import.meta.dirname, "..")
const args = process.argv.slice(2)
const docFlag = args.indexOf("--doc")
const docPath = docFlag >= 0 ? resolve(args[docFlag + 1]) : join(root, "docs", "reliability.md")
const reportPath = args.find((arg, index) => !arg.startsWith("--") && (docFlag < 0 || index !== docFlag + 1))

/** The case IDs of the doc's case list, in order, with the repository paths each row links to. */
const readCases = (text) => {
  const start = text.search(/^## Cases and their tests\s*$/m)
  if (start < 0) return []
  const rest = text.slice(start)
  const end = rest.slice(3).search(/^## /m)
  const section = end < 0 ? rest : rest.slice(0, end + 3)
  const cases = []
  for (const line of section.split("\n")) {
    const row = /^\|\s*([A-G]\d\d)\s*\|/.exec(line)
    if (!row) continue
    const links = [...line.matchAll(/\]\(([^)#\s]+\.test\.ts)\)/g)].map((link) =>
      relative(root, resolve(dirname(docPath), link[1]))
    )
    cases.push({ id: row[1], links: [...new Set(links)] })
  }
  return cases
}

const cases = readCases(readFileSync(docPath, "utf8"))
const ids = cases.map((entry) => entry.id)
const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index)
if (ids.length === 0 || duplicates.length > 0) {
  process.stderr.write(
    ids.length === 0
      ? `no case list found in ${relative(root, docPath)} (section "## Cases and their tests", rows "| A01 | …")\n`
      : `duplicate case rows in ${relative(root, docPath)}: ${duplicates.join(" ")}\n`
  )
  process.exit(1)
}

const report = JSON.parse(readFileSync(reportPath, "utf8"))
const covered = new Set()
/** ID -> set of repository-relative test files holding a passing test for it. */
const filesById = new Map()
let skipped = 0
let named = true
for (const file of report.testResults ?? []) {
  if (typeof file.name !== "string") named = false
  for (const test of file.assertionResults ?? []) {
    if (test.status === "skipped" || test.status === "pending" || test.status === "todo") skipped++
    if (test.status !== "passed") continue
    const match = /^([A-G]\d\d)\b/.exec(test.title)
    if (!match) continue
    covered.add(match[1])
    if (typeof file.name === "string") {
      const files = filesById.get(match[1]) ?? new Set()
      files.add(relative(root, file.name))
      filesById.set(match[1], files)
    }
  }
}
const missing = ids.filter((id) => !covered.has(id))
const unknown = [...covered].filter((id) => !ids.includes(id)).sort()
process.stderr.write(
  `reliability cases covered: ${ids.length - missing.length}/${ids.length} (from ${relative(root, docPath)}); skipped tests: ${skipped}\n`
)
if (missing.length > 0) process.stderr.write(`missing: ${missing.join(" ")}\n`)
if (unknown.length > 0) process.stderr.write(`test titles name IDs the doc does not list: ${unknown.join(" ")}\n`)

const wrongLinks = []
if (named && (report.testResults ?? []).length > 0) {
  for (const { id, links } of cases) {
    const actual = filesById.get(id) ?? new Set()
    for (const link of links)
      if (!actual.has(link)) wrongLinks.push(`${id}: links ${link}, which has no passing ${id} test`)
    for (const file of actual)
      if (!links.includes(file)) wrongLinks.push(`${id}: ${file} has a ${id} test but is not linked`)
  }
  if (wrongLinks.length > 0 && args.includes("--write-links")) {
    const text = readFileSync(docPath, "utf8").replace(
      /^(\|[ \t]*([A-G]\d\d)[ \t]*\|.*\|)[^|\n]*\|[ \t]*$/gm,
      (row, head, id) => {
        if (!ids.includes(id)) return row
        const files = [...(filesById.get(id) ?? [])].sort()
        const cell = files.map((file) => {
          const target = relative(dirname(docPath), join(root, file))
          return `[${file.replace(/^packages\//, "").replace("/test/", "/")}](${target})`
        })
        return `${head} ${cell.join(", ")} |`
      }
    )
    writeFileSync(docPath, text)
    process.stderr.write(`case links in ${relative(root, docPath)} rewritten from the report\n`)
    wrongLinks.length = 0
  } else if (wrongLinks.length > 0) {
    process.stderr.write(`case links in ${relative(root, docPath)} out of date (--write-links rewrites them):\n`)
    for (const line of wrongLinks) process.stderr.write(`  ${line}\n`)
  }
} else {
  process.stderr.write("case links: not checked (the report does not name its test files)\n")
}
const failed = missing.length > 0 || unknown.length > 0 || wrongLinks.length > 0
process.exit(failed && process.env.VOLLEY_STRICT_CASES === "1" ? 1 : 0)
