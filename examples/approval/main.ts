/**
 * Human approval across a process restart:
 *   node examples/approval/main.ts start [--state FILE] [--workspace DIR] "<prompt>"
 *   node examples/approval/main.ts approve|reject [--state FILE] [--workspace DIR] [--message "..."]
 * `start` runs the file assistant until it pauses on `delete_file`, saves the paused state (plus a
 * signature) to FILE (default `<tmpdir>/volley-approval-state.json`) and prints the pending call on
 * stdout; `approve` / `reject` load it, decide every pending call, resume and print the answer.
 * Approvals are signed with `VOLLEY_APPROVAL_SECRET` (a demo secret when unset); a changed state file,
 * a forged approval or a second decision on the same saved state (the ledger in FILE.used) exits 1.
 * Without `HAOAI_API_KEY` the model is volley-local.
 */
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Agent, ApprovalLedger } from "@volley/agent"
import { TraceSink } from "@volley/traces"
import { Cause, Config, Effect, Exit, Layer, Option, Redacted } from "effect"
import { Backend, defaultModel } from "../shared/backend.ts"
import { FileHandlers, fileLedger, loadState, makeAgent, saveState, workspaceLayer } from "./files.ts"

/** The parsed command line. */
export interface Command {
  readonly action: "start" | "approve" | "reject"
  readonly state: string
  readonly workspace: string
  readonly message: string | undefined
  readonly prompt: string
}

/** Usage text. */
export const usage =
  'usage: main.ts start [--state FILE] [--workspace DIR] "<prompt>" | approve|reject [--state FILE] [--message "..."]'

/** Parses argv (without node and script); a string is a usage error. */
export const parseCommand = (argv: ReadonlyArray<string>): Command | string => {
  const [action, ...rest] = argv
  if (action !== "start" && action !== "approve" && action !== "reject") return `unknown command ${action ?? "(none)"}`
  const flags: Record<string, string> = {}
  const words: Array<string> = []
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? ""
    if (arg === "--state" || arg === "--workspace" || arg === "--message") {
      const value = rest[++i]
      if (value === undefined) return `${arg} needs a value`
      flags[arg.slice(2)] = value
    } else if (arg.startsWith("--")) return `unknown option ${arg}`
    else words.push(arg)
  }
  const prompt = words.join(" ").trim()
  if (action === "start" && prompt === "") return "start needs a prompt"
  return {
    action,
    state: flags.state ?? join(tmpdir(), "volley-approval-state.json"),
    workspace: flags.workspace ?? join(tmpdir(), "volley-approval-workspace"),
    message: flags.message,
    prompt
  }
}

const out = (line: string) => process.stdout.write(`${line}\n`)
const err = (line: string) => process.stderr.write(`${line}\n`)

const Secret = Config.Redacted("VOLLEY_APPROVAL_SECRET").pipe(
  Config.withDefault(Redacted.make("volley-approval-demo-secret"))
)

/** Prints a result: the pending calls (and saves the state) or the answer. */
const report = (command: Command, result: Agent.AgentResult<string>, secret: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    if (result._tag === "Completed") {
      out(result.output)
      return
    }
    yield* saveState(command.state, result.state, secret)
    for (const call of result.pending) out(`pending: ${call.name} ${call.arguments} (${call.callId})`)
    err(`state saved to ${command.state}; decide with: approve|reject --state ${command.state}`)
  })

/** Runs one command. */
export const runCommand = (command: Command) =>
  Effect.gen(function* () {
    const secret = yield* Secret
    const agent = makeAgent(yield* defaultModel, secret)
    if (command.action === "start") {
      return yield* report(command, yield* agent.run(command.prompt), secret)
    }
    const state = yield* loadState(command.state, secret)
    const approvals = (state.pending?.awaiting ?? []).map((call) =>
      command.action === "approve"
        ? agent.approve(state, call.callId)
        : agent.reject(state, call.callId, command.message ?? "The user rejected this call.")
    )
    return yield* report(command, yield* agent.resume(state, { approvals }), secret)
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        FileHandlers.pipe(Layer.provide(workspaceLayer(command.workspace))),
        Backend,
        // decisions are single-use across processes: the consumed nonces live next to the state file
        ApprovalLedger.layer(fileLedger(`${command.state}.used`))
      )
    )
  )

const main = Effect.gen(function* () {
  const command = parseCommand(TraceSink.argsWithoutTrace(process.argv.slice(2)))
  if (typeof command === "string") {
    err(`error: ${command}\n${usage}`)
    return 2
  }
  const exit = yield* Effect.exit(runCommand(command))
  if (Exit.isSuccess(exit)) return 0
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) {
    err("error: unexpected failure")
    return 70
  }
  const failure = error.value
  switch (failure._tag) {
    case "StateTampered":
      err(`error: ${failure.path} was changed after it was saved; refusing to resume it`)
      break
    case "InvalidApproval":
      err(`error: approval refused (${failure.reason}) for ${failure.callId}`)
      break
    case "ApprovalAlreadyUsed":
      err(`error: the decision for ${failure.callId} was already acted on; nothing ran`)
      break
    default:
      err(`error: ${failure._tag}: ${failure.message}`)
  }
  return 1
})

if (import.meta.main)
  Effect.runPromise(main.pipe(Effect.provide(TraceSink.layerFromArgv(process.argv)))).then(
    (code) => process.exit(code),
    () => process.exit(70)
  )
