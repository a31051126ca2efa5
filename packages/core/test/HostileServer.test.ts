/**
 * Issue 13 against hostile servers on 127.0.0.1, over both transports, in real time: a key echoed
 * into `x-request-id` and response ids (#7), `retry:` field floods (#1), oversize JSON answers to
 * `create` and to a stream request (#3), a stream past its byte cap (#2) and the per-origin
 * connection cap of the undici pool (#13). The cases where a crash is the symptom run in a child
 * process (HostileChild.test.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as ResponsesClient from "../src/ResponsesClient.ts"
import type { ResponsesError } from "../src/ResponsesError.ts"
import { canaryHits, recordError } from "./support/canary.ts"
import { canaryKey, completed, request } from "./support/fakeHttp.ts"
import {
  chunk,
  clientOn,
  eventually,
  head,
  jsonReply,
  rawServer,
  sseFrame,
  sseHead,
  type Transport,
  transports
} from "./support/server.ts"
import { payload } from "./support/sse.ts"
import { exporter, spansNamed, Tracing } from "./support/tracing.ts"

const failureOf = <A>(exit: Exit.Exit<A, ResponsesError>): ResponsesError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, ResponsesError>).cause)
  assert.strictEqual(error._tag, "Some", Cause.pretty((exit as Exit.Failure<A, ResponsesError>).cause))
  const value = (error as { readonly value: ResponsesError }).value
  recordError(value)
  return value
}

const clientFor = (transport: Transport, origin: string, options: ResponsesClient.Options = {}) =>
  clientOn(transport, {
    baseUrl: `${origin}/v1`,
    apiKey: Redacted.make(canaryKey),
    retryPolicy: { maxRetries: 0 },
    ...options
  })

const MiB = 1024 * 1024

/** `count` text deltas of `size` characters each, as SSE frames. */
const deltas = (count: number, size: number): string => {
  const frame = sseFrame(payload.textDelta("x".repeat(size)))
  return frame.repeat(count)
}

/** Asserts no rendering of `error` holds the key or its last 8 characters. */
const assertNoKey = (error: ResponsesError, what: string) => {
  for (const rendering of [JSON.stringify(error), String(error), error.requestId ?? ""]) {
    assert.notInclude(rendering, canaryKey, what)
    assert.notInclude(rendering, canaryKey.slice(-8), what)
  }
}

