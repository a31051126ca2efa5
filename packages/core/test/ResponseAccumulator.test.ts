/**
 * `ResponseAccumulator`: folding stream events into the final `Response`: deltas, finished parts
 * and items, arguments, reasoning, snapshot fields, the terminal merge, and the structural
 * contradictions of B08 / D08 returned as `StreamProtocolError` (never thrown).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ResponseAccumulator from "../src/ResponseAccumulator.ts"
import { decodeStreamEventUnsafe, type OutputItem, outputText, type StreamEvent } from "../src/ResponsesSchema.ts"
import { payload } from "./support/sse.ts"

const events = (...payloads: ReadonlyArray<unknown>): Array<StreamEvent> => payloads.map(decodeStreamEventUnsafe)

/** Folds events; fails the test on any contradiction. */
const fold = (list: ReadonlyArray<StreamEvent>, options?: ResponseAccumulator.Options) => {
  const accumulator = ResponseAccumulator.make(options)
  list.forEach((event, index) => {
    const error = accumulator.add(event, index)
    assert.isUndefined(error, error?.message)
  })
  return accumulator
}

/** Folds events and returns the first contradiction. */
const firstError = (list: ReadonlyArray<StreamEvent>) => {
  const accumulator = ResponseAccumulator.make()
  for (let index = 0; index < list.length; index++) {
    const error = accumulator.add(list[index]!, index)
    if (error !== undefined) return error
  }
  return undefined
}

const head = [payload.created(), payload.messageAdded(), payload.partAdded()]

const textDone = (text: string) => ({
  type: "response.output_text.done",
  output_index: 0,
  item_id: "msg_1",
  content_index: 0,
  text
})

const messageDone = (text: string, id = "msg_1") => ({
  type: "response.output_item.done",
  output_index: 0,
  item: {
    id,
    type: "message",
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text, annotations: [] }]
  }
})

