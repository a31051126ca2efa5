#!/usr/bin/env node
// `pnpm run build` (and `prepack`) of a publishable package, run from the package's directory:
// empties `dist/`, compiles `src/` with `tsc -p tsconfig.build.json` (ESM `.js`, `.d.ts`, declaration
// and source maps), then rewrites the relative `.ts` specifiers tsc leaves in the `.d.ts` files to
// `.js`. tsc rewrites them in the JavaScript (`rewriteRelativeImportExtensions`) but not in
// declarations (microsoft/TypeScript#61037); TypeScript itself accepts either, other tools and
// editors expect `.js`. The replacement keeps every line's length, so the declaration maps stay exact.
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const dist = join(process.cwd(), "dist")
rmSync(dist, { recursive: true, force: true })
const tsc = spawnSync("tsc", ["-p", "tsconfig.build.json"], { stdio: "inherit" })
if (tsc.status !== 0) process.exit(tsc.status ?? 1)

// `from "./x.ts"`, `import("../y.ts")`, `export * from "./z.ts"`: relative specifiers only.
const specifier = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*?)\.ts\2/g
let rewritten = 0
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path)
    else if (entry.name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8")
      const next = text.replace(specifier, (_, lead, quote, base) => `${lead}${quote}${base}.js${quote}`)
      if (next !== text) {
        writeFileSync(path, next)
        rewritten++
      }
    }
  }
}
walk(dist)
// A bin must be executable once installed (npm sets the mode from the tarball on some platforms only).
const bin = join(dist, "bin")
if (existsSync(bin)) for (const name of readdirSync(bin)) if (name.endsWith(".js")) chmodSync(join(bin, name), 0o755)
process.stderr.write(`build: ${dist} (${rewritten} declaration files with .ts specifiers rewritten to .js)\n`)
