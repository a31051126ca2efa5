#!/usr/bin/env node
/**
 * The `volley-traces` command (`npm run traces -- [--port N] [--dir D]`): serves the trace folder
 * (default `.volley/traces` in the directory the command was started from) on 127.0.0.1 and prints
 * `http://127.0.0.1:PORT/` as the first line on stdout; `--port 0` (the default) picks a free port.
 * It runs until interrupted. This file is a process boundary: it reads argv and may exit the process.
 */
import * as path from "node:path"
import { parseArgs } from "node:util"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as TraceServer from "../TraceServer.ts"
import { defaultDir } from "../TraceSink.ts"

const usage = `usage: volley-traces [--port N] [--dir D]
  --port N   port on 127.0.0.1 (default 0: a free port)
  --dir D    trace folder (default ${defaultDir})`

const parsed = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: { port: { type: "string" }, dir: { type: "string" }, help: { type: "boolean", short: "h" } },
  strict: false
})
const values = parsed.values
const port = values.port === undefined ? 0 : Number(values.port)
if (values.help === true || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`${usage}\n`)
  process.exit(values.help === true ? 0 : 2)
}

// `pnpm --filter … serve` runs in the package directory; resolve against where the user typed the command.
const base = process.env.INIT_CWD ?? process.cwd()
const dir = path.resolve(base, typeof values.dir === "string" ? values.dir : defaultDir)

const program = Effect.gen(function* () {
  const server = yield* TraceServer.make({ dir, port })
  process.stdout.write(`${server.url}\n`)
  process.stderr.write(`volley-traces: reading ${server.dir} (Ctrl-C to stop)\n`)
  return yield* Effect.never
})

// The main-fiber runner of @effect/platform-node's NodeRuntime, inlined as in @volley/testing's
// volley-serve (no platform-node and its peers for these lines): SIGINT or SIGTERM interrupts the
// program (closing the server), a failure is reported and exits non-zero.
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

runMain(Effect.scoped(program))
