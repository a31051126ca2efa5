/**
 * The SSE decoding layer (`internal/sse.ts`): framing, sentinels, malformed payloads, size caps,
 * error events and truncation, cases B02–B12, C01, C02, C06(a)(c), C09 of docs/reliability.md. Streams
 * are built in memory (no sockets); upstream bodies are `scriptedUpstream`s that record their
 * release and die if pulled after their script.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { decodeEvents, defaultMaxEventSize, type SseStreamError } from "../src/internal/sse.ts"
import * as ResponseAccumulator from "../src/ResponseAccumulator.ts"
import type { Response, StreamEvent } from "../src/ResponsesSchema.ts"
import {
  chunksOf,
  decodeChunks,
  decodeViaStream,
  fingerprint,
  functionCallTranscript,
  payload,
  render,
  scriptedUpstream,
  splitAt,
  sse,
  textHead,
  textTranscript,
  upstreamOf,
  utf8
} from "./support/sse.ts"

/** Runs `decodeEvents` over an upstream; records, per event, whether the upstream was already released. */
const run = (
  upstream: Stream.Stream<Uint8Array>,
  options?: Parameters<typeof decodeEvents>[0],
  released?: () => boolean
) =>
  Effect.gen(function* () {
    const events: Array<StreamEvent> = []
    const releasedAt: Array<boolean> = []
    const result = yield* upstream.pipe(
      decodeEvents(options),
      Stream.runForEach((event) =>
        Effect.sync(() => {
          events.push(event)
          releasedAt.push(released?.() ?? false)
        })
      ),
      Effect.result
    )
    const error: SseStreamError | undefined = result._tag === "Failure" ? result.failure : undefined
    return { events, error, releasedAt }
  })

const textOf = (response: Response | undefined): string => {
  let text = ""
  for (const item of response?.output ?? []) {
    if (item.type !== "message") continue
    for (const part of item.content) if (part.type === "output_text") text += part.text
  }
  return text
}

const partialOf = (error: SseStreamError | undefined): Response | undefined =>
  error !== undefined && "partial" in error ? error.partial : undefined

describe("decodeEvents framing", () => {
  const frames = textTranscript(["Hello", ", ", "world"])
  const baseline = fingerprint(decodeChunks([utf8(render(frames, "LF", "data"))]))

  it("B02 LF, CRLF and bare CR framing, with and without event lines, decode to identical events", () => {
    for (const eol of ["LF", "CRLF", "CR"] as const) {
      for (const framing of ["data", "event"] as const) {
        const outcome = decodeChunks([utf8(render(frames, eol, framing))])
        assert.isUndefined(outcome.error, `${eol}/${framing}`)
        assert.strictEqual(fingerprint(outcome), baseline, `${eol}/${framing}`)
      }
    }
  })

  it("B02 a mix of LF, CRLF and CR in one stream decodes to the same events", () => {
    const lf = render(frames, "LF", "event")
    let index = 0
    const mixed = lf.replace(/\n/g, () => ["\n", "\r\n", "\r"][index++ % 3]!)
    assert.strictEqual(fingerprint(decodeChunks([utf8(mixed)])), baseline)
  })

  it("B02 every CRLF split between its \\r and \\n gives no phantom events", () => {
    const bytes = utf8(render(frames, "CRLF", "event"))
    const cuts: Array<number> = []
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 13) cuts.push(i + 1)
    assert.isAbove(cuts.length, 20)
    const outcome = decodeChunks(splitAt(bytes, cuts))
    assert.strictEqual(outcome.events.length, frames.length)
    assert.strictEqual(fingerprint(outcome), baseline)
  })

  it("B02 a two-line data: event under CRLF is joined with \\n", () => {
    const head = textHead()
      .map((p) => `data: ${JSON.stringify(p)}\r\n\r\n`)
      .join("")
    const twoLines =
      'data: {"type":"response.output_text.delta",\r\ndata: "output_index":0,"content_index":0,"delta":"hi"}\r\n\r\n'
    const tail = `data: ${JSON.stringify(payload.completed())}\r\n\r\n`
    const bytes = utf8(head + twoLines + tail)
    const outcome = decodeChunks(splitAt(bytes, [bytes.indexOf(10, head.length + 10)]))
    assert.isUndefined(outcome.error)
    const delta = outcome.events[3]
    assert.strictEqual(delta?.type, "response.output_text.delta")
    assert.strictEqual((delta as { delta: string }).delta, "hi")
  })

  it("B02 the event name `error` is kept across a CR|LF split (an untyped body under it is still an error)", () => {
    const text = `${textHead()
      .map((p) => `data: ${JSON.stringify(p)}\r\n\r\n`)
      .join("")}event: error\r\ndata: {"code":"server_error","message":"boom"}\r\n\r\n`
    const bytes = utf8(text)
    const crs: Array<number> = []
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 13) crs.push(i + 1)
    const outcome = decodeChunks(splitAt(bytes, crs))
    assert.strictEqual(outcome.error?._tag, "ResponseFailed")
    if (outcome.error?._tag === "ResponseFailed") assert.strictEqual(outcome.error.code, "server_error")
  })
})

