/**
 * Issue 13 (hardening round 2), in memory: one retryable-code list on the JSON and SSE paths, the
 * stream byte cap in the decoder, redaction that never gives up below its depth limit, a terminal
 * output that disagrees with the streamed items (the terminal wins, with a warning), and deltas
 * that name an unknown or a foreign `item_id`, and the one nesting limit for model JSON. The socket-level cases are in HostileServer.test.ts,
 * the crash cases in a child process in HostileChild.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { retryableResponseCodes, withAttempts } from "../src/internal/errors.ts"
import { deepPlaceholder, maxRedactDepth, redactDeep, secretNeedles } from "../src/Redaction.ts"
import { exceedsDepth, maxJsonDepth, stackHeld } from "../src/internal/jsonDepth.ts"
import * as fc from "fast-check"
import { makeEventDecoder } from "../src/internal/sse.ts"
import * as ResponseAccumulator from "../src/ResponseAccumulator.ts"
import * as ResponsesClient from "../src/ResponsesClient.ts"
import { type ResponsesError, StreamTruncated } from "../src/ResponsesError.ts"
import { decodeStreamEventUnsafe, type OutputItem, type StreamEvent } from "../src/ResponsesSchema.ts"
import { recordError } from "./support/canary.ts"
import { canaryKey, clientOver, completed, json, makeFake, request } from "./support/fakeHttp.ts"
import { payload } from "./support/sse.ts"

const sseBody = (payloads: ReadonlyArray<unknown>): Response =>
  new Response(payloads.map((p) => `data: ${JSON.stringify(p)}\n\n`).join(""), {
    headers: { "content-type": "text/event-stream" }
  })

const failureOf = <A>(exit: Exit.Exit<A, ResponsesError>): ResponsesError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Cause.findErrorOption((exit as Exit.Failure<A, ResponsesError>).cause)
  assert.strictEqual(error._tag, "Some")
  const value = (error as { readonly value: ResponsesError }).value
  recordError(value)
  return value
}

describe("issue 14 #2: one list of retryable response codes", () => {
  it.effect("every code (and one that is not listed) gets the same retryable flag on the JSON and SSE paths", () =>
    Effect.gen(function* () {
      const codes = [...retryableResponseCodes, "invalid_prompt"]
      for (const code of codes) {
        const expected = code !== "invalid_prompt"
        const failed = { code, message: `failed with ${code}` }
        const fake = makeFake((_, req) => {
          const streaming = JSON.parse(new TextDecoder().decode((req.body as { body: Uint8Array }).body)).stream
          const kind = req.headers["x-kind"]
          if (!streaming) return json(completed({ status: "failed", error: failed }))
          return kind === "error-event"
            ? sseBody([payload.created(), { type: "error", code, message: failed.message }])
            : sseBody([payload.created(), payload.failed("resp_1", failed)])
        })
        const client = yield* clientOver(fake, { retryPolicy: { maxRetries: 0 } })
        const viaJson = failureOf(yield* Effect.exit(client.create(request)))
        const viaFailedEvent = failureOf(yield* Effect.exit(Stream.runDrain(client.stream(request))))
        const viaErrorEvent = failureOf(
          yield* Effect.exit(Stream.runDrain(client.stream(request, { headers: { "x-kind": "error-event" } })))
        )
        for (const [path, error] of [
          ["JSON", viaJson],
          ["response.failed", viaFailedEvent],
          ["error event", viaErrorEvent]
        ] as const) {
          assert.strictEqual(error._tag, "ResponseFailed", `${code} via ${path}`)
          assert.strictEqual(error.retryable, expected, `${code} via ${path}`)
        }
      }
    })
  )
})

describe("issue 13 #2: the stream byte cap in the decoder", () => {
  it("past maxStreamBytes the stream ends with ResponseTooLarge{stream} carrying the partial, reading nothing more", () => {
    const decoder = makeEventDecoder({ maxStreamBytes: 1024 })
    const out: Array<StreamEvent> = []
    const encode = (p: unknown) => new TextEncoder().encode(`data: ${JSON.stringify(p)}\n\n`)
    decoder.feed(encode(payload.created()), out)
    decoder.feed(encode(payload.messageAdded()), out)
    let error: ReturnType<typeof decoder.feed>
    for (let i = 0; i < 40 && error === undefined; i++)
      error = decoder.feed(encode(payload.textDelta("x".repeat(50))), out)
    assert.strictEqual(error?._tag, "ResponseTooLarge")
    if (error?._tag !== "ResponseTooLarge") return
    assert.strictEqual(error.body, "stream")
    assert.strictEqual(error.maxBytes, 1024)
    assert.isFalse(error.retryable)
    const text = (error.partial?.output?.[0] as { content?: Array<{ text?: string }> } | undefined)?.content?.[0]?.text
    assert.isTrue(text !== undefined && text.length > 0 && text.length < 1024, String(text?.length))
    // nothing after the cap is decoded
    assert.strictEqual(decoder.feed(encode(payload.textDelta("more")), out), error)
  })
})

describe("issue 13 #10: redaction beyond its depth limit replaces the subtree", () => {
  const nested = (depth: number, leaf: unknown): unknown => {
    let value = leaf
    for (let i = 0; i < depth; i++) value = { next: value }
    return value
  }

  it("a key nested 100 levels deep is gone from redactDeep's copy (the subtree is replaced)", () => {
    const needles = secretNeedles([canaryKey])
    const copy = redactDeep(nested(100, `the key ${canaryKey}`), needles)
    const rendered = JSON.stringify(copy)
    assert.notInclude(rendered, canaryKey)
    assert.notInclude(rendered, canaryKey.slice(-8))
    assert.include(rendered, deepPlaceholder)
    // within the limit nothing is replaced, strings are redacted in place
    const shallow = JSON.stringify(redactDeep(nested(maxRedactDepth - 1, `k ${canaryKey}`), needles))
    assert.notInclude(shallow, deepPlaceholder)
    assert.include(shallow, "k <redacted>")
  })

  it("an error's partial response with a key nested deep in an unknown item is redacted whole (JSON.stringify)", () => {
    const item = { type: "mystery_item", id: "x_1", payload: nested(200, { secret: canaryKey }) }
    const error = new StreamTruncated({
      message: "cut",
      retryable: false,
      attempts: 1,
      causes: [],
      partial: { id: "resp_1", output: [item as unknown as OutputItem] }
    })
    const final = withAttempts(error, 1, [], undefined, secretNeedles([canaryKey]))
    recordError(final)
    assert.notInclude(JSON.stringify(final), canaryKey)
    assert.notInclude(JSON.stringify(final), canaryKey.slice(-8))
  })
})

const events = (...payloads: ReadonlyArray<unknown>): Array<StreamEvent> => payloads.map(decodeStreamEventUnsafe)

const call = (callId: string, name: string, args: string, id = `fc_${callId}`) => ({
  type: "function_call",
  id,
  call_id: callId,
  name,
  arguments: args,
  status: "completed"
})

const message = (text: string) => ({
  type: "message",
  id: "msg_1",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text, annotations: [] }]
})

const foldAll = (list: ReadonlyArray<StreamEvent>) => {
  const seen: Array<ResponseAccumulator.StreamWarning> = []
  const accumulator = ResponseAccumulator.make({ onWarning: (warning) => seen.push(warning) })
  let error: ReturnType<typeof accumulator.add>
  list.forEach((event, index) => {
    error ??= accumulator.add(event, index)
  })
  return { accumulator, seen, error }
}

describe("issue 13 #12: a terminal output that disagrees with the streamed items", () => {
  it("messages are compared part by part: the same text matches, another text or another split does not", () => {
    const message = (...texts: ReadonlyArray<string>) =>
      ({
        type: "message",
        id: "msg_1",
        role: "assistant",
        status: "completed",
        content: texts.map((text) => ({ type: "output_text", text, annotations: [] }))
      }) as unknown as OutputItem
    const refusal = {
      type: "message",
      id: "msg_1",
      role: "assistant",
      status: "completed",
      content: [{ type: "refusal", refusal: "no" }]
    } as unknown as OutputItem
    assert.deepStrictEqual(ResponseAccumulator.compareOutput([message("Paris 18°C")], [message("Paris 18°C")]), [])
    assert.deepStrictEqual(ResponseAccumulator.compareOutput([refusal], [message("no")]), [])
    for (const [streamed, terminal] of [
      [message("Paris 18°C"), message("Paris 19°C")],
      [message("ab", ""), message("a", "b")],
      [message("a"), message("a", "")]
    ] as const) {
      assert.deepStrictEqual(
        ResponseAccumulator.compareOutput([streamed], [terminal]).map((difference) => difference.kind),
        ["changed"]
      )
    }
  })

  it("the terminal output wins and an OutputMismatch warning lists each difference (an unannounced call included)", () => {
    const streamedCall = call("call_a", "get_weather", '{"city":"Paris"}')
    const { accumulator, seen, error } = foldAll(
      events(
        payload.created(),
        { type: "response.output_item.added", output_index: 0, item: { ...streamedCall, arguments: "" } },
        { type: "response.output_item.done", output_index: 0, item: streamedCall },
        payload.completed("resp_1", [
          call("call_a", "get_weather", '{"city":"Oslo"}'),
          call("call_b", "charge_card", '{"amount":100}')
        ])
      )
    )
    assert.isUndefined(error)
    const expected: ReadonlyArray<ResponseAccumulator.OutputDifference> = [
      { outputIndex: 0, kind: "changed", itemType: "function_call", callId: "call_a", name: "get_weather" },
      { outputIndex: 1, kind: "unannounced", itemType: "function_call", callId: "call_b", name: "charge_card" }
    ]
    assert.deepStrictEqual(seen, [{ _tag: "OutputMismatch", differences: expected }])
    assert.deepStrictEqual(accumulator.warnings(), seen)
    // the rule: the terminal output wins
    const output = accumulator.snapshot().output ?? []
    assert.deepStrictEqual(
      output.map((item) => (item as { call_id?: string }).call_id),
      ["call_a", "call_b"]
    )
  })

  it("a streamed item missing from the terminal output is `dropped`; equal outputs give no warning", () => {
    const text = message("hello")
    const dropped = foldAll(
      events(
        payload.created(),
        { type: "response.output_item.done", output_index: 0, item: text },
        { type: "response.output_item.done", output_index: 1, item: call("call_x", "get_time", "{}") },
        payload.completed("resp_1", [text])
      )
    )
    assert.deepStrictEqual(
      dropped.seen.flatMap((warning) => (warning._tag === "OutputMismatch" ? warning.differences : [])),
      [{ outputIndex: 1, kind: "dropped", itemType: "function_call", callId: "call_x", name: "get_time" }]
    )
    // ids and encrypted blobs may legitimately change (conformance corpus): not a difference
    const same = foldAll(
      events(
        payload.created(),
        payload.messageAdded(0, "msg_stream"),
        payload.textDelta("hello", 0, "msg_stream"),
        payload.completed("resp_1", [text])
      )
    )
    assert.deepStrictEqual(same.seen, [])
  })

  it("compareOutput lists at most maxOutputDifferences (a hostile terminal output cannot grow the warning)", () => {
    const terminal = Array.from({ length: 1000 }, (_, i) => call(`c${i}`, "t", "{}") as unknown as OutputItem)
    const differences = ResponseAccumulator.compareOutput([], terminal)
    assert.strictEqual(differences.length, ResponseAccumulator.maxOutputDifferences)
    assert.isTrue(differences.every((difference) => difference.kind === "unannounced"))
  })
})

describe("issue 13 #13: a delta for an unknown item_id", () => {
  it("an item_id of another added item is ItemIdMismatch (the delta would land in the wrong item)", () => {
    const { error } = foldAll(
      events(
        payload.created(),
        payload.messageAdded(0, "msg_1"),
        payload.partAdded(0, "msg_1"),
        payload.callAdded(1, "fc_1", "call_1"),
        payload.textDelta("spoofed", 0, "fc_1")
      )
    )
    assert.strictEqual(error?.reason, "ItemIdMismatch")
    assert.strictEqual(error?.eventIndex, 4)
  })

  it("an item_id never added is folded by output_index and reported once as an UnknownItemId warning", () => {
    const { accumulator, seen, error } = foldAll(
      events(
        payload.created(),
        payload.messageAdded(0, "msg_1"),
        payload.partAdded(0, "msg_1"),
        payload.textDelta("a", 0, "msg_ghost"),
        payload.textDelta("b", 0, "msg_ghost_2")
      )
    )
    assert.isUndefined(error)
    assert.deepStrictEqual(seen, [{ _tag: "UnknownItemId", outputIndex: 0, eventIndex: 3 }])
    const item = accumulator.snapshot().output?.[0] as { content?: Array<{ text?: string }> } | undefined
    assert.strictEqual(item?.content?.[0]?.text, "ab")
  })
})

describe("issue 13 #9/#10: one nesting limit where model JSON enters the client", () => {
  const deepItem = (depth: number): string => {
    let inner = '"leaf"'
    for (let i = 0; i < depth; i++) inner = `{"n":${inner}}`
    return `{"type":"mystery_item","id":"x_1","payload":${inner}}`
  }

  it("exceedsDepth is iterative: 100,000 levels are refused without a stack overflow; 256 levels pass", () => {
    let deep: unknown = "leaf"
    for (let i = 0; i < 100_000; i++) deep = [deep]
    assert.isTrue(exceedsDepth(deep))
    let ok: unknown = "leaf"
    for (let i = 1; i < maxJsonDepth; i++) ok = { n: ok }
    assert.isFalse(exceedsDepth([ok]))
    assert.isTrue(exceedsDepth([[ok]]))
    assert.strictEqual(ResponsesClient.maxJsonDepth, 256)
  })

  it("exceedsDepth shares its stacks without holding on to anything, and agrees with a recursive walk", () => {
    // an early stop leaves siblings on the stack: they are cleared
    let deep: unknown = "leaf"
    for (let i = 0; i < maxJsonDepth + 10; i++) deep = { next: deep }
    const wide = Array.from({ length: 5_000 }, (_, i) => (i === 0 ? deep : { i }))
    assert.isTrue(exceedsDepth(wide))
    assert.deepStrictEqual(stackHeld(), { values: 0, length: 1024 }, "cleared, and cut back to 1,024 slots")
    assert.isFalse(exceedsDepth(wide.slice(1)))
    assert.strictEqual(stackHeld().values, 0)
    const depthOf = (value: unknown): number =>
      typeof value !== "object" || value === null
        ? 0
        : 1 + Math.max(0, ...Object.values(value as Record<string, unknown>).map(depthOf))
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 9 }), (value, max) => {
        assert.strictEqual(exceedsDepth(value, max), depthOf(value) > max)
        assert.strictEqual(stackHeld().values, 0)
      }),
      { numRuns: 2_000 }
    )
  })

  it.effect(
    "an output item nested 100,000 deep: ResponseDecodeError{path: (nesting)} from create and from stream",
    () =>
      Effect.gen(function* () {
        const item = deepItem(100_000)
        const body = `{"id":"resp_1","object":"response","status":"completed","output":[${item}]}`
        const fake = makeFake((_, req) => {
          const streaming = JSON.parse(new TextDecoder().decode((req.body as { body: Uint8Array }).body)).stream
          if (!streaming) return new Response(body, { headers: { "content-type": "application/json" } })
          return new Response(
            `data: ${JSON.stringify(payload.created())}\n\ndata: {"type":"response.output_item.done","output_index":0,"item":${item}}\n\n`,
            { headers: { "content-type": "text/event-stream" } }
          )
        })
        const client = yield* clientOver(fake, { retryPolicy: { maxRetries: 0 } })
        for (const call of [client.create(request), Stream.runDrain(client.stream(request))]) {
          const error = failureOf(yield* Effect.exit(call))
          assert.strictEqual(error._tag, "ResponseDecodeError")
          assert.strictEqual((error as { path?: string }).path, "(nesting)")
        }
      })
  )
})
