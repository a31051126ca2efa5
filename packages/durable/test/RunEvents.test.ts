import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { AgentEvent } from "@volley/agent"
import { DurableAgent, DurableEngine, RunEvents } from "@volley/durable"
import { ResponsesServer, TestClient } from "@volley/testing"
import { adder, payer, script, type ToolRun, toolsLayer } from "./support/agent.ts"
import { payerSetup } from "./support/payer.ts"

const setup = (steps: number) => {
  const toolRuns: Array<ToolRun> = []
  const reports: Array<DurableAgent.StepReport> = []
  const base = Layer.mergeAll(
    TestClient.layer({ fallback: script(steps) }),
    toolsLayer((run) => toolRuns.push(run)),
    DurableEngine.layerMemory,
    RunEvents.layerMemory
  )
  const layer = DurableAgent.layer(adder, { onStep: (report) => Effect.sync(() => reports.push(report)) }).pipe(
    Layer.provideMerge(base)
  )
  return { toolRuns, reports, layer }
}

const tags = (events: ReadonlyArray<AgentEvent.AgentEvent>) => events.map((event) => event._tag)

describe("durable streaming (memory engine, in-process RunEvents)", () => {
  it.effect("stream: model calls stream live (TextDelta), every step is still stored, the stream ends at RunEnd", () =>
    Effect.gen(function* () {
      const { reports, toolRuns, layer } = setup(2)
      const [events, result, requests] = yield* Effect.gen(function* () {
        const events = yield* Stream.runCollect(DurableAgent.stream(adder, "add up", { runId: "s-1" }))
        // joining the finished run gives its stored result
        const result = yield* DurableAgent.run(adder, "ignored", { runId: "s-1" })
        const server = yield* ResponsesServer.ResponsesServer
        return [events, result, yield* server.requests] as const
      }).pipe(Effect.provide(layer))
      const seen = tags(events)
      assert.include(seen, "TextDelta")
      assert.include(seen, "ToolResult")
      assert.strictEqual(seen.at(-1), "RunEnd")
      const text = events.flatMap((event) => (event._tag === "TextDelta" ? [event.delta] : [])).join("")
      assert.strictEqual(text, "done 2")
      assert.strictEqual(result.output, "done 2")
      assert.strictEqual(result.turns, 3)
      // the model calls were streamed requests
      assert.isTrue(requests.every((request) => (request.body as { stream?: boolean }).stream === true))
      assert.deepStrictEqual(
        reports.map((report) => report.name),
        ["model/1", "tool/1/c1", "model/2", "tool/2/c2", "model/3"]
      )
      assert.strictEqual(toolRuns.length, 2)
    })
  )

  it.effect("attach: a finished run answers one RunEnd from storage; an unknown run follows live events", () =>
    Effect.gen(function* () {
      const { layer } = setup(1)
      const [finished, live] = yield* Effect.gen(function* () {
        yield* DurableAgent.run(adder, "add up", { runId: "s-2" })
        const finished = yield* Stream.runCollect(DurableAgent.attach(adder, { runId: "s-2" }))
        // streaming a finished run again does not wait for events that will never come
        const again = yield* Stream.runCollect(DurableAgent.stream(adder, "add up", { runId: "s-2" }))
        assert.deepStrictEqual(tags(again), ["RunEnd"])
        // attached before the run starts: it sees the run's live events up to RunEnd
        const fiber = yield* Effect.forkChild(Stream.runCollect(DurableAgent.attach(adder, { runId: "s-3" })))
        yield* Effect.yieldNow
        yield* DurableAgent.run(adder, "add up", { runId: "s-3" })
        return [finished, yield* Fiber.join(fiber)] as const
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(tags(finished), ["RunEnd"])
      const end = finished[0]
      assert.isTrue(end?._tag === "RunEnd" && end.stopReason._tag === "Completed" && end.runId === "s-2")
      assert.include(tags(live), "TextDelta")
      assert.strictEqual(tags(live).at(-1), "RunEnd")
    })
  )

  it.effect(
    "a streamed run that pauses for approval: the stream waits through the pause and ends after the decision",
    () =>
      Effect.gen(function* () {
        const { paid, paused, layer } = yield* payerSetup(RunEvents.layerMemory)
        const [streamed, attached, result] = yield* Effect.gen(function* () {
          const streaming = yield* Effect.forkChild(
            Stream.runCollect(DurableAgent.stream(payer, "pay 5", { runId: "pay-s" }))
          )
          const report = yield* Deferred.await(paused)
          assert.deepStrictEqual(
            report.pending.map((call) => call.callId),
            ["p1"]
          )
          assert.deepStrictEqual(paid, [], "nothing ran before the decision")
          // another consumer attaches while the run is paused: it sees the rest of the run
          const attaching = yield* Effect.forkChild(Stream.runCollect(DurableAgent.attach(payer, { runId: "pay-s" })))
          yield* Effect.yieldNow
          assert.isUndefined(streaming.pollUnsafe(), "the stream does not end at the pause")
          yield* DurableAgent.approve(payer, { runId: "pay-s", callId: "p1" })
          const streamed = yield* Fiber.join(streaming)
          const attached = yield* Fiber.join(attaching)
          return [streamed, attached, yield* DurableAgent.run(payer, "pay 5", { runId: "pay-s" })] as const
        }).pipe(Effect.provide(layer))
        // the pause; after the decision, the replayed paused segment's pause again (docs/durable.md); then the end
        const ends = streamed.flatMap((event) => (event._tag === "RunEnd" ? [event.stopReason._tag] : []))
        assert.strictEqual(ends[0], "ApprovalRequired")
        assert.strictEqual(ends.at(-1), "Completed")
        assert.isTrue(ends.slice(0, -1).every((end) => end === "ApprovalRequired"))
        const seen = tags(streamed)
        assert.isBelow(seen.indexOf("ToolCallStart"), seen.indexOf("RunEnd"), "the call was streamed before the pause")
        assert.strictEqual(seen.filter((tag) => tag === "ToolResult").length, 1)
        assert.isAbove(seen.indexOf("ToolResult"), seen.indexOf("RunEnd"), "the tool ran after the decision")
        const text = streamed.flatMap((event) => (event._tag === "TextDelta" ? [event.delta] : [])).join("")
        assert.strictEqual(text, "paid")
        assert.include(tags(attached), "ToolResult")
        const last = attached.at(-1)
        assert.isTrue(last?._tag === "RunEnd" && last.stopReason._tag === "Completed")
        assert.strictEqual(result.output, "paid")
        assert.deepStrictEqual(paid, [5])
      })
  )

  it("payloads: batches stay under the NOTIFY limit; an oversized event becomes a Warning", () => {
    const delta = (n: number): AgentEvent.AgentEvent => ({
      _tag: "TextDelta",
      turn: 1,
      itemId: "m1",
      delta: `word${n} `
    })
    const many = Array.from({ length: 2_000 }, (_, n) => delta(n))
    const out = RunEvents.payloads(many)
    assert.isAbove(out.length, 1)
    assert.isTrue(out.every((payload) => Buffer.byteLength(payload) <= RunEvents.maxPayloadBytes))
    assert.strictEqual(out.flatMap((payload) => JSON.parse(payload) as Array<unknown>).length, 2_000)
    const huge: AgentEvent.AgentEvent = { _tag: "TextDelta", turn: 2, itemId: "m1", delta: "x".repeat(10_000) }
    const [only] = RunEvents.payloads([huge])
    const decoded = JSON.parse(only ?? "[]") as Array<{ _tag: string; message?: string; turn?: number }>
    assert.strictEqual(decoded.length, 1)
    assert.strictEqual(decoded[0]?._tag, "Warning")
    assert.strictEqual(decoded[0]?.turn, 2)
    assert.include(decoded[0]?.message ?? "", "TextDelta")
    assert.notInclude(only ?? "", "xxxx")
  })

  it("channelOf: a valid Postgres identifier per run, stable and distinct", () => {
    const a = RunEvents.channelOf("run a; DROP TABLE x")
    assert.match(a, /^volley_run_[0-9a-f]{40}$/)
    assert.strictEqual(a, RunEvents.channelOf("run a; DROP TABLE x"))
    assert.notStrictEqual(a, RunEvents.channelOf("run b"))
  })
})
