/**
 * `node examples/chat-session/main.ts [--session ID] [--data DIR] [message]`: a chat CLI whose
 * conversation is stored in Postgres, so it survives restarts. With a message it runs that one turn
 * (or command: `/history`, `/undo`, `/clear`) and exits; without, it reads lines from stdin. The
 * Postgres is the embedded one of `@volley/durable` (data under `--data`, default `.volley/postgres`).
 * Without `HAOAI_API_KEY` the model is volley-local.
 */
import { createInterface } from "node:readline"
import { Session } from "@volley/agent"
import { DurablePostgres } from "@volley/durable"
import { TraceSink } from "@volley/traces"
import { Cause, Effect, Exit, Layer } from "effect"
import { Backend, defaultModel } from "../shared/backend.ts"
import { chatLine, makeAgent } from "./chat.ts"

const option = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}

/** The command line: session id, data directory and the message (if any). */
export const parseArgs = (args: ReadonlyArray<string>) => {
  const rest: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--session" || args[i] === "--data") i++
    else rest.push(args[i]!)
  }
  return {
    sessionId: option(args, "--session") ?? "default",
    dataDir: option(args, "--data"),
    message: rest.join(" ").trim()
  }
}

const lines = Effect.promise(async () => {
  const all: Array<string> = []
  for await (const line of createInterface({ input: process.stdin })) all.push(line)
  return all
})

const main = Effect.gen(function* () {
  const { sessionId, dataDir, message } = parseArgs(TraceSink.argsWithoutTrace(process.argv.slice(2)))
  const agent = makeAgent(yield* defaultModel)
  const store = Session.layerSql().pipe(Layer.provide(DurablePostgres.layerEmbedded({ dataDir })))
  const exit = yield* Effect.gen(function* () {
    const inputs = message === "" ? yield* lines : [message]
    for (const line of inputs)
      if (line.trim() !== "") process.stdout.write(`${yield* chatLine(agent, sessionId, line)}\n`)
  }).pipe(Effect.provide(Layer.mergeAll(store, Backend)), Effect.scoped, Effect.exit)
  if (Exit.isFailure(exit)) {
    process.stderr.write(`error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
    return 1
  }
  return 0
})

if (import.meta.main)
  Effect.runPromise(main.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then(
    (code) => process.exit(code),
    () => process.exit(70)
  )