describe("ResponseAccumulator", () => {
  it("an empty accumulator snapshots to an empty response", () => {
    assert.deepStrictEqual(ResponseAccumulator.make().snapshot(), { id: "", output: [] })
  })

  it("text deltas build the message; the part and item keep their announced fields", () => {
    const snapshot = fold(events(...head, payload.textDelta("Hel"), payload.textDelta("lo"))).snapshot()
    assert.strictEqual(snapshot.id, "resp_1")
    assert.strictEqual(snapshot.status, "in_progress")
    assert.deepStrictEqual(snapshot.output, [
      {
        id: "msg_1",
        type: "message",
        role: "assistant",
        status: "in_progress",
        content: [{ type: "output_text", text: "Hello", annotations: [] }]
      }
    ] as unknown as Array<OutputItem>)
  })

  it("output_text.done wins over the deltas, and output_item.done wins over both", () => {
    const afterText = fold(events(...head, payload.textDelta("Hel"), textDone("Hello!"))).snapshot()
    assert.strictEqual(outputText(afterText.output ?? []), "Hello!")
    const afterItem = fold(
      events(...head, payload.textDelta("Hel"), textDone("Hello!"), messageDone("Final"))
    ).snapshot()
    assert.strictEqual(outputText(afterItem.output ?? []), "Final")
    assert.strictEqual((afterItem.output?.[0] as { status?: string } | undefined)?.status, "completed")
  })

  it("deltas without content_part.added still build an output_text part", () => {
    const snapshot = fold(events(payload.created(), payload.messageAdded(), payload.textDelta("x"))).snapshot()
    assert.strictEqual(outputText(snapshot.output ?? []), "x")
  })

  it("parts the added item already carried are kept; streamed parts overlay them by index", () => {
    const added = {
      type: "response.output_item.added",
      output_index: 0,
      item: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: "first", annotations: [] }]
      }
    }
    const second = { ...payload.textDelta("second"), content_index: 1 }
    const item = fold(events(payload.created(), added, second)).snapshot().output?.[0]
    assert.strictEqual(outputText(item === undefined ? [] : [item]), "firstsecond")
  })

  it("annotations announced before the part is done are kept", () => {
    const annotation = { type: "url_citation", url: "https://example.test", start_index: 0, end_index: 1 }
    const snapshot = fold(
      events(...head, payload.textDelta("x"), {
        type: "response.output_text.annotation.added",
        output_index: 0,
        item_id: "msg_1",
        content_index: 0,
        annotation_index: 0,
        annotation
      })
    ).snapshot()
    const message = snapshot.output?.[0]
    assert.strictEqual(message?.type, "message")
    if (message?.type === "message") {
      assert.deepStrictEqual((message.content[0] as { annotations?: unknown }).annotations, [annotation])
    }
  })

  it("refusal deltas build a refusal part (C05 stream side), and refusal.done wins", () => {
    const refusalDelta = (delta: string) => ({
      type: "response.refusal.delta",
      output_index: 0,
      item_id: "msg_1",
      content_index: 0,
      delta
    })
    const base = [payload.created(), payload.messageAdded(), refusalDelta("I can't "), refusalDelta("help")]
    const streamed = fold(events(...base)).snapshot().output?.[0]
    assert.deepStrictEqual(streamed?.type === "message" ? (streamed.content as ReadonlyArray<unknown>) : undefined, [
      { type: "refusal", refusal: "I can't help" }
    ])
    const done = fold(
      events(...base, {
        type: "response.refusal.done",
        output_index: 0,
        item_id: "msg_1",
        content_index: 0,
        refusal: "No."
      })
    ).snapshot().output?.[0]
    assert.strictEqual(done?.type === "message" ? (done.content[0] as { refusal?: string }).refusal : undefined, "No.")
  })

  it("function_call arguments come from deltas, then from arguments.done, then from the finished item", () => {
    const argsDelta = (delta: string) => ({
      type: "response.function_call_arguments.delta",
      output_index: 0,
      item_id: "fc_1",
      delta
    })
    const start = [payload.created(), payload.callAdded(0, "fc_1", "call_1"), argsDelta('{"a"'), argsDelta(":1}")]
    const argumentsOf = (list: ReadonlyArray<unknown>) => {
      const item = fold(events(...list)).snapshot().output?.[0]
      return item?.type === "function_call" ? item.arguments : undefined
    }
    assert.strictEqual(argumentsOf(start), '{"a":1}')
    const argsDone = {
      type: "response.function_call_arguments.done",
      output_index: 0,
      item_id: "fc_1",
      arguments: '{"a":1}'
    }
    assert.strictEqual(argumentsOf([...start, argsDone]), '{"a":1}')
    const itemDone = {
      type: "response.output_item.done",
      output_index: 0,
      item: { id: "fc_1", type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"a":1}' }
    }
    assert.strictEqual(argumentsOf([...start, argsDone, itemDone]), '{"a":1}')
  })

  it("C09 a mismatch between deltas and the finished item is reported through onMismatch; the item wins", () => {
    const mismatches: Array<ResponseAccumulator.ArgumentsMismatch> = []
    const itemDone = {
      type: "response.output_item.done",
      output_index: 0,
      item: { id: "fc_1", type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"a":22}' }
    }
    const snapshot = fold(
      events(
        payload.created(),
        payload.callAdded(0, "fc_1", "call_1"),
        { type: "response.function_call_arguments.delta", output_index: 0, item_id: "fc_1", delta: '{"a":1}' },
        itemDone
      ),
      { onMismatch: (mismatch) => mismatches.push(mismatch) }
    ).snapshot()
    const call = snapshot.output?.[0]
    assert.strictEqual(call?.type === "function_call" ? call.arguments : undefined, '{"a":22}')
    assert.deepStrictEqual(mismatches, [
      { outputIndex: 0, itemId: "fc_1", callId: "call_1", streamedLength: 7, finalLength: 8 }
    ])
  })

  it("reasoning summary and reasoning text events build the reasoning item", () => {
    const reasoningAdded = {
      type: "response.output_item.added",
      output_index: 0,
      item: { id: "rs_1", type: "reasoning", summary: [] }
    }
    const summaryPart = {
      type: "response.reasoning_summary_part.added",
      output_index: 0,
      item_id: "rs_1",
      summary_index: 0,
      part: { type: "summary_text", text: "" }
    }
    const summaryDelta = (delta: string) => ({
      type: "response.reasoning_summary_text.delta",
      output_index: 0,
      item_id: "rs_1",
      summary_index: 0,
      delta
    })
    const textDelta = (delta: string) => ({
      type: "response.reasoning_text.delta",
      output_index: 0,
      item_id: "rs_1",
      content_index: 0,
      delta
    })
    const item = fold(
      events(
        payload.created(),
        reasoningAdded,
        summaryPart,
        summaryDelta("Think"),
        summaryDelta("ing"),
        textDelta("2+2"),
        textDelta("=4")
      )
    ).snapshot().output?.[0]
    assert.deepStrictEqual(item, {
      id: "rs_1",
      type: "reasoning",
      summary: [{ type: "summary_text", text: "Thinking" }],
      content: [{ type: "reasoning_text", text: "2+2=4" }]
    } as unknown as OutputItem)
  })

  it("hosted-tool progress, keepalive and unknown events do not change the output", () => {
    const base = [...head, payload.textDelta("x")]
    const noisy = [
      ...head,
      { type: "response.web_search_call.in_progress", output_index: 0, item_id: "ws_1" },
      { type: "keepalive" },
      { type: "response.future_thing.delta", output_index: 9 },
      payload.textDelta("x")
    ]
    assert.deepStrictEqual(fold(events(...noisy)).snapshot(), fold(events(...base)).snapshot())
  })

  it("snapshot fields follow created / in_progress; a terminal response is merged over them", () => {
    const inProgress = { type: "response.in_progress", response: { id: "resp_1", status: "in_progress", model: "m-2" } }
    const accumulator = fold(events(...head, inProgress, payload.textDelta("x")))
    assert.strictEqual(accumulator.snapshot().model, "m-2")
    assert.isFalse(accumulator.isTerminal())
    accumulator.add(
      decodeStreamEventUnsafe({ type: "response.completed", response: { id: "resp_1", status: "completed" } }),
      9
    )
    const final = accumulator.snapshot()
    assert.isTrue(accumulator.isTerminal())
    assert.strictEqual(final.status, "completed")
    assert.strictEqual(final.model, "m-2", "fields only the earlier snapshot had are kept")
    assert.strictEqual(
      outputText(final.output ?? []),
      "x",
      "an output-less terminal response keeps the accumulated items"
    )
  })

  it("a terminal response with a non-empty output wins over the accumulated items", () => {
    const finalItem = messageDone("from terminal").item
    const snapshot = fold(
      events(...head, payload.textDelta("streamed"), payload.completed("resp_1", [finalItem]))
    ).snapshot()
    assert.strictEqual(outputText(snapshot.output ?? []), "from terminal")
  })

  it("an output_item.done without output_item.added is accepted as the item", () => {
    const snapshot = fold(events(payload.created(), messageDone("only done"))).snapshot()
    assert.strictEqual(outputText(snapshot.output ?? []), "only done")
  })

  it("ids that rotate on every event (GitHub Copilot) are not a contradiction", () => {
    const list = events(
      payload.created(),
      payload.messageAdded(0, "id-1"),
      { ...payload.partAdded(0, "id-2") },
      payload.textDelta("x", 0, "id-3"),
      messageDone("x", "id-4")
    )
    assert.strictEqual(outputText(fold(list).snapshot().output ?? []), "x")
  })
})