describe("decodeEvents comments, keepalives and fields", () => {
  it("B03 comments (`: keep-alive`, bare `:`, `: OPENROUTER PROCESSING`) are skipped before and between events", () => {
    const frames = textTranscript(["a", "b", "c"])
    const plain = decodeChunks([utf8(render(frames, "LF", "data"))])
    const comments = [": keep-alive\n", ":\n", ": OPENROUTER PROCESSING\n\n"]
    let noisy = comments.join("").repeat(100)
    for (const frame of frames) noisy += `${render([frame], "LF", "data")}${comments.join("").repeat(3)}`
    const outcome = decodeChunks(chunksOf(utf8(noisy), 7))
    assert.isUndefined(outcome.error)
    assert.strictEqual(fingerprint(outcome), fingerprint(plain))
  })

  it.effect("B03 keepalive events pass through as events (the client turns them into heartbeats)", () =>
    Effect.gen(function* () {
      const text = sse(
        { type: "keepalive", sequence_number: 0 },
        ...textHead(),
        { type: "keepalive", sequence_number: 4 },
        payload.textDelta("x"),
        payload.completed()
      )
      const { events, error } = yield* run(Stream.make(utf8(text)))
      assert.isUndefined(error)
      assert.deepStrictEqual(
        events.map((event) => event.type),
        [
          "keepalive",
          "response.created",
          "response.output_item.added",
          "response.content_part.added",
          "keepalive",
          "response.output_text.delta",
          "response.completed"
        ]
      )
    })
  )

  it.effect("B04 `retry: 3000` is reported to onRetryField, `id: 7` and an id with NUL are harmless", () =>
    Effect.gen(function* () {
      const retries: Array<number> = []
      const text = `retry: 3000\n\nid: 7\n${sse(payload.created())}id: bad\u0000id\n${sse(
        payload.messageAdded(),
        payload.completed()
      )}`
      const { events, error } = yield* run(Stream.make(utf8(text)), { onRetryField: (ms) => retries.push(ms) })
      assert.isUndefined(error)
      assert.deepStrictEqual(retries, [3000])
      assert.strictEqual(events.at(-1)?.type, "response.completed")
    })
  )
})

