/**
 * The hand-written SSE line parser (`internal/sseFrames.ts`) against its reference, Effect's
 * `Sse.makeParser`: on arbitrary text built from SSE-relevant pieces (field names, colons, spaces,
 * CR / LF / CRLF, BOM, NUL, digits, multi-byte characters), split into arbitrary chunks, with
 * small and large size caps and a reset from the callback, both must report the same events,
 * retries, size errors and the same behaviour after a reset. Plus a few hand-picked edge cases.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Sse from "effect/encoding/Sse"
import fc from "fast-check"
import { makeFrameParser } from "../src/internal/sseFrames.ts"

type Seen = Array<string>

/** Feeds `chunks` to both parsers; returns what each reported, as comparable strings. */
const runBoth = (chunks: ReadonlyArray<string>, maxEventSize: number, resetOn: string | undefined) => {
  const reference: Seen = []
  const ours: Seen = []
  const referenceParser = Sse.makeParser(
    (event) => {
      if (event._tag === "Event") {
        reference.push(`event ${JSON.stringify([event.event, event.data, event.id ?? null])}`)
        if (resetOn !== undefined && event.data === resetOn) referenceParser.reset()
      } else reference.push(`retry ${Duration.toMillis(event.duration)}`)
    },
    { maxEventSize }
  )
  const ourParser = makeFrameParser(
    (event, data, id) => {
      ours.push(`event ${JSON.stringify([event, data, id ?? null])}`)
      if (resetOn !== undefined && data === resetOn) ourParser.reset()
    },
    (ms) => ours.push(`retry ${Duration.toMillis(Duration.millis(ms))}`),
    maxEventSize
  )
  for (const chunk of chunks) {
    if (referenceParser.feed(chunk) !== undefined) reference.push("too large")
    if (ourParser.feed(chunk)) ours.push("too large")
  }
  return { reference, ours }
}

const piece = fc.constantFrom(
  "data",
  "data:",
  "data: ",
  "event",
  "event:",
  "event: error",
  "id:",
  "id: 7",
  "retry:",
  "retry: 1500",
  "retry: 1x",
  ":",
  ": keep-alive",
  " ",
  "\n",
  "\r",
  "\r\n",
  "\n\n",
  "\uFEFF",
  "\u0000",
  "x",
  "stop",
  '{"type":"a"}',
  "é",
  "🌍",
  "12"
)

/** Text and the offsets to split it at. */
const splitText = fc
  .array(piece, { maxLength: 60 })
  .map((pieces) => pieces.join(""))
  .chain((text) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: Math.max(0, text.length) }), { maxLength: 8 })
      .map((cuts) => ({ text, cuts: [...cuts].sort((a, b) => a - b) }))
  )

const chunksAt = (text: string, cuts: ReadonlyArray<number>): Array<string> => {
  const chunks: Array<string> = []
  let start = 0
  for (const cut of cuts) {
    chunks.push(text.slice(start, cut))
    start = cut
  }
  chunks.push(text.slice(start))
  return chunks
}

describe("makeFrameParser agrees with Sse.makeParser", () => {
  it("on arbitrary text in arbitrary chunks, with size caps and resets from the callback", () => {
    fc.assert(
      fc.property(
        splitText,
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(16 * 1024 * 1024)),
        fc.constantFrom(undefined, "stop", "x"),
        ({ text, cuts }, maxEventSize, resetOn) => {
          const { reference, ours } = runBoth(chunksAt(text, cuts), maxEventSize, resetOn)
          assert.deepStrictEqual(ours, reference)
        }
      ),
      { numRuns: 3000 }
    )
  })

  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["CRLF split between chunks", ["data: a\r", "\n\r", "\ndata: b\r\n\r\n"]],
    ["lone CR line ends", ["event: e\rdata: 1\rdata: 2\r\r"]],
    ["BOM only in the first non-empty chunk", ["", "\uFEFFdata: a\n\n", "\uFEFFdata: b\n\n"]],
    ["empty data lines still dispatch", ["data\n\ndata:\n\n"]],
    ["id with NUL is ignored", ["id: 1\ndata: a\n\nid: 2\u0000\ndata: b\n\n"]],
    ["a line split across three chunks", ["da", "ta: he", "llo\n\n"]],
    ["retry with and without digits", ["retry: 10\nretry: 1a\nretry:\n\n"]]
  ]
  for (const [label, chunks] of cases) {
    it(`edge case: ${label}`, () => {
      const { reference, ours } = runBoth(chunks, 16 * 1024 * 1024, undefined)
      assert.isAbove(reference.length, 0)
      assert.deepStrictEqual(ours, reference)
    })
  }

  it("edge case: the cap counts one newline per pending data line (exactly at and one past the cap)", () => {
    for (const cap of [5, 6, 11, 12]) {
      const { reference, ours } = runBoth(["data: 12345\n", "data: 1234\n", "\n"], cap, undefined)
      assert.deepStrictEqual(ours, reference, `cap ${cap}`)
    }
    assert.include(runBoth(["data: 12345\n"], 5, undefined).reference, "too large")
    assert.notInclude(runBoth(["data: 12345\n"], 6, undefined).reference, "too large")
  })

  it("edge case: an event over the cap is reported at the end of the chunk, and parsing goes on", () => {
    const { reference, ours } = runBoth(["data: 0123456789", "0123456789\n\ndata: ok\n\n"], 12, undefined)
    assert.include(reference, "too large")
    assert.deepStrictEqual(ours, reference)
  })
})
