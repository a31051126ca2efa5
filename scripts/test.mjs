#!/usr/bin/env node
// The whole suite behind `npm test` (run under Node 24 by scripts/run.mjs): type-check every
// package (turbo `check`), lint + format check (biome), the static scan for dynamic code (G07), the doc check (module headers, a doc comment on every export),
// the type check of every TypeScript block in README.md and docs/ (scripts/doc-blocks.mjs),
// every vitest project in one run, then the reliability case coverage check (every case ID listed
// in docs/reliability.md must have a passing test) and the suite-wide G01 canary sweep (scripts/canary-sweep.mjs: one
// canary key for the whole run, every test's console output and dropped artefacts searched). Each gate counts as one test in the closing line
// `N passed, N failed`, which is also written to `.volley-test-summary` for `.ci/run`.
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const results = join(root, ".vitest-results.json")
const summaryFile = join(root, ".volley-test-summary")
let passed = 0
let failed = 0

const step = (name, command, args) => {
  process.stderr.write(`\n▶ ${name}: ${command} ${args.join(" ")}\n`)
  const started = Date.now()
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, env: process.env })
  const ok = result.status === 0
  process.stderr.write(`${ok ? "✔" : "✘"} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`)
  return ok
}

const gate = (name, command, args) => {
  if (step(name, command, args)) passed++
  else failed++
}

gate("type check", "turbo", ["run", "check", "--output-logs=errors-only", "--log-prefix=task"])
gate("lint and format", "biome", ["check", "."])
gate("static security scan", "node", ["scripts/static-scan.mjs"])
gate("module headers and export docs", "node", ["scripts/doc-check.mjs"])
gate("doc code blocks", "node", ["scripts/doc-blocks.mjs"])

rmSync(results, { force: true })
// G01: one canary key for every test process, and a directory for what the sweep must search.
const canaryDir = join(root, ".volley-canary")
rmSync(canaryDir, { recursive: true, force: true })
process.env.VOLLEY_CANARY_KEY = `sk-volley-CANARY-${randomBytes(12).toString("hex")}`
process.env.VOLLEY_CANARY_DIR = canaryDir
// At least 2 workers: many tests wait on real time (sockets, keepalives, timeouts), so a second
// worker halves the run on a 2-core machine, where vitest would otherwise use one. Worker threads
// instead of forked processes: the suite is CPU-bound and a fork per file costs about a third
// more (93 s -> 65 s for the whole run on an idle 2-core machine).
const vitestOk = step("tests", "vitest", [
  "run",
  `--maxWorkers=${Math.max(2, availableParallelism() - 1)}`,
  "--pool=threads",
  "--reporter=default",
  "--reporter=json",
  "--reporter=./scripts/canary-reporter.mjs",
  `--outputFile.json=${results}`
])
if (existsSync(results)) {
  const report = JSON.parse(readFileSync(results, "utf8"))
  passed += report.numPassedTests ?? 0
  failed += report.numFailedTests ?? 0
  // A suite that failed to load has no test results but must still count as a failure.
  failed += (report.testResults ?? []).filter(
    (file) => file.status === "failed" && file.assertionResults.length === 0
  ).length
  process.env.VOLLEY_STRICT_CASES = "1"
  gate("reliability case coverage", "node", ["scripts/case-coverage.mjs", results])
  gate("canary sweep", "node", ["scripts/canary-sweep.mjs", results])
} else if (!vitestOk) {
  failed++
}

const line = `${passed} passed, ${failed} failed`
writeFileSync(summaryFile, `${line}\n`)
process.stdout.write(`\n${line}\n`)
process.exit(failed === 0 ? 0 : 1)