describe("decodeEvents sentinel and termination", () => {
  const body = sse(...textHead(), payload.textDelta("hi"), payload.completed())

  it.effect("B05 (a) `data: [DONE]` after response.completed succeeds", () =>
    Effect.gen(function* () {
      const { events, error } = yield* run(Stream.make(utf8(`${body}data: [DONE]\n\n`)))
      assert.isUndefined(error)
      assert.strictEqual(events.at(-1)?.type, "response.completed")
    })
  )

  it.effect("B05 (b) no sentinel at all succeeds", () =>
    Effect.gen(function* () {
      const upstream = upstreamOf([utf8(body)], "end")
      const { events, error } = yield* run(upstream.stream)
      assert.isUndefined(error)
      assert.strictEqual(events.length, 5)
    })
  )

  for (const [label, forged] of [
    ["[DONE]x", "data: [DONE]x\n\n"],
    ["[DONE] with a trailing space", "data: [DONE] \n\n"],
    ["[DONE] with a second leading space", "data:  [DONE]\n\n"],
    ["[DONE] followed by data in the same event", `data: [DONE]\ndata: ${JSON.stringify(payload.completed())}\n\n`]
  ] as const) {
    it.effect(`B05 (c) ${label} is a ForgedSentinel and the upstream is released at once`, () =>
      Effect.gen(function* () {
        const upstream = upstreamOf([utf8(sse(...textHead())), utf8(forged)], "die")
        let releasedAtFailure = false
        const result = yield* upstream.stream.pipe(
          decodeEvents(),
          Stream.tapError(() => Effect.sync(() => (releasedAtFailure = upstream.released()))),
          Stream.runDrain,
          Effect.flip
        )
        assert.strictEqual(result._tag, "StreamProtocolError")
        if (result._tag !== "StreamProtocolError") return
        assert.strictEqual(result.reason, "ForgedSentinel")
        assert.strictEqual(result.eventIndex, 3)
        assert.strictEqual(result.partial?.id, "resp_1")
        assert.isTrue(releasedAtFailure)
        assert.strictEqual(upstream.pulls(), 2)
      })
    )
  }

  it.effect(
    "B05 (d) garbage and an error event after the terminal event are never read; the body is released first",
    () =>
      Effect.gen(function* () {
        const trailer =
          'data: [DONE]\n\nnot sse at all {{{\n\nevent: error\ndata: {"type":"error","code":"server_error"}\n\n'
        // The terminal event and the trailer share one chunk; a second chunk would be more garbage,
        // and any pull after that dies. The socket stays "open": the script never ends by itself.
        const upstream = upstreamOf([utf8(body + trailer), utf8(trailer)], "hang")
        const { error, events, releasedAt } = yield* run(upstream.stream, undefined, upstream.released)
        assert.isUndefined(error)
        assert.strictEqual(events.at(-1)?.type, "response.completed")
        assert.isTrue(releasedAt.at(-1), "released before the terminal event reached the consumer")
        assert.strictEqual(upstream.pulls(), 1)
      })
  )

  it.effect("response.incomplete is a terminal event: emitted, then the stream ends (C03 stream side)", () =>
    Effect.gen(function* () {
      const incomplete = {
        type: "response.incomplete",
        response: { id: "resp_1", status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }
      }
      const upstream = upstreamOf([utf8(sse(...textHead(), payload.textDelta("cut"), incomplete))], "die")
      const { events, error } = yield* run(upstream.stream)
      assert.isUndefined(error)
      assert.strictEqual(events.at(-1)?.type, "response.incomplete")
      const response = yield* ResponseAccumulator.collect(Stream.fromIterable(events))
      assert.strictEqual(response.incomplete_details?.reason, "max_output_tokens")
      assert.strictEqual(textOf(response), "cut")
    })
  )

  it.effect("C06 (a) clean EOF after response.created and deltas is StreamTruncated with the partial text", () =>
    Effect.gen(function* () {
      const text = sse(...textHead(), payload.textDelta("Hel"), payload.textDelta("lo"))
      const { events, error } = yield* run(Stream.make(utf8(text)))
      assert.strictEqual(events.length, 5)
      assert.strictEqual(error?._tag, "StreamTruncated")
      assert.strictEqual(textOf(partialOf(error)), "Hello")
      assert.strictEqual(partialOf(error)?.id, "resp_1")
    })
  )

  it.effect("C06 (c) [DONE] before response.completed is StreamTruncated, and nothing after it is read", () =>
    Effect.gen(function* () {
      const upstream = upstreamOf([utf8(`${sse(...textHead(), payload.textDelta("Hi"))}data: [DONE]\n\n`)], "die")
      const { error } = yield* run(upstream.stream)
      assert.strictEqual(error?._tag, "StreamTruncated")
      assert.strictEqual(textOf(partialOf(error)), "Hi")
      assert.strictEqual(upstream.pulls(), 1)
    })
  )

  it.effect(
    "a caller-supplied accumulator sees every decoded event once and holds the partial after an upstream error",
    () =>
      Effect.gen(function* () {
        const accumulator = ResponseAccumulator.make()
        const upstream = Stream.make(utf8(sse(...textHead(), payload.textDelta("par")))).pipe(
          Stream.concat(Stream.fail("socket reset" as const))
        )
        const error = yield* upstream.pipe(decodeEvents({ accumulator }), Stream.runDrain, Effect.flip)
        assert.strictEqual(error, "socket reset")
        assert.strictEqual(textOf(accumulator.snapshot()), "par")
        assert.strictEqual(accumulator.snapshot().id, "resp_1")
      })
  )

  it.effect(
    "decoding is pull-driven: a consumer that takes the first 5 events reads only the 3 chunks holding them",
    () =>
      Effect.gen(function* () {
        const chunks = [
          utf8(sse(...textHead())),
          ...Array.from({ length: 1000 }, (_, i) => utf8(sse(payload.textDelta(`${i}`))))
        ]
        const upstream = scriptedUpstream(chunks.length, (index) => chunks[index]!, "die")
        const taken = yield* upstream.stream.pipe(decodeEvents(), Stream.take(5), Stream.runCollect)
        assert.strictEqual(taken.length, 5)
        assert.isAtMost(upstream.pulls(), 3)
        assert.isTrue(upstream.released())
      })
  )

  it.effect("upstream errors pass through unchanged", () =>
    Effect.gen(function* () {
      const upstream = Stream.make(utf8(sse(payload.created()))).pipe(
        Stream.concat(Stream.fail("socket reset" as const))
      )
      const error = yield* upstream.pipe(decodeEvents(), Stream.runDrain, Effect.flip)
      assert.strictEqual(error, "socket reset")
    })
  )
})

