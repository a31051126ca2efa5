/**
 * G07 static scan, for this package: no `eval`, `new Function`, `vm.run*`, and no `RegExp` built from
 * data unless the line above says where the pattern comes from ("never from model data").
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, it } from "@effect/vitest"

const files = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

it("G07 static scan of packages/tools/src: no eval, new Function, vm.run*, or unexplained dynamic RegExp", () => {
  const findings: Array<string> = []
  for (const file of files(join(import.meta.dirname, "..", "src"))) {
    const lines = readFileSync(file, "utf8").split("\n")
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, "")
      if (/\beval\s*\(|\bnew\s+Function\s*\(|\bvm\.run\w*\s*\(/.test(code))
        findings.push(`${file}:${i + 1}: ${line.trim()}`)
      if (/\bnew\s+RegExp\s*\(/.test(code) && !(lines[i - 1] ?? "").includes("never from model data")) {
        findings.push(`${file}:${i + 1}: ${line.trim()}`)
      }
    })
  }
  assert.deepStrictEqual(findings, [])
})
