/**
 * The `volley-traces` bin as a child process for tests: `startBin(args)` spawns it (killed when the
 * scope closes) and waits for the first stdout line, the page's URL; `fetchText` reads a page.
 * Gotcha: the URL line is the bin's contract (docs/traces.md); anything before it would break this.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process"
import type { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** The bin's source, run directly by node. */
export const bin = fileURLToPath(new URL("../../src/bin/traces.ts", import.meta.url))

/** Starts the bin with `args` for the scope; its first stdout line is the URL it serves. */
export const startBin = (
  args: ReadonlyArray<string>
): Effect.Effect<
  { readonly child: ChildProcessByStdio<null, Readable, Readable>; readonly url: string },
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    yield* Effect.addFinalizer(() => Effect.sync(() => child.kill()))
    const url = yield* Effect.promise(
      () =>
        new Promise<string>((resolve) => {
          let out = ""
          child.stdout.on("data", (chunk: Buffer) => {
            out += chunk.toString("utf8")
            if (out.includes("\n")) resolve(out.split("\n")[0]!)
          })
        })
    )
    return { child, url }
  })

/** GET (or `init`) `url`: its status, headers and body text. */
export const fetchText = (url: string, init?: RequestInit) =>
  Effect.promise(() =>
    fetch(url, init).then(async (response) => ({
      status: response.status,
      headers: response.headers,
      body: await response.text()
    }))
  )
