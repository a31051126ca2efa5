#!/usr/bin/env node
// G07's static scan: fails when package sources (packages/*/src) contain dynamic code execution
// (`eval(`, `new Function(`, `vm.run*`) or a `new RegExp(...)` whose pattern is not a literal and is
// not passed through an escape helper. Model and tool data must never become code or a pattern.
// A line may opt out with a trailing `// static-scan-allow: <reason>` (e.g. a RegExp built from a
// developer-written schema `pattern`, never from model or tool data); allowed lines are listed.
// Usage: node scripts/static-scan.mjs [root]   Prints each finding as file:line and exits 1 on any.
import { readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { packageSources } from "./sources.mjs"

const root = process.argv[2] ?? join(import.meta.dirname, "..")

const rules = [
  { name: "eval", pattern: /(?<![\w.])eval\s*\(/ },
  { name: "new Function", pattern: /\bnew\s+Function\s*\(/ },
  {
    name: "vm.run*",
    pattern: /\bvm\s*\.\s*run\w*\s*\(|\bnew\s+vm\s*\.\s*Script\s*\(|\brunIn(?:New|This)?Context\s*\(/
  },
  {
    name: "RegExp from data",
    // `new RegExp(x)` / `RegExp(x)` whose first argument is not a plain string/regex literal (a
    // template with `${…}` counts as data) and is not passed through an escape helper
    pattern: /\bRegExp\s*\(\s*(?!["'/]|`(?:[^`$]|\$(?!\{))*`|escapeRegExp\s*\()/
  }
]

const files = packageSources(root, (name) => /\.(ts|mts|js|mjs)$/.test(name))

const findings = []
const allowed = []
for (const file of files) {
  const lines = readFileSync(file, "utf8").split("\n")
  lines.forEach((line, index) => {
    const code = line.replace(/\/\/.*$/, "")
    const allow = /\/\/\s*static-scan-allow:\s*(\S.*)$/.exec(line)
    for (const rule of rules) {
      if (!rule.pattern.test(code)) continue
      const where = `${relative(root, file)}:${index + 1}: ${rule.name}`
      if (allow) allowed.push(`${where} (allowed: ${allow[1].trim()})`)
      else findings.push(`${where}: ${line.trim()}`)
    }
  })
}
process.stderr.write(`static scan: ${files.length} files, ${findings.length} findings, ${allowed.length} allowed\n`)
for (const finding of findings) process.stderr.write(`  ${finding}\n`)
for (const entry of allowed) process.stderr.write(`  ${entry}\n`)
process.exit(findings.length === 0 ? 0 : 1)
