/**
 * Both transports over raw loopback sockets: the request as the server sees it (one spelling per
 * header, the attempt counter, the redacted query key), status mapping and Retry-After between
 * attempts, and trace propagation on the direct undici path. Real time; split from the former
 * UndiciTransport.test.ts by concern (helpers: support/transportCases.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import type * as ResponsesError from "../src/ResponsesError.ts"
import { canaryKey, completed, request } from "./support/fakeHttp.ts"
import { head, jsonReply, rawServer, transports } from "./support/server.ts"
import { exporter, spansNamed, Tracing } from "./support/tracing.ts"
import {
  allClosed,
  canarySweep,
  clientFor,
  failureOf,
  types,
  watchUnhandled,
  wholeStream
} from "./support/transportCases.ts"

const unhandled = watchUnhandled()

describe.each(transports)("request shape at the server ($name)", (transport) => {
  it.live(
    "A09 create: Bearer key, accept, traceparent of each attempt span, attempt header 0, 1, 2, one idempotency key per call, per-call headers",
    () =>
      Effect.gen(function* () {
        exporter.reset()
        const server = yield* rawServer((socket, _request, index) => {
          if (index < 2) jsonReply(socket, 503, { error: { message: "busy" } }, { "retry-after-ms": "0" })
          else jsonReply(socket, 200, completed())
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1`, idempotencyKey: true })
        yield* client.create(request, { headers: { "x-volley-test": "per-call" } }).pipe(Effect.provide(Tracing))
        yield* client.create(request).pipe(Effect.provide(Tracing))
        const seen = server.requests
        assert.strictEqual(seen.length, 4)
        assert.deepStrictEqual(
          seen.map((one) => one.headers["x-volley-retry-count"]),
          ["0", "1", "2", "0"]
        )
        for (const one of seen) {
          assert.strictEqual(one.method, "POST")
          assert.strictEqual(one.path, "/v1/responses")
          assert.strictEqual(one.headers.authorization, `Bearer ${canaryKey}`)
          assert.strictEqual(one.headers.accept, "application/json")
          assert.strictEqual(one.headers["content-type"], "application/json")
          assert.strictEqual(JSON.parse(one.body).stream, false)
          assert.match(one.headers.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
        }
        const keys = seen.map((one) => one.headers["idempotency-key"])
        assert.isString(keys[0])
        assert.isAbove(keys[0]!.length, 8)
        assert.deepStrictEqual(keys.slice(0, 3), [keys[0], keys[0], keys[0]])
        assert.notStrictEqual(keys[3], keys[0])
        assert.deepStrictEqual(
          seen.map((one) => one.headers["x-volley-test"]),
          ["per-call", "per-call", "per-call", undefined]
        )
        // each traceparent names the attempt's own POST span, a child of the call's chat span
        const [chat] = spansNamed(`chat ${request.model}`)
        assert.isDefined(chat)
        const attempts = spansNamed("POST").filter(
          (span) => span.parentSpanContext?.spanId === chat!.spanContext().spanId
        )
        assert.strictEqual(attempts.length, 3)
        const sent = seen.slice(0, 3).map((one) => one.headers.traceparent!.split("-"))
        for (const [, traceId] of sent) assert.strictEqual(traceId, chat!.spanContext().traceId)
        assert.deepStrictEqual(
          sent.map(([, , spanId]) => spanId).sort(),
          attempts.map((span) => span.spanContext().spanId).sort()
        )
      })
  )

  it.live(
    "G02 stream: a custom authHeader carries the raw key, accept is text/event-stream, ?key= reaches the server only",
    () =>
      Effect.gen(function* () {
        exporter.reset()
        const urlKey = `urlkey-${canaryKey}`
        const server = yield* rawServer((socket) => wholeStream(socket))
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1?key=${urlKey}`,
          authHeader: "x-gateway-key"
        })
        const received = yield* Stream.runCollect(client.stream(request)).pipe(Effect.provide(Tracing))
        assert.deepStrictEqual(
          received.map((event) => event.type),
          types
        )
        const [seen] = server.requests
        assert.strictEqual(seen!.path, `/v1/responses?key=${urlKey}`)
        assert.strictEqual(seen!.headers["x-gateway-key"], canaryKey)
        assert.isUndefined(seen!.headers.authorization)
        assert.strictEqual(seen!.headers.accept, "text/event-stream")
        assert.strictEqual(seen!.headers["x-volley-retry-count"], "0")
        assert.isString(seen!.headers.traceparent)
        assert.strictEqual(JSON.parse(seen!.body).stream, true)
        const [attempt] = spansNamed("POST")
        assert.isDefined(attempt)
        assert.include(String(attempt!.attributes["url.full"]), "key=")
        for (const span of exporter.getFinishedSpans()) {
          const rendered = JSON.stringify({ attributes: span.attributes, events: span.events, status: span.status })
          assert.notInclude(rendered, urlKey.slice(-8))
        }
      })
  )

  for (const kind of ["create", "stream"] as const) {
    it.live(`A01 ${kind}: a 401 is not retried; the key and ?key= echoed in its body never reach the error`, () =>
      Effect.gen(function* () {
        exporter.reset()
        const urlKey = `urlkey-${canaryKey}`
        const server = yield* rawServer((socket) =>
          jsonReply(socket, 401, {
            error: {
              message: `Incorrect API key provided: ${canaryKey} (url ${urlKey})`,
              type: "invalid_request_error",
              code: "invalid_api_key"
            }
          })
        )
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1?key=${urlKey}` })
        const call = kind === "create" ? client.create(request) : Stream.runDrain(client.stream(request))
        const error = failureOf(yield* Effect.exit(call.pipe(Effect.provide(Tracing))))
        assert.strictEqual(error._tag, "AuthenticationError")
        assert.strictEqual((error as ResponsesError.AuthenticationError).kind, "InvalidKey")
        assert.strictEqual(error.attempts, 1)
        assert.strictEqual(server.requests.length, 1)
        // the excerpt is there (so the check below is not vacuous), with both secrets cut out
        assert.include(error.message, "Incorrect API key provided")
        for (const rendered of [error.message, JSON.stringify(error), String(error)]) {
          assert.notInclude(rendered, canaryKey.slice(-8))
          assert.notInclude(rendered, urlKey.slice(-8))
        }
        for (const span of exporter.getFinishedSpans()) {
          const rendered = JSON.stringify({ attributes: span.attributes, events: span.events, status: span.status })
          assert.notInclude(rendered, canaryKey.slice(-8))
          assert.notInclude(rendered, urlKey.slice(-8))
        }
      })
    )
  }
  it.live(
    "per-call headers replace static ones whatever their case; the configured key replaces a per-call Authorization; nothing is sent twice",
    () =>
      Effect.gen(function* () {
        const server = yield* rawServer((socket) => jsonReply(socket, 200, completed()))
        const client = yield* clientFor(transport, {
          baseUrl: `${server.origin}/v1`,
          headers: { "X-Volley-Static": "static", "x-volley-both": "static" }
        })
        yield* client.create(request, {
          headers: { "X-Volley-Both": "per-call", Authorization: "Bearer per-call", Accept: "text/plain" }
        })
        const [seen] = server.requests
        const values = (name: string) =>
          seen!.rawHeaders.filter(([sent]) => sent.toLowerCase() === name).map(([, value]) => value)
        assert.deepStrictEqual(values("x-volley-static"), ["static"])
        assert.deepStrictEqual(values("x-volley-both"), ["per-call"])
        assert.deepStrictEqual(values("authorization"), [`Bearer ${canaryKey}`])
        assert.strictEqual(values("accept").length, 1)
        const names = seen!.rawHeaders.map(([name]) => name.toLowerCase())
        assert.deepStrictEqual(names, [...new Set(names)], "no header sent twice")
      })
  )

  it.live("A04 a 429 with retry-after: 1.2, then 200: one retry, sent no sooner than 1.2 s later", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket, _request, index) => {
        if (index === 0)
          jsonReply(
            socket,
            429,
            { error: { message: "slow down", code: "rate_limit_exceeded" } },
            { "retry-after": "1.2" }
          )
        else jsonReply(socket, 200, completed())
      })
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      const response = yield* client.create(request)
      assert.strictEqual(response.id, "resp_1")
      assert.strictEqual(server.requests.length, 2)
      // the default backoff (≤ 500 ms) would come far sooner: the advertised delay is a floor
      assert.isAtLeast(server.requests[1]!.at - server.requests[0]!.at, 1190)
    })
  )

  it.live(
    "A12 stream: a 2 MiB 400 body starting with the key: one request, ≤ 1 KiB redacted message, body abandoned",
    () =>
      Effect.gen(function* () {
        let written = 0
        const total = 2 * 1024 * 1024
        const server = yield* rawServer((socket) => {
          socket.write(head(400, { "content-type": "application/json", "content-length": total }))
          const first = Buffer.from(`{"error":{"message":"bad key ${canaryKey} `)
          socket.write(first)
          written = first.byteLength
          const filler = Buffer.alloc(16 * 1024, 120)
          const next = () => {
            if (socket.destroyed || written >= total) return
            socket.write(filler)
            written += filler.byteLength
            setTimeout(next, 5)
          }
          next()
        })
        const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
        const error = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.strictEqual((error as ResponsesError.InvalidRequestError).status, 400)
        assert.strictEqual(server.requests.length, 1)
        assert.isAtMost(Buffer.byteLength(error.message, "utf8"), 1024)
        assert.include(error.message, "bad key")
        assert.notInclude(error.message, canaryKey.slice(-8))
        assert.isTrue(yield* allClosed(server, 1))
        assert.isBelow(written, total)
      })
  )
})

describe("trace propagation (direct undici)", () => {
  const transport = transports[0]!
  it.live("no traceparent when the tracer is off or HttpClient.TracerPropagationEnabled is false", () =>
    Effect.gen(function* () {
      const server = yield* rawServer((socket) => jsonReply(socket, 200, completed()))
      const client = yield* clientFor(transport, { baseUrl: `${server.origin}/v1` })
      yield* client.create(request).pipe(Effect.provide(Tracing))
      yield* client.create(request).pipe(Effect.provideService(References.TracerEnabled, false))
      yield* client
        .create(request)
        .pipe(Effect.provide(Tracing), Effect.provideService(HttpClient.TracerPropagationEnabled, false))
      assert.deepStrictEqual(
        server.requests.map((seen) => typeof seen.headers.traceparent),
        ["string", "undefined", "undefined"]
      )
    })
  )
})

canarySweep(unhandled, 1)