describe("decodeEvents malformed payloads", () => {
  it.effect(
    "B06 truncated JSON at event 5 is InvalidJson{eventIndex:5}; no payload in the error; partial attached",
    () =>
      Effect.gen(function* () {
        const canary = `sk-volley-CANARY-${Math.random().toString(36).slice(2)}`
        const text = `${sse(...textHead(), payload.textDelta("Hel"), payload.textDelta("lo"))}data: {"type":"response.output_text.delta","delta":"${canary}\n\n`
        const upstream = upstreamOf([utf8(text)], "die")
        const { error } = yield* run(upstream.stream)
        assert.strictEqual(error?._tag, "StreamProtocolError")
        if (error?._tag !== "StreamProtocolError") return
        assert.strictEqual(error.reason, "InvalidJson")
        assert.strictEqual(error.eventIndex, 5)
        assert.strictEqual(textOf(error.partial), "Hello")
        for (const rendered of [error.message, String(error), JSON.stringify(error), JSON.stringify(error.partial)]) {
          assert.notInclude(rendered, canary)
          assert.notInclude(rendered, canary.slice(-8))
        }
        assert.isTrue(upstream.released())
      })
  )

  it.effect(
    "B07 unknown and reasoning-summary events pass through without disturbing accumulation; no type is MissingType",
    () =>
      Effect.gen(function* () {
        const future = { type: "response.future_thing.delta", output_index: 0, delta: "?", extra: { kept: true } }
        const summary = {
          type: "response.reasoning_summary_text.delta",
          output_index: 0,
          item_id: "msg_1",
          summary_index: 0,
          delta: "thinking"
        }
        const good = sse(
          ...textHead(),
          future,
          payload.textDelta("Hi"),
          summary,
          payload.textDelta("!"),
          payload.completed()
        )
        const ok = yield* run(Stream.make(utf8(good)))
        assert.isUndefined(ok.error)
        assert.deepStrictEqual(ok.events[3], future as unknown as StreamEvent)
        assert.strictEqual(ok.events[5]?.type, "response.reasoning_summary_text.delta")
        const response = yield* ResponseAccumulator.collect(Stream.fromIterable(ok.events))
        assert.strictEqual(textOf(response), "Hi!")

        const typeless = sse(...textHead(), { output_index: 0, delta: "no type" }, payload.completed())
        const bad = yield* run(Stream.make(utf8(typeless)))
        assert.strictEqual(bad.error?._tag, "StreamProtocolError")
        if (bad.error?._tag === "StreamProtocolError") {
          assert.strictEqual(bad.error.reason, "MissingType")
          assert.strictEqual(bad.error.eventIndex, 3)
        }
      })
  )

  it.effect("a known event with a malformed body is ResponseDecodeError naming the path", () =>
    Effect.gen(function* () {
      const text = sse(...textHead(), { ...payload.textDelta("x"), delta: 42 }, payload.completed())
      const { error } = yield* run(Stream.make(utf8(text)))
      assert.strictEqual(error?._tag, "ResponseDecodeError")
      if (error?._tag === "ResponseDecodeError") assert.strictEqual(error.path, "delta")
    })
  )

  it.effect("JSON that is not an object (a number, an array) is MissingType", () =>
    Effect.gen(function* () {
      for (const data of ["42", "[1,2]", '"text"', "null"]) {
        const { error } = yield* run(Stream.make(utf8(sse(payload.created(), data))))
        assert.strictEqual(error?._tag === "StreamProtocolError" && error.reason, "MissingType", data)
      }
    })
  )
})

