#!/usr/bin/env node
/**
 * The `serve` command: runs the local Responses server until interrupted and prints its base URL
 * (ending in `/v1`) as the first line on stdout, so any client (curl, openai-node, the demo) can be
 * pointed at it. Modes: `--script FILE` (.json list of turn specs, or .ts/.js default-exporting
 * steps), `--local` (volley-local, also the default and the fallback after a script), `--record DIR
 * --upstream URL` (key from `HAOAI_API_KEY`), `--replay DIR`; plus `--port` and `--host`.
 * Installed from the package it is the `volley-serve` bin (dist/bin/serve.js); in the workspace,
 * `node packages/testing/src/bin/serve.ts`. This file is a process boundary: it reads argv and the
 * environment and may exit the process.
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Fixture from "../Fixture.ts"
import * as LocalModel from "../LocalModel.ts"
import * as Record from "../Record.ts"
import * as Replay from "../Replay.ts"
import * as ResponsesServer from "../ResponsesServer.ts"
import * as ScriptedModel from "../ScriptedModel.ts"

const usage = `usage: volley-serve [--script FILE] [--local] [--record DIR --upstream URL] [--replay DIR] [--port N] [--host H]
  --script FILE   serve scripted turns (.json: an array of turn specs; .ts/.js: default export of steps)
  --local         answer with volley-local (default; also used after a script runs out)
  --record DIR    proxy to --upstream (default $HAOAI_BASE_URL) with $HAOAI_API_KEY and write fixtures to DIR
  --replay DIR    answer from the fixtures in DIR
  --port N        port (default 0: a free port); --host H (default 127.0.0.1)`

const { values } = parseArgs({
  options: {
    script: { type: "string" },
    local: { type: "boolean" },
    record: { type: "string" },
    upstream: { type: "string" },
    replay: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    help: { type: "boolean", short: "h" }
  }
})

// `pnpm --filter @volley/testing serve ...` runs in the package directory; resolve paths against
// the directory the user typed the command in.
const userPath = (p: string): string => path.resolve(process.env.INIT_CWD ?? process.cwd(), p)

const toStep = (entry: unknown): ScriptedModel.Step =>
  typeof entry === "object" && entry !== null && "_tag" in entry
    ? (entry as ScriptedModel.Step)
    : ScriptedModel.turn(entry as ScriptedModel.TurnSpec)

const loadScript = (file: string): Effect.Effect<ReadonlyArray<ScriptedModel.Step>, Error> =>
  Effect.tryPromise({
    try: async () => {
      const absolute = userPath(file)
      const loaded: unknown = file.endsWith(".json")
        ? JSON.parse(await (await import("node:fs/promises")).readFile(absolute, "utf8"))
        : ((await import(pathToFileURL(absolute).href)) as { readonly default?: unknown }).default
      if (!Array.isArray(loaded)) throw new Error(`${file}: expected an array of turns`)
      return loaded.map(toStep)
    },
    catch: (cause) => new Error(`could not load script ${file}: ${String(cause)}`)
  })

const program = Effect.gen(function* () {
  if (values.help === true) return yield* Console.log(usage)
  const common = {
    port: values.port === undefined ? 0 : Number(values.port),
    host: values.host ?? "127.0.0.1"
  }
  let options: ResponsesServer.Options
  let notice: string | undefined
  if (values.replay !== undefined) {
    const fixtures = yield* Fixture.readAll(userPath(values.replay))
    options = { ...common, handler: Replay.handler(fixtures, { onMismatch: (message) => console.error(message) }) }
    notice = `volley: replaying ${fixtures.length} fixture(s) from ${values.replay}`
  } else if (values.record !== undefined) {
    const upstream = values.upstream ?? process.env.HAOAI_BASE_URL ?? "https://api.hao.ai/v1"
    const key = process.env.HAOAI_API_KEY
    options = {
      ...common,
      handler: Record.handler({
        upstream,
        dir: userPath(values.record),
        apiKey: key === undefined ? undefined : Redacted.make(key)
      })
    }
    notice = `volley: recording ${upstream} into ${values.record}${key === undefined ? " (no HAOAI_API_KEY: forwarding the client's key)" : ""}`
  } else {
    const script = values.script === undefined ? [] : yield* loadScript(values.script)
    const local = values.local === true || values.script === undefined
    options = { ...common, script, fallback: local ? LocalModel.responder : undefined }
    notice = local ? LocalModel.notice : `volley: serving ${script.length} scripted turn(s) from ${values.script}`
  }
  const server = yield* ResponsesServer.make(options)
  yield* Console.log(server.baseUrl)
  yield* Console.error(notice)
  return yield* Effect.never
}).pipe(Effect.scoped)

// The main-fiber runner of @effect/platform-node's NodeRuntime, inlined so that installing this
// package does not bring @effect/platform-node (and its redis and ws peers) for these lines: SIGINT
// or SIGTERM interrupts the program (closing the server), a failure is reported and exits non-zero.
const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  let receivedSignal = false
  const onSignal = () => {
    receivedSignal = true
    fiber.interruptUnsafe(fiber.id)
  }
  fiber.addObserver((exit) => {
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
    teardown(exit, (code) => {
      if (receivedSignal || code !== 0) process.exit(code)
    })
  })
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
})

runMain(program)
