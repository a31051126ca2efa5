/**
 * Conformance: every file of the recorded corpus (`test/fixtures/conformance/`, see its README)
 * decodes with our schemas and our SSE decoder, and every recorded stream accumulates to the
 * output of its own terminal response. Documented exceptions to "deep-equal" are listed in
 * `serverSideDifferences` below: each is a value the server changes between the streamed
 * `output_item.done` and the final response, so no client could reproduce it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { decodeResponseFast } from "../src/internal/fastDecode.ts"
import { decodeEventFast } from "../src/internal/sse.ts"
import * as ResponseAccumulator from "../src/ResponseAccumulator.ts"
import {
  CreateRequest,
  decodeStreamEventUnsafe,
  type OutputItem,
  outputText,
  Response,
  type StreamEvent
} from "../src/ResponsesSchema.ts"
import { chunksOf, corpusBytes, corpusFiles, corpusText, decodeViaStream, framesOf, utf8 } from "./support/sse.ts"

const decodeResponse = Schema.decodeUnknownExit(Response)
const decodeRequest = Schema.decodeUnknownExit(CreateRequest)

/** One recorded response inside an `.sse` file (some files record several turns back to back). */
interface Segment {
  readonly file: string
  readonly index: number
  readonly bytes: Uint8Array
  readonly terminalType: string | undefined
}

const terminalTypes = new Set(["response.completed", "response.incomplete", "response.failed"])

/** Splits a recorded file into its responses, keeping the original bytes of every frame. */
const segmentsOf = (file: string): Array<Segment> => {
  const text = corpusText("sse", file)
  assert.isFalse(text.includes("\r"), "the corpus is LF-framed; the split below relies on it")
  const segments: Array<Segment> = []
  let blocks: Array<string> = []
  let terminalType: string | undefined
  const flush = () => {
    if (blocks.some((block) => framesOf(`${block}\n\n`).some((frame) => frame.data !== "[DONE]"))) {
      segments.push({ file, index: segments.length, bytes: utf8(`${blocks.join("\n\n")}\n\n`), terminalType })
    }
    blocks = []
    terminalType = undefined
  }
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue
    blocks.push(block)
    for (const frame of framesOf(`${block}\n\n`)) {
      if (frame.data === "[DONE]") continue
      const type = (JSON.parse(frame.data) as { type: string }).type
      if (terminalTypes.has(type)) terminalType = type
    }
    if (terminalType !== undefined) flush()
  }
  flush()
  return segments
}

/**
 * Values the server changes between the streamed `output_item.done` and the final response: opaque
 * blobs re-encrypted per serialisation, ids that some providers rotate, and lists the server
 * backfills or reorders only in the final object. Keys listed for all files are removed before the
 * comparison; per-file keys too, with the reason.
 */
const serverSideDifferences: {
  readonly everywhere: ReadonlyArray<string>
  readonly byFile: Readonly<Record<string, { readonly keys: ReadonlyArray<string>; readonly why: string }>>
} = {
  everywhere: ["encrypted_content", "fingerprint"],
  byFile: {
    "vercel-ai.openai.github-copilot-id-rotation.1.sse": {
      keys: ["id"],
      why: "GitHub Copilot sends a fresh item id on every event"
    },
    "pydantic-ai.test_openai_responses.test_openai_responses_raw_cot_stream_openrouter.0.sse": {
      keys: ["id"],
      why: "OpenRouter's temporary reasoning ids (rs_tmp_*) change in the final response"
    },
    "pydantic-ai.test_openai_responses.test_openai_responses_model_mcp_list_tools_stream_backfills_missing_results.0.sse":
      {
        keys: ["tools"],
        why: "the server backfills mcp_list_tools.tools only in the final response"
      },
    "vercel-ai.xai.xai-13218-web-search-provider-tool-result.1.sse": {
      keys: ["sources"],
      why: "xAI lists different web_search sources in the final response"
    }
  }
}

const withoutKeys = (value: unknown, keys: ReadonlySet<string>): unknown => {
  if (Array.isArray(value)) return value.map((entry) => withoutKeys(entry, keys))
  if (typeof value !== "object" || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [key, entry] of Object.entries(value)) if (!keys.has(key)) out[key] = withoutKeys(entry, keys)
  return out
}

const ignoredKeys = (file: string): ReadonlySet<string> =>
  new Set([...serverSideDifferences.everywhere, ...(serverSideDifferences.byFile[file]?.keys ?? [])])

