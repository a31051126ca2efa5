#!/usr/bin/env node
// The suite-wide G01 canary sweep, run by `npm test` after vitest. scripts/test.mjs gives every test
// process the same canary key (VOLLEY_CANARY_KEY = sk-volley-CANARY-<random per run>) and a
// directory (VOLLEY_CANARY_DIR). During the run, scripts/canary-reporter.mjs copies every test's
// console output there (console.log), and tests drop what they produced there: renderings of
// errors, spans and stream events (artefacts-*.jsonl) and record-mode fixtures (fixtures-*/).
// This script searches all of it, plus the vitest JSON report and every committed fixture
// directory, for the key, its last 8 characters, and (in fixtures and artefacts) any
// `sk-volley-CANARY-…` key at all. Prints one line per source and exits 1 on any hit, or when
// nothing was captured (a sweep that scanned nothing proves nothing).
// Usage: node scripts/canary-sweep.mjs [vitest-report.json]
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"

const root = join(import.meta.dirname, "..")
const key = process.env.VOLLEY_CANARY_KEY
const dir = process.env.VOLLEY_CANARY_DIR
if (key === undefined || dir === undefined) {
  process.stderr.write(
    "canary sweep: VOLLEY_CANARY_KEY and VOLLEY_CANARY_DIR must be set (scripts/test.mjs sets them)\n"
  )
  process.exit(1)
}
const needles = [key, key.slice(-8)]
const anyCanary = /sk-volley-CANARY-[A-Za-z0-9_-]{4,}/

const files = []
const walk = (path, kind) => {
  if (!existsSync(path)) return
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) if (entry !== "node_modules") walk(join(path, entry), kind)
  } else files.push({ path, kind })
}
walk(dir, "captured")
if (process.argv[2] !== undefined) walk(process.argv[2], "report")
const fixtureDirs = []
const findFixtures = (path, depth) => {
  if (depth > 5 || !existsSync(path)) return
  for (const entry of readdirSync(path)) {
    if (entry === "node_modules" || entry.startsWith(".")) continue
    const child = join(path, entry)
    if (!statSync(child).isDirectory()) continue
    if (entry === "fixtures") fixtureDirs.push(child)
    else findFixtures(child, depth + 1)
  }
}
findFixtures(join(root, "packages"), 0)
findFixtures(join(root, "examples"), 0)
for (const fixtures of fixtureDirs) walk(fixtures, "fixture")

const hits = []
const counts = { captured: 0, report: 0, fixture: 0 }
let bytes = 0
for (const { path, kind } of files) {
  const text = readFileSync(path, "utf8")
  counts[kind]++
  bytes += text.length
  const strict = kind === "fixture" || path.includes("artefacts-") || path.includes("fixtures-")
  text.split("\n").forEach((line, index) => {
    const found = needles.some((needle) => line.includes(needle)) || (strict && anyCanary.test(line))
    if (found) hits.push(`${relative(root, path)}:${index + 1}: ${line.slice(0, 200)}`)
  })
}
const consoleLog = join(dir, "console.log")
process.stderr.write(
  `canary sweep: ${counts.captured} captured files (console output ${existsSync(consoleLog) ? statSync(consoleLog).size : 0} bytes), ` +
    `${counts.report} report, ${counts.fixture} fixture files from ${fixtureDirs.length} directories; ${(bytes / 1024).toFixed(0)} KiB scanned\n`
)
for (const hit of hits) process.stderr.write(`  HIT ${hit}\n`)
process.stderr.write(`canary hits: ${hits.length} (limit 0)\n`)
const artefacts = existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith("artefacts-")).length : 0
if (artefacts === 0) process.stderr.write("canary sweep: no test dropped artefacts; the sweep would be vacuous\n")
process.exit(hits.length === 0 && artefacts > 0 ? 0 : 1)