describe("decodeEvents structure (B08)", () => {
  const reasonOf = (text: string) =>
    run(Stream.make(utf8(text))).pipe(
      Effect.map(({ error }) => (error?._tag === "StreamProtocolError" ? error.reason : (error?._tag ?? "ok")))
    )

  it.effect("B08 a delta for an output_index never added is UnknownOutputIndex", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        yield* reasonOf(sse(...textHead(), payload.textDelta("x", 3), payload.completed())),
        "UnknownOutputIndex"
      )
    })
  )

  it.effect("B08 an output_item.done whose id differs from the added item is ItemIdMismatch", () =>
    Effect.gen(function* () {
      const done = {
        type: "response.output_item.done",
        output_index: 0,
        item: { id: "msg_OTHER", type: "message", role: "assistant", content: [] }
      }
      assert.strictEqual(yield* reasonOf(sse(...textHead(), done, payload.completed())), "ItemIdMismatch")
    })
  )

  it.effect("B08 two output_item.added with the same id are DuplicateItem", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        yield* reasonOf(sse(...textHead(), payload.messageAdded(1, "msg_1"), payload.completed())),
        "DuplicateItem"
      )
    })
  )

  it.effect("B08 two function_call items with one call_id (D08) are DuplicateCallId", () =>
    Effect.gen(function* () {
      const text = sse(
        payload.created(),
        payload.callAdded(0, "fc_1", "call_1"),
        payload.callAdded(1, "fc_2", "call_1"),
        payload.completed()
      )
      assert.strictEqual(yield* reasonOf(text), "DuplicateCallId")
    })
  )
})

