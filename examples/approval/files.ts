/**
 * The approval example's agent: a `delete_file` tool that needs a human's approval (`needsApproval:
 * true`, not idempotent) over a real directory, the `Workspace` service that names it, and the agent
 * with an `approvalSecret`, so approvals are HMAC-signed and `resume` refuses forged ones. Also the
 * state-file helpers of the CLI: `saveState` writes `RunState.toJson(state)` plus a `.sig` file, and
 * `loadState` refuses a state file changed since (`StateTampered`).
 * `fileLedger` is an `ApprovalLedger` shared by every process on this machine: one file per consumed
 * nonce, created with `O_EXCL`, so a second `approve` of the same saved state is refused.
 * Gotcha: Volley signs approvals, not the saved state; the `.sig` file is this example's own guard.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Agent, type ApprovalLedger, RunState } from "@volley/agent"
import { Tool, Toolkit } from "@volley/tools"
import { Context, Effect, Layer, Redacted, Schema } from "effect"

/** The files a fresh workspace holds. */
export const workspaceFiles = ["notes.txt", "draft.md", "old-report.pdf"] as const

/** The directory the tool works in. */
export class Workspace extends Context.Service<Workspace, { readonly dir: string }>()(
  "@volley/examples/approval/Workspace"
) {}

/** A workspace layer for a directory, creating it and any missing files first. */
export const workspaceLayer = (dir: string) =>
  Layer.sync(Workspace, () => {
    mkdirSync(dir, { recursive: true })
    for (const file of workspaceFiles) {
      const target = join(dir, file)
      if (!existsSync(target)) writeFileSync(target, `contents of ${file}\n`)
    }
    return { dir }
  })

/** The file was not there (a failure fed back to the model). */
export class FileNotFound extends Schema.TaggedError<FileNotFound>()("FileNotFound", { file: Schema.String }) {}

/** Deletes a workspace file; every call waits for a human decision. */
export const DeleteFile = Tool.make("delete_file", {
  description: "Delete a file from the workspace",
  parameters: Schema.Struct({
    file: Schema.Literals(workspaceFiles).annotate({ description: "The file to delete" })
  }),
  success: Schema.String,
  failure: FileNotFound,
  needsApproval: true,
  idempotent: false
})

/** The toolkit. */
export const FileTools = Toolkit.make(DeleteFile)

/** The handlers: delete in the `Workspace` directory. */
export const FileHandlers = FileTools.toLayer(
  Effect.gen(function* () {
    const workspace = yield* Workspace
    return FileTools.of({
      delete_file: ({ file }) =>
        Effect.suspend(() => {
          const target = join(workspace.dir, file)
          if (!existsSync(target)) return Effect.fail(new FileNotFound({ file }))
          rmSync(target)
          return Effect.succeed(`deleted ${file}`)
        })
    })
  })
)

/** The file assistant for a model id; `secret` signs approvals. */
export const makeAgent = (model: string, secret: Redacted.Redacted<string>) =>
  Agent.make({
    name: "file-assistant",
    model,
    instructions: "You manage the user's workspace files. Use delete_file when asked to delete a file.",
    toolkit: FileTools,
    approvalSecret: secret
  })

/** The saved state was changed after it was written (its signature does not match). */
export class StateTampered extends Schema.TaggedError<StateTampered>()("StateTampered", { path: Schema.String }) {}

/** The saved state could not be read. */
export class StateUnreadable extends Schema.TaggedError<StateUnreadable>()("StateUnreadable", {
  path: Schema.String,
  message: Schema.String
}) {}

const signature = (secret: Redacted.Redacted<string>, json: string): string =>
  createHmac("sha256", Redacted.value(secret)).update(`volley-state:${json}`).digest("hex")

/** Writes `RunState.toJson(state)` to `path` and its HMAC to `path.sig`. */
export const saveState = (path: string, state: RunState.RunState, secret: Redacted.Redacted<string>) =>
  Effect.sync(() => {
    const json = RunState.toJson(state)
    writeFileSync(path, json)
    writeFileSync(`${path}.sig`, signature(secret, json))
  })

/** Reads a state file, refusing it when it or its `.sig` was changed. */
export const loadState = (path: string, secret: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    const read = (file: string) =>
      Effect.try({
        try: () => readFileSync(file, "utf8"),
        catch: (error) => new StateUnreadable({ path: file, message: String(error) })
      })
    const json = yield* read(path)
    const saved = Buffer.from((yield* read(`${path}.sig`)).trim(), "utf8")
    const expected = Buffer.from(signature(secret, json), "utf8")
    if (saved.length !== expected.length || !timingSafeEqual(saved, expected)) {
      return yield* new StateTampered({ path })
    }
    return yield* RunState.fromJson(json).pipe(
      Effect.mapError((error) => new StateUnreadable({ path, message: error.message }))
    )
  })

/**
 * A ledger of consumed approvals in `dir`, one file per nonce created exclusively (`wx`): atomic across
 * processes that share the directory, so each decision is acted on once even when two `approve`
 * commands race. The nonce is hashed for the file name (it comes from the state file).
 */
export const fileLedger = (dir: string): ApprovalLedger.ApprovalLedgerShape => ({
  consume: (entry) =>
    Effect.try({
      try: () => {
        mkdirSync(dir, { recursive: true })
        const name = createHash("sha256").update(entry.nonce).digest("hex")
        writeFileSync(join(dir, name), `${entry.runId} ${entry.callId}\n`, { flag: "wx" })
        return true
      },
      catch: (error) => error
    }).pipe(
      // already there: consumed before; any other failure is a defect, so nothing runs unrecorded
      Effect.catch((error) =>
        (error as { code?: string }).code === "EEXIST" ? Effect.succeed(false) : Effect.die(error)
      )
    )
})
