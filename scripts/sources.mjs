// The published sources the gates scan: every file under packages/<name>/src (never node_modules
// or dist) whose name passes `accept`. Shared by static-scan.mjs and doc-check.mjs.
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

// Paths of the files under <root>/packages/<name>/src accepted by `accept(fileName)`.
export const packageSources = (root, accept) => {
  const files = []
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      if (entry === "node_modules" || entry === "dist") continue
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (accept(entry)) files.push(path)
    }
  }
  for (const pkg of readdirSync(join(root, "packages"))) {
    const src = join(root, "packages", pkg, "src")
    // a package without src/ has nothing to scan
    if (existsSync(src) && statSync(src).isDirectory()) walk(src)
  }
  return files
}
