/**
 * The two gates `npm test` adds after vitest must be able to fail: scripts/case-coverage.mjs (all
 * case IDs of docs/reliability.md need a passing test) and scripts/canary-sweep.mjs (G01 across the suite).
 * Each is run as a child process on planted inputs: a report missing an ID or holding only a
 * skipped test for it, and a sweep directory with the canary key (or only its last 8 characters)
 * in a log line, an artefact or a recorded fixture.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = path.join(import.meta.dirname, "..", "..", "..")
const letters = { A: 13, B: 12, C: 9, D: 14, E: 7, F: 5, G: 7 }
const allIds = Object.entries(letters).flatMap(([letter, count]) =>
  Array.from({ length: count }, (_, i) => `${letter}${String(i + 1).padStart(2, "0")}`)
)

const run = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  spawnSync(process.execPath, [path.join(root, "scripts", script), ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8"
  })

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "volley-gates-"))

const report = (tests: ReadonlyArray<{ readonly title: string; readonly status: string }>) => {
  const dir = tempDir()
  const file = path.join(dir, "report.json")
  fs.writeFileSync(file, JSON.stringify({ testResults: [{ assertionResults: tests }] }))
  return file
}

describe("npm test gates", () => {
  it("case coverage: passes with all 67 IDs, fails on a missing or only-skipped ID", () => {
    const all = allIds.map((id) => ({ title: `${id} something`, status: "passed" }))
    assert.strictEqual(run("case-coverage.mjs", [report(all)], { VOLLEY_STRICT_CASES: "1" }).status, 0)
    const missing = run("case-coverage.mjs", [report(all.filter((t) => !t.title.startsWith("F02")))], {
      VOLLEY_STRICT_CASES: "1"
    })
    assert.strictEqual(missing.status, 1)
    assert.include(missing.stderr, "missing: F02")
    const skipped = all.map((t) => (t.title.startsWith("B11") ? { ...t, status: "skipped" } : t))
    const onlySkipped = run("case-coverage.mjs", [report(skipped)], { VOLLEY_STRICT_CASES: "1" })
    assert.strictEqual(onlySkipped.status, 1)
    assert.include(onlySkipped.stderr, "skipped tests: 1")
  })

  it("canary sweep: 0 hits passes; the key or its last 8 characters in a log, an artefact or a fixture fails", () => {
    const key = `sk-volley-CANARY-${Math.random().toString(36).slice(2)}gate1234`
    const sweep = (files: Record<string, string>) => {
      const dir = tempDir()
      for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
        fs.writeFileSync(path.join(dir, name), text)
      }
      return run("canary-sweep.mjs", [], { VOLLEY_CANARY_KEY: key, VOLLEY_CANARY_DIR: dir })
    }
    const clean = { "console.log": "[stdout] all good\n", "artefacts-x.jsonl": '{"text":"<redacted>"}\n' }
    assert.strictEqual(sweep(clean).status, 0)
    assert.strictEqual(sweep({ ...clean, "console.log": `[stderr] Bearer ${key}\n` }).status, 1)
    assert.strictEqual(sweep({ ...clean, "artefacts-x.jsonl": `{"text":"…${key.slice(-8)}"}\n` }).status, 1)
    assert.strictEqual(sweep({ ...clean, "fixtures-1/0001.json": `{"sse":"${key}"}` }).status, 1)
    // Another run's canary key in an artefact is a leak too.
    assert.strictEqual(sweep({ ...clean, "artefacts-y.jsonl": '{"text":"sk-volley-CANARY-otherkey99"}\n' }).status, 1)
    // A sweep with nothing dropped proves nothing.
    assert.strictEqual(sweep({ "console.log": "" }).status, 1)
  })
})
