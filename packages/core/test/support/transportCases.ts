/**
 * Shared cases of the transport tests (UndiciTransport.*.test.ts): a client per transport with the
 * canary key, the typed failure of an exit (recorded for the file's G01 canary sweep), draining a
 * stream, a scripted SSE conversation and its chunked writes, and the unhandled-rejection watch.
 * Gotcha: `watchUnhandled` and `canarySweep` must be called at the top level of each test file,
 * because each file runs in its own worker with its own recorded errors.
 */
import type * as net from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as ResponsesClient from "../../src/ResponsesClient.ts"
import type * as ResponsesError from "../../src/ResponsesError.ts"
import type { StreamEvent } from "../../src/ResponsesSchema.ts"
import { canaryHits, recordedCount, recordError } from "./canary.ts"
import { canaryKey, completed } from "./fakeHttp.ts"
import { chunk, clientOn, eventually, type RawServer, sseFrame, sseHead, type Transport } from "./server.ts"

/** Collects unhandled rejections while this file runs (an undici promise nobody awaited); checked by `canarySweep`. */
export const watchUnhandled = (): ReadonlyArray<unknown> => {
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => {
    unhandled.push(reason)
  }
  beforeAll(() => {
    process.on("unhandledRejection", onUnhandled)
  })
  afterAll(() => {
    process.off("unhandledRejection", onUnhandled)
  })
  return unhandled
}

/** The file's last test: no recorded error holds the key or its suffix, and no unhandled rejection. */
export const canarySweep = (unhandled: ReadonlyArray<unknown>, minimumErrors: number): void => {
  describe("G01 canary sweep (direct transport)", () => {
    it("G01 canary sweep: no error of this file contains the key or its last 8 characters; no unhandled rejection", () => {
      assert.isAbove(recordedCount(), minimumErrors)
      assert.deepStrictEqual(canaryHits(), [])
      assert.deepStrictEqual(unhandled, [])
    })
  })
}

export const clientFor = (transport: Transport, options: ResponsesClient.Options) =>
  clientOn(transport, { apiKey: Redacted.make(canaryKey), ...options })

export const failureOf = <A>(exit: Exit.Exit<A, ResponsesError.ResponsesError>): ResponsesError.ResponsesError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, ResponsesError.ResponsesError>).cause)
  assert.strictEqual(error._tag, "Some", "expected a typed failure")
  const value = (error as { readonly value: ResponsesError.ResponsesError }).value
  recordError(value)
  return value
}

/** Runs `stream`, recording each event type as it arrives; the exit and the types seen. */
export const drain = (stream: Stream.Stream<StreamEvent, ResponsesError.ResponsesError>) =>
  Effect.gen(function* () {
    const seen: Array<string> = []
    const exit = yield* Effect.exit(Stream.runForEach(stream, (event) => Effect.sync(() => seen.push(event.type))))
    return { exit, seen }
  })

/** Calls `write` every `ms` until the socket is gone. */
export const every = (socket: net.Socket, ms: number, write: () => void) => {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer)
    else write()
  }, ms)
  socket.on("close", () => clearInterval(timer))
}

export const created = { type: "response.created", response: { id: "resp_u", status: "in_progress" } }
export const opening: ReadonlyArray<Record<string, unknown>> = [
  created,
  {
    type: "response.output_item.added",
    output_index: 0,
    item: { type: "message", id: "msg_u", role: "assistant", status: "in_progress", content: [] }
  },
  { type: "response.content_part.added", output_index: 0, content_index: 0, part: { type: "output_text", text: "" } }
]
export const delta = (text: string) => ({
  type: "response.output_text.delta",
  output_index: 0,
  content_index: 0,
  delta: text
})
export const final = completed({
  id: "resp_u",
  output: [
    {
      type: "message",
      id: "msg_u",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "hello", annotations: [] }]
    }
  ]
})
export const terminal = { type: "response.completed", response: final }
export const whole: ReadonlyArray<Record<string, unknown>> = [...opening, delta("hel"), delta("lo"), terminal]
export const types = whole.map((event) => String(event.type))
export const sse = (events: ReadonlyArray<Record<string, unknown>>) => events.map((event) => sseFrame(event)).join("")

/** A complete chunked SSE response in one write (terminating chunk included): a reusable connection. */
export const wholeStream = (socket: net.Socket, events = whole) =>
  socket.write(Buffer.concat([Buffer.from(sseHead()), chunk(sse(events)), chunk("")]))

/** Waits until the server has seen every socket it accepted closed. */
export const allClosed = (server: RawServer, opened: number) =>
  eventually(() => server.opened() === opened && server.closed() === opened)
