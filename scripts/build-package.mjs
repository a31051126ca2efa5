#!/usr/bin/env node
// `pnpm run build` (and `prepack`) of a publishable package, run from the package's directory:
// empties `dist/`, compiles `src/` with `tsc -p tsconfig.build.json` (ESM `.js`, `.d.ts`, declaration
// and source maps), then rewrites the relative `.ts` specifiers tsc leaves in the `.d.ts` files to
// `.js`. tsc rewrites them in the JavaScript (`rewriteRelativeImportExtensions`) but not in
// declarations (microsoft/TypeScript#61037); TypeScript itself accepts either, other tools and
// editors expect `.js`. The replacement keeps every line's length, so the declaration maps stay exact.
//
// Why the workspace runs src/ and only the tarball points at dist/: each package's `exports` map to
// `./src/*.ts`, and `publishConfig.exports` (plus `publishConfig.bin` for volley-serve) to
// `./dist/*.js` with `types`. `pnpm pack` / `pnpm publish` write the publishConfig fields into the
// packed package.json, so consumers only ever load built JavaScript. A custom export condition
// (e.g. "@volley/source") would need `--conditions` on every `node examples/...` run, in vitest and
// in tsc's `customConditions`; publishConfig keeps plain `node`, vitest and tsc working on the
// sources with no build step. The cost: publish with pnpm, not npm (npm ignores publishConfig.exports).
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

// npm would pack the workspace `exports` (TypeScript sources) as they are: refuse, in one line.
if (process.env.npm_lifecycle_event === "prepack" && !(process.env.npm_config_user_agent ?? "").startsWith("pnpm/")) {
  process.stderr.write(
    "build: pack and publish with pnpm (pnpm pack / pnpm publish): npm ignores publishConfig.exports\n"
  )
  process.exit(1)
}

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
