/**
 * Approval across a real restart: `start` and `approve` / `reject` run as separate processes (the
 * state moves through its JSON file), on volley-local. A state file edited between the two commands
 * is refused, and so is a second decision on the same saved state (`ApprovalAlreadyUsed`, through the
 * example's file ledger); in process, forged or mismatched approvals are refused (`InvalidApproval`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Agent, RunState } from "@volley/agent"
import { LocalModel, TestClient } from "@volley/testing"
import { Effect, Layer, Redacted } from "effect"
import { examplePath, runScript } from "../shared/process.ts"
import { FileHandlers, loadState, makeAgent, saveState, workspaceLayer } from "./files.ts"
import { parseCommand } from "./main.ts"

const main = examplePath("approval/main.ts")
const secret = "test-approval-secret"
const prompt = "Delete old-report.pdf from the workspace"

const made: Array<string> = []
/** A fresh temporary directory, removed after the file's tests. */
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "volley-approval-test-"))
  made.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

const cli = (args: ReadonlyArray<string>) => runScript(main, args, { VOLLEY_APPROVAL_SECRET: secret })

/** A fresh state file and workspace, and `start` run in them. */
const started = Effect.gen(function* () {
  const dir = tempDir()
  const paths = { state: join(dir, "state.json"), workspace: join(dir, "ws") }
  const flags = ["--state", paths.state, "--workspace", paths.workspace]
  const ran = yield* cli(["start", ...flags, prompt])
  assert.strictEqual(ran.code, 0, ran.stderr)
  assert.match(ran.stdout, /^pending: delete_file \{"file":"old-report\.pdf"\} \(call_\w+\)\n$/)
  assert.isTrue(existsSync(join(paths.workspace, "old-report.pdf")), "nothing is deleted before approval")
  assert.isTrue(existsSync(paths.state))
  return { paths, flags }
})

// The three scenarios are independent (own directories): run them side by side to save wall time.
describe.concurrent("approval CLI (two processes)", () => {
  it.live("start pauses and saves; approve in a new process resumes and deletes the file", () =>
    Effect.gen(function* () {
      const { paths, flags } = yield* started
      const state = JSON.parse(readFileSync(paths.state, "utf8")) as RunState.RunState
      assert.strictEqual(state.stopReason._tag, "ApprovalRequired")
      const ran = yield* cli(["approve", ...flags])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "deleted old-report.pdf")
      assert.isFalse(existsSync(join(paths.workspace, "old-report.pdf")))
      assert.isTrue(existsSync(join(paths.workspace, "notes.txt")))
    })
  )

  it.live("approve twice from one saved state: the second process is refused and nothing runs again", () =>
    Effect.gen(function* () {
      const { paths, flags } = yield* started
      const first = yield* cli(["approve", ...flags])
      assert.strictEqual(first.code, 0, first.stderr)
      assert.include(first.stdout, "deleted old-report.pdf")
      // the same saved state again (start's file is untouched by a completed run): a replay
      writeFileSync(join(paths.workspace, "old-report.pdf"), "recreated\n")
      const second = yield* cli(["approve", ...flags])
      assert.strictEqual(second.code, 1)
      assert.match(second.stderr, /was already acted on; nothing ran\n$/)
      assert.isTrue(existsSync(join(paths.workspace, "old-report.pdf")), "the replay deleted nothing")
    })
  )

  it.live("reject in a new process tells the model why and leaves the file alone", () =>
    Effect.gen(function* () {
      const { paths, flags } = yield* started
      const ran = yield* cli(["reject", ...flags, "--message", "Keep it until Friday"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "Keep it until Friday")
      assert.isTrue(existsSync(join(paths.workspace, "old-report.pdf")))
    })
  )

  it.live("a state file edited between the commands is refused and nothing is deleted", () =>
    Effect.gen(function* () {
      const { paths, flags } = yield* started
      // Point the pending call at another file, keeping the JSON valid.
      const json = readFileSync(paths.state, "utf8")
      writeFileSync(paths.state, json.replaceAll("old-report.pdf", "notes.txt"))
      const ran = yield* cli(["approve", ...flags])
      assert.strictEqual(ran.code, 1)
      assert.match(ran.stderr, /was changed after it was saved; refusing to resume it\n$/)
      assert.isTrue(existsSync(join(paths.workspace, "notes.txt")))
      assert.isTrue(existsSync(join(paths.workspace, "old-report.pdf")))
    })
  )
})