describe("decodeEvents sizes and volume", () => {
  it("B09 the default maximum event size is 16 MiB", () => {
    assert.strictEqual(defaultMaxEventSize, 16 * 1024 * 1024)
  })

  const chunkSize = 64 * 1024
  const lineLength = 64 * 1024 * 1024 + 1
  const prefixText = sse(...textHead())
  const eventHead = 'data: {"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"'
  const eventTail = '"}\n\n'
  const fillerLength = lineLength - eventHead.length - eventTail.length + 2 // the line excludes its "\n\n"
  const prefix = utf8(prefixText + eventHead)
  const filler = new Uint8Array(chunkSize).fill(97)
  const tail = utf8(eventTail + sse(payload.completed()))
  const chunkCount = 1 + Math.ceil(fillerLength / chunkSize) + 1
  const chunkAt = (index: number): Uint8Array => {
    if (index === 0) return prefix
    if (index === chunkCount - 1) return tail
    const remaining = fillerLength - (index - 1) * chunkSize
    return remaining >= chunkSize ? filler : filler.subarray(0, remaining)
  }

  it.effect("B09 a 64 MiB + 1 data line fails with EventTooLarge once 16 MiB is buffered, reading no further", () =>
    Effect.gen(function* () {
      // Heap growth is sampled on every pull: the decoder may hold the pending event, nothing more.
      const baseline = process.memoryUsage().heapUsed
      let peak = 0
      const upstream = scriptedUpstream(
        chunkCount,
        (index) => {
          peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
          return chunkAt(index)
        },
        "die"
      )
      const { error, events } = yield* run(upstream.stream)
      assert.isBelow(peak, 2 * 16 * 1024 * 1024, "heap growth stays under twice the limit")
      assert.strictEqual(error?._tag, "EventTooLarge")
      if (error?._tag === "EventTooLarge") assert.strictEqual(error.maxEventSize, 16 * 1024 * 1024)
      assert.strictEqual(events.length, 3)
      assert.isAtMost(upstream.bytesRead(), 16 * 1024 * 1024 + 2 * chunkSize)
      assert.isAtLeast(upstream.bytesRead(), 16 * 1024 * 1024)
      assert.isTrue(upstream.released())
    })
  )

  it.effect(
    "B09 with the limit raised to 128 MiB the same line decodes",
    () =>
      Effect.gen(function* () {
        const upstream = scriptedUpstream(chunkCount, chunkAt, "die")
        const response = yield* upstream.stream.pipe(
          // the 64 MiB line is over the default stream cap too (64 MiB in all): both raised
          decodeEvents({ maxEventSize: 128 * 1024 * 1024, maxStreamBytes: 128 * 1024 * 1024 }),
          ResponseAccumulator.collect
        )
        const text = textOf(response)
        assert.strictEqual(text.length, fillerLength)
        assert.strictEqual(eventHead.length + text.length + eventTail.length - 2, lineLength)
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "B10 200 000 tiny deltas, the first 50 KB one byte per chunk, give exactly the concatenated text",
    () =>
      Effect.gen(function* () {
        const alphabet = ["a", "b", " ", "é", "北", "🌍", "\n", '"']
        let seed = 42
        const next = () => (seed = (seed * 1103515245 + 12345) >>> 0)
        const deltas: Array<string> = []
        for (let i = 0; i < 200_000; i++) {
          let delta = ""
          for (let n = 1 + (next() % 3); n > 0; n--) delta += alphabet[next() % alphabet.length]
          deltas.push(delta)
        }
        const bytes = utf8(render(textTranscript(deltas), "LF", "data"))
        const firstPart = 50_000
        const chunks = [...chunksOf(bytes.subarray(0, firstPart), 1), ...chunksOf(bytes.subarray(firstPart), 64 * 1024)]
        const events: Array<StreamEvent> = []
        const accumulator = ResponseAccumulator.make()
        // Hide the final item and terminal output so the text can only come from the deltas.
        yield* Stream.fromIterable(chunks).pipe(
          decodeEvents(),
          Stream.runForEach((event) =>
            Effect.sync(() => {
              if (event.type === "response.output_text.done" || event.type === "response.content_part.done") return
              if (event.type === "response.output_item.done") return
              const folded =
                event.type === "response.completed"
                  ? ({ ...event, response: { ...event.response, output: [] } } as StreamEvent)
                  : event
              events.push(folded)
              accumulator.add(folded, events.length - 1)
            })
          )
        )
        assert.strictEqual(textOf(accumulator.snapshot()), deltas.join(""))
      }),
    { timeout: 60_000 }
  )
})

describe("decodeEvents text encoding (B12)", () => {
  it("B12 a UTF-8 BOM first is stripped, also when split across chunks", () => {
    const text = sse(...textHead(), payload.textDelta("x"), payload.completed())
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(text)])
    const plain = fingerprint(decodeChunks([utf8(text)]))
    assert.strictEqual(fingerprint(decodeChunks([withBom])), plain)
    assert.strictEqual(fingerprint(decodeChunks(chunksOf(withBom, 1))), plain)
    assert.isUndefined(decodeChunks([withBom]).error)
  })

  it("B12 bytes 0xFF 0xFE inside a JSON string become U+FFFD (documented choice), never a defect", () => {
    const head = utf8(
      `${sse(...textHead())}data: {"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"a`
    )
    const rest = utf8(`b"}\n\n${sse(payload.completed())}`)
    const bytes = new Uint8Array([...head, 0xff, 0xfe, ...rest])
    for (const chunks of [[bytes], chunksOf(bytes, 1)]) {
      const outcome = decodeChunks(chunks)
      assert.isUndefined(outcome.error)
      assert.strictEqual((outcome.events[3] as { delta: string }).delta, "a\uFFFD\uFFFDb")
    }
  })

  it("B12 a last event with no blank line before EOF is dropped, so the stream is truncated (C06)", () => {
    const text = `${sse(...textHead(), payload.textDelta("x"))}data: ${JSON.stringify(payload.completed())}\n`
    const outcome = decodeChunks([utf8(text)])
    assert.strictEqual(outcome.error?._tag, "StreamTruncated")
    assert.strictEqual(outcome.events.length, 4)
  })

  it("multi-byte characters split at every byte offset decode intact", () => {
    const bytes = utf8(render(textTranscript(["известни ", "北京 ", "🌍"]), "CRLF", "event"))
    const expected = fingerprint(decodeChunks([bytes]))
    assert.include(expected, "известни 北京 🌍")
    for (let cut = 1; cut < bytes.length; cut++) {
      const got = fingerprint(decodeChunks(splitAt(bytes, [cut])))
      if (got !== expected) assert.fail(`split at ${cut} differs`)
    }
  })
})

