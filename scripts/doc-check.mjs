#!/usr/bin/env node
// The house rules for published sources (packages/*/src): every module opens with a header comment,
// and every export carries a doc comment (`/** … */` directly above it). Prints each miss as
// file:line and exits 1 on any. Usage: node scripts/doc-check.mjs [root]
import { readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { packageSources } from "./sources.mjs"

const root = process.argv[2] ?? join(import.meta.dirname, "..")
const files = packageSources(root, (name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))

const misses = []
const exportLine =
  /^export\s+(?:declare\s+)?(?:async\s+)?(?:const|let|function\*?|class|interface|type|abstract\s+class|\*\s+as)\b/
for (const file of files) {
  const lines = readFileSync(file, "utf8").split("\n")
  const first = lines.findIndex((line) => line.trim() !== "" && !line.startsWith("#!"))
  if (first === -1 || !lines[first].trim().startsWith("/**")) misses.push(`${relative(root, file)}:1: no module header`)
  lines.forEach((line, index) => {
    if (!exportLine.test(line)) return
    let above = index - 1
    // decorators or overload signatures directly above count as part of the export
    while (above >= 0 && lines[above].trim().startsWith("@")) above--
    const previous = above >= 0 ? lines[above].trim() : ""
    if (!previous.endsWith("*/"))
      misses.push(`${relative(root, file)}:${index + 1}: export without a doc comment: ${line.trim().slice(0, 80)}`)
  })
}
process.stderr.write(`doc check: ${files.length} files, ${misses.length} misses\n`)
for (const miss of misses) process.stderr.write(`  ${miss}\n`)
process.exit(misses.length === 0 ? 0 : 1)