describe("approval in process", () => {
  /** Runs `body` with a fresh workspace directory and volley-local. */
  const inWorkspace = <A, E>(body: (dir: string) => Effect.Effect<A, E, Layer.Success<ReturnType<typeof env>>>) => {
    const dir = tempDir()
    return body(dir).pipe(Effect.provide(env(dir)))
  }
  const env = (dir: string) =>
    Layer.mergeAll(FileHandlers.pipe(Layer.provide(workspaceLayer(dir))), TestClient.layerLocal())
  const agent = makeAgent(LocalModel.modelName, Redacted.make(secret))
  const paused = Effect.gen(function* () {
    const result = yield* agent.run(prompt)
    assert.strictEqual(result._tag, "Paused")
    if (result._tag !== "Paused") return yield* Effect.die("not paused")
    return result
  })

  it.live("forged, re-targeted or differently signed approvals are refused with InvalidApproval", () =>
    inWorkspace((dir) =>
      Effect.gen(function* () {
        const result = yield* paused
        const state = result.state
        const callId = result.pending[0]!.callId
        const rejection = agent.reject(state, callId)
        const other = makeAgent(LocalModel.modelName, Redacted.make("another-secret"))
        const cases = [
          [{ ...rejection, decision: "approve" as const }, "BadSignature"],
          [
            {
              runId: state.runId,
              callId,
              name: "delete_file",
              argsHash: result.pending[0]!.argsHash,
              nonce: result.pending[0]!.nonce,
              decision: "approve" as const
            },
            "BadSignature"
          ],
          [other.approve(state, callId), "BadSignature"],
          [
            { ...agent.approve(state, callId), argsHash: Agent.hashArguments('{"file":"notes.txt"}') },
            "ArgumentsMismatch"
          ],
          [{ ...agent.approve(state, callId), callId: "call_999" }, "UnknownCall"]
        ] as const
        for (const [approval, reason] of cases) {
          const error = yield* Effect.flip(agent.resume(state, { approvals: [approval] }))
          assert.strictEqual(error._tag, "InvalidApproval")
          assert.strictEqual(error._tag === "InvalidApproval" ? error.reason : undefined, reason)
        }
        assert.isTrue(existsSync(join(dir, "old-report.pdf")), "no refused approval ran the tool")
      })
    )
  )

  it.live("saveState / loadState round-trip; a changed signature is StateTampered", () =>
    inWorkspace((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "state.json")
        const result = yield* paused
        const key = Redacted.make(secret)
        yield* saveState(path, result.state, key)
        const loaded = yield* loadState(path, key)
        assert.strictEqual(RunState.toJson(loaded), RunState.toJson(result.state))
        const wrongKey = yield* Effect.flip(loadState(path, Redacted.make("not-the-secret")))
        assert.strictEqual(wrongKey._tag, "StateTampered")
        const missing = yield* Effect.flip(loadState(join(dir, "nope.json"), key))
        assert.strictEqual(missing._tag, "StateUnreadable")
      })
    )
  )

  it("parses the commands", () => {
    const start = parseCommand(["start", "--state", "/x/s.json", "Delete", "draft.md"])
    assert.deepInclude(start, { action: "start", state: "/x/s.json", prompt: "Delete draft.md" })
    assert.deepInclude(parseCommand(["reject", "--message", "no"]), { action: "reject", message: "no" })
    assert.isString(parseCommand(["start"]))
    assert.isString(parseCommand(["approve", "--state"]))
    assert.isString(parseCommand(["delete"]))
  })
})
