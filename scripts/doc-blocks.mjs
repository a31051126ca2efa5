#!/usr/bin/env node
// Type-checks every TypeScript code block (```ts or ```typescript, also inside a blockquote or a
// list) of README.md and docs/*.md, so the docs cannot drift from the API. A block is one of:
//   - compiled (the default): written to examples/.doc-blocks/<doc>-<n>.ts (git-ignored), where
//     `@volley/*`, `effect` and the examples' other dependencies resolve, and type-checked with
//     `tsc --noEmit` under the examples' tsconfig (strict, as everywhere; unused names allowed).
//     Each block is its own module, so it must import what it uses.
//   - an excerpt: `<!-- excerpt: examples/<path>.ts -->` on the last non-blank line before the
//     fence; the block must then be a verbatim substring of that file (which `npm test` already
//     compiles and runs).
//   - a fragment: `<!-- fragment: <why it cannot compile> -->` before the fence; skipped. Keep these
//     rare (signature summaries, not programs); the reason is required.
// Errors are reported as doc:line. Usage: node scripts/doc-blocks.mjs [root]   Exits 1 on any error.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { basename, join, relative } from "node:path"

const root = process.argv[2] ?? join(import.meta.dirname, "..")
const outDir = join(root, "examples", ".doc-blocks")
const docs = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`)
].filter((doc) => existsSync(join(root, doc)))

const fenceOpen = /^((?:[ \t]*>[ \t]?)*[ \t]*)(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$/
const marker = /^<!--\s*(excerpt|fragment):\s*(.*?)\s*-->$/

/** Removes the blockquote / list indentation of the fence line from a content line. */
const unprefix = (line, prefix) => {
  if (line.startsWith(prefix)) return line.slice(prefix.length)
  // a blank quoted line (">" without the trailing space) or a shorter indentation
  const bare = prefix.trimEnd()
  if (line.trimEnd() === bare || line.trim() === "") return ""
  return line.replace(/^(?:[ \t]*>[ \t]?)*[ \t]*/, "")
}

/** The TypeScript blocks of one document: start line (1-based, of the first content line), text, marker. */
const blocksOf = (doc) => {
  const lines = readFileSync(join(root, doc), "utf8").split("\n")
  const blocks = []
  for (let index = 0; index < lines.length; index++) {
    const open = fenceOpen.exec(lines[index])
    if (!open) continue
    const [, prefix, fence, language] = open
    let end = index + 1
    while (end < lines.length) {
      const line = unprefix(lines[end], prefix).trim()
      if (line.startsWith(fence[0].repeat(fence.length)) && /^[`~]+$/.test(line)) break
      end++
    }
    if (["ts", "typescript"].includes(language.toLowerCase())) {
      let above = index - 1
      while (above >= 0 && unprefix(lines[above], prefix).trim() === "") above--
      const note = above >= 0 ? marker.exec(unprefix(lines[above], prefix).trim()) : null
      blocks.push({
        doc,
        line: index + 2,
        text: lines
          .slice(index + 1, end)
          .map((line) => unprefix(line, prefix))
          .join("\n"),
        kind: note?.[1] ?? "compiled",
        argument: note?.[2] ?? ""
      })
    }
    index = end
  }
  return blocks
}

const blocks = docs.flatMap(blocksOf)
const errors = []
const compiled = []
const counts = { compiled: 0, excerpt: 0, fragment: 0 }
for (const block of blocks) {
  counts[block.kind]++
  const where = `${block.doc}:${block.line}`
  if (block.kind === "fragment") {
    if (block.argument === "") errors.push(`${where}: a fragment marker needs a reason (<!-- fragment: why -->)`)
    continue
  }
  if (block.kind === "excerpt") {
    const file = join(root, block.argument)
    if (!/^examples\/.+\.ts$/.test(block.argument) || !existsSync(file))
      errors.push(`${where}: excerpt source must be an existing examples/**/*.ts file, got "${block.argument}"`)
    else if (!readFileSync(file, "utf8").includes(block.text.trim()))
      errors.push(`${where}: the block is not a verbatim excerpt of ${block.argument}`)
    continue
  }
  compiled.push(block)
}

rmSync(outDir, { recursive: true, force: true })
if (compiled.length > 0) {
  mkdirSync(outDir, { recursive: true })
  const files = new Map()
  const perDoc = new Map()
  for (const block of compiled) {
    const name = basename(block.doc, ".md").toLowerCase()
    const n = (perDoc.get(name) ?? 0) + 1
    perDoc.set(name, n)
    const file = `${name}-${n}.ts`
    // Line 1 names the source; the block starts on line 2, so tsc's line L is doc line block.line + L - 2.
    // `export {}` keeps a block without imports a module, so blocks never share a scope.
    writeFileSync(join(outDir, file), `// ${block.doc}:${block.line}\n${block.text}\nexport {}\n`)
    files.set(file, block)
  }
  // ESM like the examples, whatever the folder above says
  writeFileSync(join(outDir, "package.json"), '{ "private": true, "type": "module" }\n')
  writeFileSync(
    join(outDir, "tsconfig.json"),
    `${JSON.stringify(
      {
        extends: "../tsconfig.json",
        compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
        include: ["*.ts"],
        exclude: []
      },
      null,
      2
    )}\n`
  )
  // the examples' own TypeScript (the one `npm test` type-checks them with), else the root's, else PATH
  const tsc =
    [join(root, "examples", "node_modules", ".bin", "tsc"), join(root, "node_modules", ".bin", "tsc")].find(
      existsSync
    ) ?? "tsc"
  const result = spawnSync(tsc, ["-p", join(outDir, "tsconfig.json"), "--noEmit", "--pretty", "false"], {
    cwd: root,
    encoding: "utf8"
  })
  if (result.error) errors.push(`could not run tsc: ${result.error.message}`)
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`
  for (const line of output.split("\n")) {
    const at = /(?:^|[/\\])([\w.-]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    const block = at ? files.get(at[1]) : undefined
    if (block) errors.push(`${block.doc}:${block.line + Number(at[2]) - 2}:${at[3]}: ${at[4]}`)
    else if (line.trim() !== "") errors.push(line)
  }
  if (result.status !== 0 && errors.length === 0) errors.push(`tsc exited with ${result.status}`)
}

process.stderr.write(
  `doc blocks: ${blocks.length} TypeScript blocks in ${docs.length} docs (${counts.compiled} compiled, ${counts.excerpt} excerpts, ${counts.fragment} fragments), ${errors.length} errors\n`
)
for (const error of errors) process.stderr.write(`  ${error}\n`)
if (errors.length > 0)
  process.stderr.write(
    `  (compiled blocks are in ${relative(process.cwd(), outDir)}/; see the header of scripts/doc-blocks.mjs)\n`
  )
process.exit(errors.length === 0 ? 0 : 1)
