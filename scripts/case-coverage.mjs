#!/usr/bin/env node
// Collects test titles from a vitest JSON report and checks them against the 67 case IDs of
// RELIABILITY.md §5 (A01–G07): a case is covered when a passing, non-skipped test title starts
// with its ID. Prints the covered/missing IDs and the number of skipped tests. Exits 1 on a missing
// ID when VOLLEY_STRICT_CASES=1, which scripts/test.mjs sets: `npm test` requires all 67.
import { readFileSync } from "node:fs"

const cases = {
  A: 13,
  B: 12,
  C: 9,
  D: 14,
  E: 7,
  F: 5,
  G: 7
}
const ids = Object.entries(cases).flatMap(([letter, count]) =>
  Array.from({ length: count }, (_, i) => `${letter}${String(i + 1).padStart(2, "0")}`)
)
const report = JSON.parse(readFileSync(process.argv[2], "utf8"))
const covered = new Set()
let skipped = 0
for (const file of report.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    if (test.status === "skipped" || test.status === "pending" || test.status === "todo") skipped++
    if (test.status !== "passed") continue
    const match = /^([A-G]\d\d)\b/.exec(test.title)
    if (match) covered.add(match[1])
  }
}
const missing = ids.filter((id) => !covered.has(id))
process.stderr.write(
  `reliability cases covered: ${ids.length - missing.length}/${ids.length}; skipped tests: ${skipped}\n`
)
if (missing.length > 0) process.stderr.write(`missing: ${missing.join(" ")}\n`)
process.exit(missing.length > 0 && process.env.VOLLEY_STRICT_CASES === "1" ? 1 : 0)