/** Accumulates events, hiding the terminal response's own output so only streamed items count. */
const accumulateStreamed = (events: ReadonlyArray<StreamEvent>, skipDone = false): ReadonlyArray<OutputItem> => {
  const accumulator = ResponseAccumulator.make()
  events.forEach((event, index) => {
    if (skipDone && event.type === "response.output_item.done") return
    const folded = terminalTypes.has(event.type)
      ? ({ ...event, response: { ...(event as { readonly response: Response }).response, output: [] } } as StreamEvent)
      : event
    const error = accumulator.add(folded, index)
    assert.isUndefined(error, error?.message)
  })
  return accumulator.snapshot().output ?? []
}

const allSegments = corpusFiles("sse").flatMap(segmentsOf)

describe("Conformance", () => {
  it("finds the corpus beside the repository", () => {
    assert.isAtLeast(corpusFiles("sse").length, 90)
    assert.isAtLeast(corpusFiles("json").length, 80)
    assert.isAtLeast(corpusFiles("requests").length, 80)
    assert.isAtLeast(corpusFiles("errors").length, 15)
    assert.isAtLeast(allSegments.length, corpusFiles("sse").length)
  })

  it("json/: every recorded response decodes with the Response schema", () => {
    for (const file of corpusFiles("json")) {
      const exit = decodeResponse(JSON.parse(corpusText("json", file)))
      assert.isTrue(Exit.isSuccess(exit), `${file}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
    }
  })

  it("requests/: every recorded request body decodes with CreateRequest", () => {
    for (const file of corpusFiles("requests")) {
      const exit = decodeRequest(JSON.parse(corpusText("requests", file)))
      assert.isTrue(Exit.isSuccess(exit), `${file}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
    }
  })

  it("errors/: every recorded error body is {error: {message, type, param, code}}", () => {
    for (const file of corpusFiles("errors")) {
      const body = JSON.parse(corpusText("errors", file)) as { error?: Record<string, unknown> }
      assert.isObject(body.error, file)
      assert.isString(body.error?.message, file)
      for (const key of ["type", "param", "code"]) assert.isTrue(key in body.error!, `${file}: ${key}`)
    }
  })

  it.effect("sse/: every recorded stream decodes through decodeEvents, whole and in 1 KiB chunks", () =>
    Effect.gen(function* () {
      for (const segment of allSegments) {
        const label = `${segment.file}#${segment.index}`
        for (const chunks of [[segment.bytes], chunksOf(segment.bytes, 1024)]) {
          const outcome = yield* decodeViaStream(chunks)
          if (segment.terminalType === "response.failed") {
            assert.strictEqual(outcome.error?._tag, "ResponseFailed", label)
            continue
          }
          assert.isUndefined(outcome.error, `${label}: ${outcome.error?._tag} ${outcome.error?.message}`)
          assert.strictEqual(outcome.events.at(-1)?.type, segment.terminalType, label)
        }
      }
    })
  )

  it.effect("sse/: each stream accumulates to its terminal response's output", () =>
    Effect.gen(function* () {
      let compared = 0
      for (const segment of allSegments) {
        if (segment.terminalType === "response.failed") continue
        const label = `${segment.file}#${segment.index}`
        const { events } = yield* decodeViaStream([segment.bytes])
        const terminal = events.at(-1)
        assert.isTrue(terminal !== undefined && "response" in terminal, label)
        const final = (terminal as { response: Response }).response.output ?? []
        if (final.length === 0) continue
        const keys = ignoredKeys(segment.file)
        assert.deepStrictEqual(withoutKeys(accumulateStreamed(events), keys), withoutKeys(final, keys), label)
        // The deltas alone (no output_item.done) rebuild the same message text.
        assert.strictEqual(outputText(accumulateStreamed(events, true)), outputText(final), `${label} (deltas only)`)
        compared++
      }
      assert.isAtLeast(compared, 60)
    })
  )

  it("sse/: the decoder's fast path for delta events agrees with the schema on every recorded event", () => {
    let fast = 0
    for (const file of corpusFiles("sse")) {
      for (const frame of framesOf(corpusText("sse", file))) {
        if (frame.data === "[DONE]") continue
        const json = JSON.parse(frame.data) as Record<string, unknown>
        const viaFast = decodeEventFast(json)
        if (viaFast === undefined) continue
        fast++
        assert.deepStrictEqual(
          viaFast,
          decodeStreamEventUnsafe(JSON.parse(frame.data)),
          `${file}: ${String(json.type)}`
        )
        // With a wrongly typed field, the fast path either steps aside (so the schema names the path)
        // or accepts exactly what the schema accepts (fields the schema keeps verbatim).
        for (const key of ["delta", "output_index", "content_index", "summary_index", "item_id", "sequence_number"]) {
          if (!(key in json)) continue
          const mutated = { ...json, [key]: { wrong: true } }
          const accepted = decodeEventFast(mutated)
          if (accepted !== undefined)
            assert.deepStrictEqual(accepted, decodeStreamEventUnsafe(mutated), `${String(json.type)}.${key}`)
          else
            assert.throws(() => decodeStreamEventUnsafe(mutated), undefined, undefined, `${String(json.type)}.${key}`)
        }
      }
    }
    assert.isAtLeast(fast, 10_000)
  })

  it("json/ + sse/: the fast checks accept a response or structural event only when the schema gives the same value, on every recorded one and on mutated copies", () => {
    // Every leaf (and every object) of `value` replaced in turn by a wrong value: the fast path must
    // either step aside or accept exactly what the schema accepts, with the same result.
    const wrongs: ReadonlyArray<unknown> = [null, 1, "x", { wrong: true }, [], true]
    const absent: unique symbol = Symbol("absent")
    /** A copy of `root` whose `key` is `value` (or deleted, for `absent`). */
    const withKey = (root: unknown, key: string, value: unknown) => {
      const copy = structuredClone(root) as Record<string, unknown>
      if (value === absent) delete copy[key]
      else copy[key] = value
      return copy
    }
    const mutations = function* (value: unknown, depth = 0): Generator<(root: unknown) => unknown> {
      if (depth > 6 || typeof value !== "object" || value === null) return
      for (const key of Object.keys(value)) {
        for (const wrong of [...wrongs, absent]) yield (root) => withKey(root, key, wrong)
        for (const inner of mutations((value as Record<string, unknown>)[key], depth + 1))
          yield (root) => withKey(root, key, inner((root as Record<string, unknown>)[key]))
      }
    }
    let accepted = 0
    let checked = 0
    const agree = (
      label: string,
      json: unknown,
      fast: (json: unknown) => unknown,
      schema: (json: unknown) => unknown
    ) => {
      const viaFast = fast(json)
      checked++
      if (viaFast === undefined) return
      accepted++
      let viaSchema: unknown
      try {
        viaSchema = schema(json)
      } catch (error) {
        assert.fail(`${label}: the fast path accepted what the schema rejects: ${String(error).slice(0, 300)}`)
      }
      assert.deepStrictEqual(viaFast, viaSchema, label)
    }
    const responseSchema = (json: unknown) => Schema.decodeUnknownSync(Response)(json)
    let file = 0
    for (const name of corpusFiles("json")) {
      const json = JSON.parse(corpusText("json", name)) as unknown
      agree(name, json, decodeResponseFast, responseSchema)
      // mutate a sample of the files deeply (all of them would take too long for the fast tier)
      if (file++ % 6 === 0)
        for (const mutate of mutations(json))
          agree(`${name} (mutated)`, mutate(json), decodeResponseFast, responseSchema)
    }
    let events = 0
    for (const name of corpusFiles("sse")) {
      for (const frame of framesOf(corpusText("sse", name))) {
        if (frame.data === "[DONE]") continue
        const json = JSON.parse(frame.data) as Record<string, unknown>
        const type = String(json.type)
        if (type.endsWith(".delta")) continue
        agree(
          `${name}: ${type}`,
          json,
          (value) => decodeEventFast(value as Record<string, unknown>),
          decodeStreamEventUnsafe
        )
        if (events++ % 12 === 0)
          for (const mutate of mutations(json))
            agree(
              `${name}: ${type} (mutated)`,
              mutate(json),
              (value) => decodeEventFast(value as Record<string, unknown>),
              decodeStreamEventUnsafe
            )
      }
    }
    // the fast path must actually carry the common case, and the mutations must have been exercised
    assert.isAtLeast(accepted, 2_000)
    assert.isAtLeast(checked, 20_000)
  })

  it.effect("sse/: a recorded stream that ends in response.failed gives ResponseFailed with the server's code", () =>
    Effect.gen(function* () {
      const file = "vercel-ai.openai.openai-error.1.sse"
      const outcome = yield* decodeViaStream([corpusBytes("sse", file)])
      const error = outcome.error
      assert.strictEqual(error?._tag, "ResponseFailed")
      if (error?._tag !== "ResponseFailed") return
      assert.strictEqual(error.code, "insufficient_quota")
      assert.isFalse(error.retryable)
      assert.strictEqual(error.responseId, "resp_05500b38c2cd9bfc00691c7c9d222481a3b595421266dab424")
      assert.deepStrictEqual(error.partial?.output, [])
      assert.deepStrictEqual(
        outcome.events.map((event) => event.type),
        ["response.created", "response.in_progress"]
      )
    })
  )
})
