/**
 * Issue 13 #2 where the crash was the symptom: a hostile server on 127.0.0.1 streams text deltas
 * (then resets the connection) to a client in a child Node process (support/hostileChild.ts). The
 * process must survive and report the typed `ResponseTooLarge`: with a 1 MiB stream cap and 2 MiB
 * streamed, with the default 64 MiB cap against a server ready to send 600 MB (at bba834f the process
 * died at ~512 MiB, `RangeError: Invalid string length` inside undici's callback), and when folding
 * throws that `RangeError` inside the transport callback (before: an unhandled rejection, exit 1).
 */
import { spawn } from "node:child_process"
import type * as net from "node:net"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { chunk, rawServer, sseFrame, sseHead } from "./support/server.ts"
import { payload } from "./support/sse.ts"

const script = fileURLToPath(new URL("./support/hostileChild.ts", import.meta.url))

interface ChildResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly summary: Record<string, unknown> | undefined
}

/** Runs the child against `port` in `mode`; resolves when it exits. */
const runChild = (port: number, mode: string): Effect.Effect<ChildResult> =>
  Effect.callback<ChildResult>((resume) => {
    const child = spawn(process.execPath, [script, String(port), mode], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (data) => (stdout += String(data)))
    child.stderr.on("data", (data) => (stderr += String(data)))
    child.on("close", (code) => {
      const line = stdout.trim().split("\n").at(-1) ?? ""
      const summary = line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : undefined
      resume(Effect.succeed({ code, stdout, stderr, summary }))
    })
    return Effect.sync(() => child.kill())
  })

/**
 * Streams text deltas of 16 KiB until `totalBytes` were written (respecting backpressure), then
 * resets the connection 300 ms later (once the client has read what was sent: a reset discards
 * unread bytes) or, with `hold`, keeps it open; stops early when the client closes it.
 */
const streamDeltas = (socket: net.Socket, totalBytes: number, deltaSize = 16 * 1024, hold = false): void => {
  const block = chunk(sseFrame(payload.textDelta("x".repeat(deltaSize))).repeat(16))
  let written = 0
  socket.write(sseHead() + chunk(sseFrame(payload.created()) + sseFrame(payload.messageAdded())))
  const pump = (): void => {
    while (!socket.destroyed && written < totalBytes) {
      written += block.byteLength
      if (!socket.write(block)) return void socket.once("drain", pump)
    }
    if (!hold) setTimeout(() => socket.destroyed || socket.resetAndDestroy(), 300)
  }
  pump()
}

const assertSurvived = (result: ChildResult, what: string) => {
  assert.strictEqual(result.code, 0, `${what}: the process died\n${result.stderr.slice(-2000)}`)
  assert.isDefined(result.summary, `${what}: no result line\n${result.stderr.slice(-2000)}`)
}

describe("issue 13 #2: a hostile stream never crashes the process", () => {
  it.live(
    "stream cap 1 MiB, 2 MiB streamed, the socket held open: the process survives with ResponseTooLarge{stream} and the partial",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => streamDeltas(socket, 2 * 1024 * 1024, 1024, true))
        const result = yield* runChild(server.port, "cap")
        assertSurvived(result, "cap")
        assert.strictEqual(result.summary?.tag, "ResponseTooLarge")
        assert.strictEqual(result.summary?.body, "stream")
        assert.strictEqual(result.summary?.maxBytes, 1024 * 1024)
        assert.isAbove(Number(result.summary?.partialText), 500_000)
      }),
    { timeout: 30_000 }
  )

  it.live(
    "the default cap against a server ready to send 600 MB: ResponseTooLarge at 64 MiB, the process survives",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => streamDeltas(socket, 600 * 1024 * 1024))
        const result = yield* runChild(server.port, "realistic")
        assertSurvived(result, "realistic")
        assert.strictEqual(result.summary?.tag, "ResponseTooLarge")
        assert.strictEqual(result.summary?.maxBytes, 64 * 1024 * 1024)
        assert.isAbove(Number(result.summary?.partialText), 60 * 1024 * 1024)
      }),
    { timeout: 60_000 }
  )

  it.live(
    "folding throws RangeError inside the undici callback (after a reset): a typed ResponseTooLarge, not exit 1",
    () =>
      Effect.gen(function* () {
        // 5,000 small deltas, then a reset: building the partial joins 5,000 pieces, which throws here
        const server = yield* rawServer((socket) => streamDeltas(socket, 5_000 * 100, 10))
        const result = yield* runChild(server.port, "defect")
        assertSurvived(result, "defect")
        assert.strictEqual(result.summary?.tag, "ResponseTooLarge")
        assert.strictEqual(result.summary?.body, "stream")
      }),
    { timeout: 30_000 }
  )
})