describe("decodeEvents error events and failed responses", () => {
  const deltas = Array.from({ length: 10 }, (_, i) => payload.textDelta(`d${i} `))
  const overloaded = { type: "error", code: "server_is_overloaded", message: "The server is overloaded" }

  for (const [label, tail] of [
    ["event: error", `event: error\ndata: ${JSON.stringify(overloaded)}\n\n`],
    [
      "a flat {error:{...}} payload",
      `data: ${JSON.stringify({ error: { code: "server_is_overloaded", message: "overloaded" } })}\n\n`
    ]
  ] as const) {
    it.effect(`C01 10 deltas then ${label}: ResponseFailed (retryable), the partial text attached`, () =>
      Effect.gen(function* () {
        const { events, error } = yield* run(Stream.make(utf8(sse(...textHead(), ...deltas) + tail)))
        assert.strictEqual(events.length, 13, "the deltas reached the consumer before the failure")
        assert.strictEqual(error?._tag, "ResponseFailed")
        if (error?._tag !== "ResponseFailed") return
        assert.strictEqual(error.code, "server_is_overloaded")
        assert.isTrue(error.retryable)
        assert.strictEqual(error.responseId, "resp_1")
        assert.strictEqual(textOf(error.partial), deltas.map((d) => d.delta).join(""))
      })
    )
  }

  it.effect("C02 response.failed with error {code:server_error} is ResponseFailed{code, message, responseId}", () =>
    Effect.gen(function* () {
      const text = sse(
        ...textHead(),
        payload.textDelta("par"),
        payload.failed("resp_1", { code: "server_error", message: "oops" })
      )
      const { events, error } = yield* run(Stream.make(utf8(text)))
      assert.strictEqual(events.length, 4, "the response.failed event itself is not emitted")
      assert.strictEqual(error?._tag, "ResponseFailed")
      if (error?._tag !== "ResponseFailed") return
      assert.strictEqual(error.code, "server_error")
      assert.strictEqual(error.message, "oops")
      assert.strictEqual(error.responseId, "resp_1")
      assert.isTrue(error.retryable)
      assert.strictEqual(textOf(error.partial), "par")
    })
  )

  it.effect("C02 response.failed with error: null still fails", () =>
    Effect.gen(function* () {
      const { error } = yield* run(Stream.make(utf8(sse(payload.created("resp_9"), payload.failed("resp_9", null)))))
      assert.strictEqual(error?._tag, "ResponseFailed")
      if (error?._tag !== "ResponseFailed") return
      assert.isUndefined(error.code)
      assert.strictEqual(error.responseId, "resp_9")
      assert.isFalse(error.retryable)
    })
  )

  it.effect("a server error message is redacted (key-shaped tokens and configured secrets) and cut to 1 KiB", () =>
    Effect.gen(function* () {
      const canary = `sk-volley-CANARY-${Math.random().toString(36).slice(2)}`
      const message = `Incorrect API key provided: ${canary}; ${"x".repeat(4000)}`
      const text = sse(payload.created(), { type: "error", code: "invalid_api_key", message })
      const { error } = yield* run(Stream.make(utf8(text)), { secrets: [canary] })
      assert.strictEqual(error?._tag, "ResponseFailed")
      assert.notInclude(error?.message ?? "", canary.slice(-8))
      assert.isAtMost(new TextEncoder().encode(error?.message ?? "").length, 1024)
    })
  )

  it.effect("errors are stamped with requestId and attempts", () =>
    Effect.gen(function* () {
      const { error } = yield* run(Stream.make(utf8(sse(payload.created()))), { requestId: "req_42", attempts: 3 })
      assert.strictEqual(error?._tag, "StreamTruncated")
      assert.strictEqual(error?.requestId, "req_42")
      assert.strictEqual(error?.attempts, 3)
    })
  )
})

