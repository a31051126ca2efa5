/**
 * B11 backpressure, in real time over a real loopback socket: a `node:http` server writes 10 000
 * text deltas as fast as the socket accepts them while the consumer takes one event every 10 ms.
 * The client must pull the body only as fast as its consumer does, so the server's writes stall
 * (`write()` returns false and waits for `drain`), the client heap stays flat, and, once the
 * consumer speeds up, every delta arrives in order.
 */
import * as http from "node:http"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ResponsesClient from "../src/ResponsesClient.ts"
import { outputText } from "../src/ResponsesSchema.ts"
import { canaryKey } from "./support/fakeHttp.ts"

// Test code only: a forced GC makes the heap figure meaningful (never used in packages/).
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const heapAfterGc = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const EVENTS = 10_000
const PACED = 200 // 200 events at 10 ms each: 2 s of a slow consumer
// 1 KiB deltas: 10 MB in all, more than the loopback socket buffers hold, so a client that reads
// only as fast as its consumer makes the server wait.
const word = (i: number) => `w${String(i).padStart(5, "0")}${"x".repeat(1017)} `
// Built before the baseline heap figure (the server lives in the same process).
const fullText = Array.from({ length: EVENTS }, (_, i) => word(i)).join("")

const frame = (event: Record<string, unknown>) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`

/** The whole stream, one frame per write: created, 10 000 deltas, then the terminal event. */
function* frames(): Generator<string> {
  const item = { type: "message", id: "msg_1", role: "assistant", status: "in_progress", content: [] }
  yield frame({ type: "response.created", response: { id: "resp_1", status: "in_progress", output: [] } })
  yield frame({ type: "response.output_item.added", output_index: 0, item })
  yield frame({
    type: "response.content_part.added",
    item_id: "msg_1",
    output_index: 0,
    content_index: 0,
    part: { type: "output_text", text: "", annotations: [] }
  })
  for (let i = 0; i < EVENTS; i++) {
    yield frame({
      type: "response.output_text.delta",
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      delta: word(i),
      sequence_number: i + 3
    })
  }
  const message = { ...item, status: "completed", content: [{ type: "output_text", text: fullText, annotations: [] }] }
  yield frame({
    type: "response.completed",
    response: {
      id: "resp_1",
      object: "response",
      model: "m",
      status: "completed",
      output: [message],
      usage: { input_tokens: 1, output_tokens: EVENTS, total_tokens: EVENTS + 1 }
    }
  })
  yield "data: [DONE]\n\n"
}

/** A server that writes every frame as soon as the socket takes it, counting writes that had to wait. */
const fastWriter = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ server: http.Server; port: number; stats: { paused: number; written: number; done: boolean } }>(
        (resolve) => {
          const stats = { paused: 0, written: 0, done: false }
          const server = http.createServer((req, res) => {
            req.resume()
            req.on("end", () => {
              res.writeHead(200, { "content-type": "text/event-stream" })
              const source = frames()
              const pump = () => {
                for (let next = source.next(); !next.done; next = source.next()) {
                  stats.written++
                  if (!res.write(next.value)) {
                    stats.paused++
                    res.once("drain", pump)
                    return
                  }
                }
                stats.done = true
                res.end()
              }
              pump()
            })
          })
          server.listen(0, "127.0.0.1", () => {
            const address = server.address()
            resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0, stats })
          })
        }
      )
  ),
  ({ server }) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
    )
)

describe("backpressure", () => {
  it.live(
    "B11 a fast server and a consumer taking one event every 10 ms: the server pauses, the heap stays flat, nothing is lost",
    () =>
      Effect.gen(function* () {
        const { port, stats } = yield* fastWriter
        const baseline = heapAfterGc()
        let deltas = 0
        let finalText = ""
        let expectedIndex = 0
        let outOfOrder = 0
        let pacedHeap = 0
        let pausedWhilePaced = 0
        let writtenWhilePaced = 0
        yield* Effect.gen(function* () {
          const responses = yield* ResponsesClient.ResponsesClient
          yield* responses.stream({ model: "m", input: "go", stream: true }).pipe(
            Stream.runForEach((event) =>
              Effect.gen(function* () {
                if (event.type === "response.completed") finalText = outputText(event.response.output ?? [])
                if (event.type !== "response.output_text.delta") return
                if (event.delta !== word(expectedIndex)) outOfOrder++
                expectedIndex++
                deltas++
                if (deltas <= PACED) yield* Effect.sleep("10 millis")
                if (deltas === PACED) {
                  pacedHeap = heapAfterGc() - baseline
                  pausedWhilePaced = stats.paused
                  writtenWhilePaced = stats.written
                }
              })
            )
          )
        }).pipe(
          Effect.provide(
            ResponsesClient.layerUndici({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: Redacted.make(canaryKey) })
          )
        )
        assert.strictEqual(deltas, EVENTS, "every delta arrived")
        assert.strictEqual(outOfOrder, 0, "in order, none duplicated")
        assert.isTrue(finalText === fullText, "the final text is the concatenated deltas")
        assert.isTrue(stats.done)
        assert.isAbove(pausedWhilePaced, 0, "the server's writes waited for the slow reader")
        assert.isBelow(writtenWhilePaced, EVENTS, "the server could not run ahead of the consumer")
        assert.isBelow(pacedHeap, 8 * 1024 * 1024, `client heap grew ${pacedHeap} bytes while the consumer was slow`)
      }),
    30_000
  )
})