describe("ResponseAccumulator contradictions (B08, D08)", () => {
  it("B08 a delta for an output_index never added is UnknownOutputIndex, with the partial snapshot", () => {
    const error = firstError(events(...head, payload.textDelta("ok"), payload.textDelta("x", 2)))
    assert.strictEqual(error?.reason, "UnknownOutputIndex")
    assert.strictEqual(error?.eventIndex, 4)
    assert.strictEqual(outputText(error?.partial?.output ?? []), "ok")
  })

  it("B08 every delta kind checks its output_index", () => {
    const kinds = [
      {
        type: "response.content_part.added",
        output_index: 5,
        content_index: 0,
        part: { type: "output_text", text: "" }
      },
      { type: "response.output_text.done", output_index: 5, content_index: 0, text: "" },
      { type: "response.refusal.delta", output_index: 5, content_index: 0, delta: "" },
      { type: "response.function_call_arguments.delta", output_index: 5, delta: "" },
      { type: "response.function_call_arguments.done", output_index: 5, arguments: "" },
      { type: "response.reasoning_summary_text.delta", output_index: 5, summary_index: 0, delta: "" },
      { type: "response.reasoning_text.delta", output_index: 5, delta: "" }
    ]
    for (const kind of kinds)
      assert.strictEqual(firstError(events(...head, kind))?.reason, "UnknownOutputIndex", kind.type)
  })

  it("B08 an output_item.done whose id differs from the added item is ItemIdMismatch", () => {
    assert.strictEqual(firstError(events(...head, messageDone("x", "msg_2")))?.reason, "ItemIdMismatch")
  })

  it("B08 the same item id or output_index added twice is DuplicateItem", () => {
    assert.strictEqual(firstError(events(...head, payload.messageAdded(1, "msg_1")))?.reason, "DuplicateItem")
    assert.strictEqual(firstError(events(...head, payload.messageAdded(0, "msg_2")))?.reason, "DuplicateItem")
  })

  it("B08 two function_call items sharing a call_id are DuplicateCallId (added, or renamed at done)", () => {
    const twoAdded = events(
      payload.created(),
      payload.callAdded(0, "fc_1", "call_1"),
      payload.callAdded(1, "fc_2", "call_1")
    )
    assert.strictEqual(firstError(twoAdded)?.reason, "DuplicateCallId")
    const renamed = events(
      payload.created(),
      payload.callAdded(0, "fc_1", "call_1"),
      payload.callAdded(1, "fc_2", "call_2"),
      {
        type: "response.output_item.done",
        output_index: 1,
        item: { id: "fc_2", type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{}" }
      }
    )
    assert.strictEqual(firstError(renamed)?.reason, "DuplicateCallId")
  })

  it("B08 an output_index or content_index that cannot be a position is InvalidEvent (no huge sparse arrays)", () => {
    for (const bad of [-1, 0.5, 1e9, Number.MAX_SAFE_INTEGER]) {
      assert.strictEqual(
        firstError(events(payload.created(), payload.messageAdded(bad)))?.reason,
        "InvalidEvent",
        `${bad}`
      )
      assert.strictEqual(
        firstError(events(...head, { ...payload.textDelta("x"), content_index: bad }))?.reason,
        "InvalidEvent",
        `content_index ${bad}`
      )
    }
    const summary = { type: "response.reasoning_summary_text.delta", output_index: 0, summary_index: 1e9, delta: "" }
    assert.strictEqual(firstError(events(...head, summary))?.reason, "InvalidEvent")
  })

  it("a shell_call and its shell_call_output sharing a call_id are not a duplicate", () => {
    const list = events(
      payload.created(),
      {
        type: "response.output_item.added",
        output_index: 0,
        item: { id: "sh_1", type: "shell_call", call_id: "call_1" }
      },
      {
        type: "response.output_item.added",
        output_index: 1,
        item: { id: "sho_1", type: "shell_call_output", call_id: "call_1" }
      }
    )
    assert.isUndefined(firstError(list))
  })

  it.effect("collect folds a stream and fails with the contradiction", () =>
    Effect.gen(function* () {
      const ok = yield* ResponseAccumulator.collect(
        Stream.fromIterable(events(...head, payload.textDelta("hi"), payload.completed()))
      )
      assert.strictEqual(outputText(ok.output ?? []), "hi")
      const error = yield* ResponseAccumulator.collect(
        Stream.fromIterable(events(...head, payload.textDelta("x", 7)))
      ).pipe(Effect.flip)
      assert.strictEqual(error._tag, "StreamProtocolError")
      if (error._tag === "StreamProtocolError") assert.strictEqual(error.reason, "UnknownOutputIndex")
    })
  )

  it("settle: a non-empty terminal output wins with its differences; an empty one takes the streamed items", () => {
    const streamed: Array<OutputItem> = [
      { type: "function_call", call_id: "c1", name: "a", arguments: "{}" } as OutputItem
    ]
    const terminal: Array<OutputItem> = [
      { type: "function_call", call_id: "c1", name: "a", arguments: "{}" } as OutputItem,
      { type: "function_call", call_id: "c2", name: "b", arguments: "{}" } as OutputItem
    ]
    const wins = ResponseAccumulator.settle({ id: "r", status: "completed", output: terminal }, streamed)
    assert.strictEqual(wins.response.output, terminal)
    assert.deepStrictEqual(
      wins.differences.map((d) => [d.outputIndex, d.kind, d.callId]),
      [[1, "unannounced", "c2"]]
    )
    const empty = ResponseAccumulator.settle({ id: "r", status: "completed", output: [] }, streamed)
    assert.deepStrictEqual(empty.response.output, streamed)
    assert.deepStrictEqual(empty.differences, [])
    const nothing = { id: "r", status: "completed" } as const
    assert.strictEqual(ResponseAccumulator.settle(nothing, []).response, nothing)
  })
})