describe("decodeEvents function-call arguments", () => {
  it.effect('C09 deltas adding up to {"a":1} lose to done/item {"a":2}; the mismatch is reported once', () =>
    Effect.gen(function* () {
      const mismatches: Array<ResponseAccumulator.ArgumentsMismatch> = []
      const bytes = utf8(render(functionCallTranscript(['{"a"', ":1}"], '{"a":2}'), "LF", "event"))
      const { events, error } = yield* run(Stream.make(bytes), { onMismatch: (info) => mismatches.push(info) })
      assert.isUndefined(error)
      const completed = events.at(-1)
      const hidden = events.map((event) =>
        event === completed && event.type === "response.completed"
          ? ({ ...event, response: { ...event.response, output: [] } } as StreamEvent)
          : event
      )
      const response = yield* ResponseAccumulator.collect(Stream.fromIterable(hidden))
      const call = response.output?.[0]
      assert.strictEqual(call?.type, "function_call")
      if (call?.type === "function_call") assert.strictEqual(call.arguments, '{"a":2}')
      assert.strictEqual(mismatches.length, 1)
      assert.deepStrictEqual(mismatches[0], {
        outputIndex: 0,
        itemId: "fc_1",
        callId: "call_1",
        streamedLength: 7,
        finalLength: 7
      })
    })
  )

  it.effect("the stream path and the synchronous decoder agree", () =>
    Effect.gen(function* () {
      const bytes = utf8(render(functionCallTranscript(['{"ci', 'ty":"Par', 'is"}']), "CR", "event"))
      const viaStream = yield* decodeViaStream(chunksOf(bytes, 5))
      assert.strictEqual(fingerprint(viaStream), fingerprint(decodeChunks([bytes])))
    })
  )
})
