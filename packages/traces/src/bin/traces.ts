#!/usr/bin/env node
/**
 * The `volley-traces` command (`npm run traces -- [--port N] [--dir D | --database-url URL]`): serves
 * the trace folder (default `.volley/traces` in the directory the command was started from), or the
 * Postgres table of `TraceSink.layerSql` (`--database-url`, else `DATABASE_URL` when no `--dir`) on 127.0.0.1 and prints
 * `http://127.0.0.1:PORT/` as the first line on stdout; `--port 0` (the default) picks a free port.
 * It runs until interrupted. This file is a process boundary: it reads argv and may exit the process.
 */
import * as path from "node:path"
import { parseArgs } from "node:util"
import { PgClient } from "@effect/sql-pg"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as TraceServer from "../TraceServer.ts"
import { defaultDir } from "../TraceSink.ts"
import * as TraceStore from "../TraceStore.ts"

const usage = `usage: volley-traces [--port N] [--dir D | --database-url URL]
  --port N              port on 127.0.0.1 (default 0: a free port)
  --dir D               trace folder (default ${defaultDir})
  --database-url URL    read the Postgres table volley_trace_lines instead (default: DATABASE_URL, when no --dir)`

const parsed = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    port: { type: "string" },
    dir: { type: "string" },
    "database-url": { type: "string" },
    help: { type: "boolean", short: "h" }
  },
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

const databaseUrl = values["database-url"]

const serve = (source: TraceStore.Source | undefined) =>
  Effect.gen(function* () {
    const server = yield* TraceServer.make({ dir, port, source })
    process.stdout.write(`${server.url}\n`)
    process.stderr.write(`volley-traces: reading ${server.dir} (Ctrl-C to stop)\n`)
    return yield* Effect.never
  })

const program = Effect.gen(function* () {
  const url =
    typeof databaseUrl === "string"
      ? Option.some(Redacted.make(databaseUrl))
      : typeof values.dir === "string"
        ? Option.none()
        : yield* Config.option(Config.Redacted("DATABASE_URL")).pipe(Effect.orElseSucceed(() => Option.none()))
  if (Option.isNone(url)) return yield* serve(undefined)
  return yield* Effect.flatMap(TraceStore.makeSqlSource(), serve).pipe(
    Effect.provide(PgClient.layer({ url: url.value, applicationName: "volley-traces" }))
  )
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
