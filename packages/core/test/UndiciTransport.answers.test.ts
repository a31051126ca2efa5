/**
 * Both transports over raw loopback sockets: the answers to a stream call other than a clean SSE
 * stream (a whole JSON response, an unexpected content type, error events, a clean EOF without a
 * terminal event), each with what is retried and what is not.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as ResponsesError from "../src/ResponsesError.ts"
import { canaryKey, request } from "./support/fakeHttp.ts"
import { chunk, head, jsonReply, rawServer, sseHead, transports } from "./support/server.ts"
import {
  allClosed,
  canarySweep,
  clientFor,
  delta,
  drain,
  failureOf,
  final,
  opening,
  sse,
  types,
  watchUnhandled,
  wholeStream
} from "./support/transportCases.ts"

const unhandled = watchUnhandled()

describe.each(transports)("other answers to a stream call ($name)", (transport) => {
  it.live("B12 application/json answering a stream call: synthesized events ending in response.completed", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => jsonReply(socket, 200, final))
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const received = yield* Stream.runCollect(client.stream(request))
      assert.deepStrictEqual(
        received.map((event) => event.type),
        ["response.created", "response.output_item.added", "response.output_item.done", "response.completed"]
      )
      const last = received.at(-1) as { readonly response: { readonly id: string } }
      assert.strictEqual(last.response.id, "resp_u")
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live("B12 text/html answering a stream call: StreamProtocolError{UnexpectedContentType}, not retried", () =>
    Effect.gen(function* () {
      const html = `<html><body>${"x".repeat(5000)} ${canaryKey}</body></html>`
      const server = yield* rawServer((socket) => {
        socket.write(head(200, { "content-type": "text/html", "content-length": Buffer.byteLength(html) }) + html)
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
      assert.strictEqual(error._tag, "StreamProtocolError")
      assert.strictEqual((error as ResponsesError.StreamProtocolError).reason, "UnexpectedContentType")
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual(server.requests.length, 1)
      assert.isAtMost(Buffer.byteLength(error.message, "utf8"), 1024)
    })
  )

  it.live(
    "B12 text/html whose body stalls: StreamProtocolError{UnexpectedContentType} once the headers limit passes, no hang",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(`${head(200, { "content-type": "text/html", "content-length": 1000 })}<html><body>`)
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, timeouts: { headersMs: 300 } })
        const exit = yield* Effect.exit(
          Stream.runDrain(client.stream(request)).pipe(
            Effect.timeoutOrElse({
              duration: 3000,
              orElse: () => Effect.die("the call hung on a stalled text/html body")
            })
          )
        )
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "StreamProtocolError")
        assert.strictEqual((error as ResponsesError.StreamProtocolError).reason, "UnexpectedContentType")
        assert.strictEqual(server.requests.length, 1)
        assert.isTrue(yield* allClosed(server, 1))
      })
  )

  it.live(
    "A01 a 503 on a stream call whose error body stalls: InternalProviderError{503} after the headers limit, retried",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(`${head(503, { "content-type": "application/json", "content-length": 1000 })}{"error":`)
        })
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          timeouts: { headersMs: 250 },
          retryPolicy: { maxRetries: 1, initialDelayMs: 10 }
        })
        const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
        assert.strictEqual(error._tag, "InternalProviderError")
        assert.strictEqual((error as ResponsesError.InternalProviderError).status, 503)
        assert.strictEqual(error.attempts, 2)
        assert.strictEqual(server.requests.length, 2)
        assert.isTrue(yield* allClosed(server, 2))
      })
  )

  it.live("C01 an error event after deltas: ResponseFailed with its code and the partial, not retried", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        socket.write(
          Buffer.concat([
            Buffer.from(sseHead()),
            chunk(
              `${sse([...opening, delta("hel")])}event: error\ndata: ${JSON.stringify({ type: "error", code: "server_is_overloaded", message: "overloaded" })}\n\n`
            ),
            chunk("")
          ])
        )
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const { exit, seen } = yield* drain(client.stream(request))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "ResponseFailed")
      assert.strictEqual((error as ResponsesError.ResponseFailed).code, "server_is_overloaded")
      assert.deepStrictEqual(seen, types.slice(0, 4))
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live("C06 (a) a clean EOF without a terminal event: StreamTruncated with the partial, not retried", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => wholeStream(socket, [...opening, delta("hel")]))
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const { exit, seen } = yield* drain(client.stream(request))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "StreamTruncated")
      assert.strictEqual((error as ResponsesError.StreamTruncated).partial?.id, "resp_u")
      assert.deepStrictEqual(seen, types.slice(0, 4))
      assert.strictEqual(server.requests.length, 1)
    })
  )
})

canarySweep(unhandled, 6)