describe.each(transports)("issue 13 against hostile loopback servers ($name)", (transport) => {
  it.live("#7 a server echoing Authorization into x-request-id and ids: no key on any error type or on the span", () =>
    Effect.gen(function* () {
      exporter.reset()
      const server = yield* rawServer((socket, seen) => {
        const echo = seen.headers.authorization ?? ""
        const kind = seen.path.split("?")[1]?.replace("=", "")
        const id = { "x-request-id": echo }
        if (kind === "auth") return jsonReply(socket, 401, { error: { message: "bad key" } }, id)
        if (kind === "internal") return jsonReply(socket, 500, { error: { message: "oops" } }, id)
        if (kind === "decode") {
          socket.write(`${head(200, { "content-type": "application/json", "content-length": 9, ...id })}not json!`)
          return
        }
        const created = sseFrame({ ...payload.created(), response: { ...payload.created().response, id: echo } })
        if (kind === "truncated") {
          socket.end(sseHead(id) + chunk(created + sseFrame(payload.messageAdded())) + chunk(""))
          return
        }
        socket.end(sseHead(id) + chunk(`${created}data: {not json}\n\n`) + chunk(""))
      })
      const cases = [
        ["auth", "AuthenticationError", false],
        ["internal", "InternalProviderError", false],
        ["decode", "ResponseDecodeError", false],
        ["truncated", "StreamTruncated", true],
        ["protocol", "StreamProtocolError", true]
      ] as const
      for (const [kind, tag, streaming] of cases) {
        const client = yield* clientFor(transport, server.origin, { baseUrl: `${server.origin}/v1?${kind}` })
        const call = streaming ? Stream.runDrain(client.stream(request)) : client.create(request)
        const error = failureOf(yield* Effect.exit(call.pipe(Effect.provide(Tracing))))
        assert.strictEqual(error._tag, tag, kind)
        // the echo is there, redacted: the id is kept as far as it is not the key
        assert.include(error.requestId ?? "", "Bearer", kind)
        assertNoKey(error, kind)
      }
      assert.strictEqual(server.requests.length, cases.length)
      for (const span of exporter.getFinishedSpans()) {
        const rendered = JSON.stringify({ attributes: span.attributes, events: span.events })
        assert.notInclude(rendered, canaryKey)
        assert.notInclude(rendered, canaryKey.slice(-8))
      }
      assert.deepStrictEqual(canaryHits(), [])
    })
  )

  it.live("#1 20,000 SSE retry: fields: 4 span events and a count, the stream still completes", () =>
    Effect.gen(function* () {
      exporter.reset()
      const server = yield* rawServer((socket) => {
        socket.end(
          sseHead() +
            chunk("retry: 1000\n".repeat(20_000)) +
            chunk(sseFrame(payload.created()) + sseFrame(payload.completed("resp_1", []))) +
            chunk("")
        )
      })
      const client = yield* clientFor(transport, server.origin)
      const events = yield* Stream.runCollect(client.stream(request)).pipe(Effect.provide(Tracing))
      assert.strictEqual(events.at(-1)?.type, "response.completed")
      const [chat] = spansNamed(`chat ${request.model}`)
      assert.isDefined(chat)
      assert.strictEqual(chat!.events.filter((event) => event.name === "volley.sse.retry_field").length, 4)
      assert.strictEqual(chat!.attributes["volley.sse.retry_fields"], 20_000)
    })
  )

  it.live("#3 a 2 MiB chunked JSON answer to create, cap 1 MiB: ResponseTooLarge{json}, not read whole", () =>
    Effect.gen(function* () {
      // a valid response (it decodes when read whole) with 2 MiB of padding
      const pad = JSON.stringify(completed({ padding: "x".repeat(2 * MiB) }))
      const server = yield* rawServer((socket) => {
        socket.write(head(200, { "content-type": "application/json", "transfer-encoding": "chunked" }))
        for (let at = 0; at < pad.length; at += 64 * 1024) socket.write(chunk(pad.slice(at, at + 64 * 1024)))
        socket.write(chunk(""))
      })
      const client = yield* clientFor(transport, server.origin, { maxJsonBytes: MiB })
      const error = failureOf(yield* Effect.exit(client.create(request)))
      assert.strictEqual(error._tag, "ResponseTooLarge")
      if (error._tag !== "ResponseTooLarge") return
      assert.strictEqual(error.body, "json")
      assert.strictEqual(error.maxBytes, MiB)
      assert.isFalse(error.retryable)
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live("#3 content-length 200 MB to create (default cap 32 MiB): ResponseTooLarge at once, the body unread", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        // announces 200 MB, sends 1 KiB and holds the socket: reading it would wait for the headers timer
        socket.write(head(200, { "content-type": "application/json", "content-length": 200_000_000 }))
        socket.write("x".repeat(1024))
      })
      const client = yield* clientFor(transport, server.origin, { timeouts: { headersMs: 5_000 } })
      const started = Date.now()
      const error = failureOf(yield* Effect.exit(client.create(request)))
      assert.strictEqual(error._tag, "ResponseTooLarge")
      assert.strictEqual((error as { maxBytes?: number }).maxBytes, 32 * MiB)
      assert.isBelow(Date.now() - started, 2_000)
      assert.isTrue(yield* eventually(() => server.closed() === server.opened()), "the socket was closed")
    })
  )

  it.live("#3 a 2 MiB application/json answer to a stream request, cap 1 MiB: ResponseTooLarge{json}", () =>
    Effect.gen(function* () {
      const pad = JSON.stringify(completed({ padding: "x".repeat(2 * MiB) }))
      const server = yield* rawServer((socket) => {
        socket.write(head(200, { "content-type": "application/json", "transfer-encoding": "chunked" }))
        for (let at = 0; at < pad.length; at += 64 * 1024) socket.write(chunk(pad.slice(at, at + 64 * 1024)))
        socket.write(chunk(""))
      })
      const client = yield* clientFor(transport, server.origin, { maxJsonBytes: MiB })
      const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
      assert.strictEqual(error._tag, "ResponseTooLarge")
      assert.strictEqual((error as { body?: string }).body, "json")
    })
  )

  it.live(
    "#2 2 MiB of text deltas, stream cap 1 MiB: ResponseTooLarge{stream} with the partial text, socket closed",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => {
          socket.write(sseHead() + chunk(sseFrame(payload.created()) + sseFrame(payload.messageAdded())))
          const body = deltas(2048, 1000)
          for (let at = 0; at < body.length; at += 64 * 1024) socket.write(chunk(body.slice(at, at + 64 * 1024)))
          // held open: only the cap can end this stream
        })
        const client = yield* clientFor(transport, server.origin, { maxStreamBytes: MiB })
        const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
        assert.strictEqual(error._tag, "ResponseTooLarge")
        if (error._tag !== "ResponseTooLarge") return
        assert.strictEqual(error.body, "stream")
        assert.strictEqual(error.maxBytes, MiB)
        const text = (error.partial?.output?.[0] as { content?: Array<{ text?: string }> } | undefined)?.content?.[0]
          ?.text
        assert.isTrue(text !== undefined && text.length > 500_000 && text.length <= MiB, String(text?.length))
        assert.isTrue(yield* eventually(() => server.closed() === server.opened()), "the socket was closed")
      })
  )
})

describe("issue 13 #13: the undici pool's connection cap", () => {
  it.live("maxConnections 2: six concurrent calls to one origin open two sockets and all succeed", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => {
        setTimeout(() => jsonReply(socket, 200, completed()), 150)
      })
      const client = yield* clientFor(transports[0]!, server.origin, { maxConnections: 2 })
      const results = yield* Effect.forEach(Array.from({ length: 6 }), () => client.create(request), {
        concurrency: "unbounded"
      })
      assert.strictEqual(results.length, 6)
      assert.strictEqual(server.requests.length, 6)
      assert.strictEqual(server.opened(), 2)
    })
  )
})
