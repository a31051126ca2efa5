/**
 * The chat CLI: in process on a memory session (history reaches the model, /undo, /clear), and as
 * two separate processes on one embedded Postgres data directory: the second process sees the first
 * one's turn, so the conversation survived the restart.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Session } from "@volley/agent"
import { RecordedRequest, ResponsesServer, TestClient, LocalModel } from "@volley/testing"
import { Effect, Layer } from "effect"
import { examplePath, runScript } from "../shared/process.ts"
import { chatLine, makeAgent } from "./chat.ts"
import { parseArgs } from "./main.ts"

const made: Array<string> = []
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

describe("chat-session", () => {
  it.effect("each line is a turn on the session: the model sees the earlier turns; /undo and /clear", () =>
    Effect.gen(function* () {
      const agent = makeAgent("test/model")
      const first = yield* chatLine(agent, "s", "My name is Ada")
      assert.include(first, "My name is Ada")
      yield* chatLine(agent, "s", "What is my name?")
      const requests = yield* (yield* ResponsesServer.ResponsesServer).requests
      const secondInput = JSON.stringify(RecordedRequest.inputItems(requests[1]!))
      assert.include(secondInput, "My name is Ada", "the second request carries the first turn")
      assert.strictEqual((yield* chatLine(agent, "s", "/history")).split("\n").length, 4)
      assert.strictEqual(yield* chatLine(agent, "s", "/undo"), "removed the last turn (2 items)")
      assert.strictEqual((yield* chatLine(agent, "s", "/history")).split("\n").length, 2)
      assert.strictEqual(yield* chatLine(agent, "s", "/clear"), "cleared")
      assert.strictEqual(yield* chatLine(agent, "s", "/history"), "(empty)")
    }).pipe(Effect.provide(Layer.mergeAll(Session.layerMemory, TestClient.layer({ fallback: LocalModel.responder }))))
  )

  it("parses --session, --data and the message", () => {
    assert.deepStrictEqual(parseArgs(["--session", "a", "hello", "--data", "/d", "there"]), {
      sessionId: "a",
      dataDir: "/d",
      message: "hello there"
    })
  })

  it.live(
    "the conversation survives a restart: a second process on the same Postgres data sees the first turn",
    () =>
      Effect.gen(function* () {
        const parent = mkdtempSync(join(tmpdir(), "volley-chat-"))
        made.push(parent)
        chmodSync(parent, 0o755) // under root, Postgres runs as the `postgres` user
        const flags = ["--session", "ada", "--data", join(parent, "postgres")]
        const main = examplePath("chat-session/main.ts")
        const first = yield* runScript(main, [...flags, "My name is Ada"])
        assert.strictEqual(first.code, 0, first.stderr)
        assert.include(first.stdout, "My name is Ada")
        const second = yield* runScript(main, [...flags, "/history"])
        assert.strictEqual(second.code, 0, second.stderr)
        assert.include(second.stdout, "user: My name is Ada")
        assert.include(second.stdout, "assistant: ")
      }),
    120_000
  )
})
