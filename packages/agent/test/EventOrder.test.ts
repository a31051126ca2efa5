/**
 * The documented order of `agent.stream` events (docs/agent.md, Event order), property-tested over
 * random scripts: tool turns with one to three calls (text before the calls or not), then an answer.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import type { AgentEvent } from "../src/AgentEvent.ts"
import { makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const agent = Agent.make({ name: "ordered", model: "m", toolkit: TestTools })

// tool names only; arguments are made unique per script below (identical calls would trip LoopDetected)
const call = fc.constantFrom("get_weather", "echo")
const toolTurn = fc.tuple(
  fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }),
  fc.array(call, { minLength: 1, maxLength: 3 })
)
const script = fc
  .tuple(fc.array(toolTurn, { maxLength: 4 }), fc.string({ minLength: 1, maxLength: 20 }))
  .map(([turns, answer]) => {
    let n = 0
    const calls = (names: ReadonlyArray<string>) =>
      names.map((name) =>
        name === "echo"
          ? M.functionCall("echo", { text: `t${n++}` })
          : M.functionCall("get_weather", { city: `c${n++}` })
      )
    return [
      ...turns.map(([text, names]) =>
        text === undefined ? M.turn(...calls(names)) : M.turn(M.message(text), ...calls(names))
      ),
      M.message(answer)
    ]
  })

const turnOf = (event: AgentEvent): number | undefined => ("turn" in event ? event.turn : undefined)
const callOf = (event: AgentEvent): string | undefined => ("callId" in event ? event.callId : undefined)

/** Checks the documented order; returns the first violation. */
const violation = (events: ReadonlyArray<AgentEvent>): string | undefined => {
  if (events[0]?._tag !== "RunStart") return "RunStart is not first"
  if (events.at(-1)?._tag !== "RunEnd") return "RunEnd is not last"
  let turn = 0
  let open = false
  const at = new Map<string, number>()
  for (const [index, event] of events.entries()) {
    const key = (tag: string) => `${tag}:${callOf(event) ?? turnOf(event)}`
    if (at.has(key(event._tag))) return `${key(event._tag)} twice`
    at.set(key(event._tag), index)
    switch (event._tag) {
      case "TurnStart":
        if (open || event.turn !== turn + 1) return `TurnStart ${event.turn} out of order`
        turn = event.turn
        open = true
        break
      case "TurnEnd":
        if (!open || event.turn !== turn) return `TurnEnd ${event.turn} without its TurnStart`
        open = false
        break
      case "TextDelta":
      case "ReasoningDelta":
      case "ToolCallStart":
      case "ToolCallArgumentsDelta":
      case "ToolCallEnd":
        if (!open || event.turn !== turn) return `${event._tag} outside its model call`
        at.delete(key(event._tag))
        break
      case "ToolExecutionStart":
      case "ToolExecutionEnd":
      case "ToolResult":
        if (open || event.turn !== turn) return `${event._tag} during a model call`
        break
    }
  }
  for (const [name, index] of at) {
    const [tag, id] = name.split(":")
    const before = (earlier: string) => {
      const other = at.get(`${earlier}:${id}`)
      return other === undefined || other < index
    }
    if (tag === "ToolExecutionEnd" && !before("ToolExecutionStart")) return `ToolExecutionEnd before its start (${id})`
    if (tag === "ToolResult" && !before("ToolExecutionEnd")) return `ToolResult before the execution ended (${id})`
  }
  return undefined
}

describe("event order", () => {
  it("follows the documented order for random scripts (property)", () =>
    fc.assert(
      fc.asyncProperty(script, async (steps) => {
        const fake = makeFake(steps)
        const events = await Effect.runPromise(
          Stream.runCollect(
            agent.stream("go").pipe(Stream.provide(Layer.mergeAll(fake.layer, testToolsLayer(makeRuns()))))
          )
        )
        const problem = violation(events)
        if (problem !== undefined) throw new Error(`${problem}: ${events.map((event) => event._tag).join(" ")}`)
        const calls = steps.flatMap((step) => step.items.filter((item) => item._tag === "FunctionCall")).length
        // a repeated identical call is answered without running (`skipped`): no execution events
        const executed = events.filter((event) => event._tag === "ToolResult" && event.skipped === undefined).length
        assert.strictEqual(events.filter((event) => event._tag === "ToolExecutionStart").length, executed)
        assert.strictEqual(events.filter((event) => event._tag === "ToolResult").length, calls)
      }),
      { numRuns: 60 }
    ))

  it("the checker catches a misplaced event (it can fail)", () => {
    const ok: ReadonlyArray<AgentEvent> = [
      { _tag: "RunStart", runId: "r", agent: "a", resumed: false },
      { _tag: "TurnStart", runId: "r", turn: 1 },
      { _tag: "ToolCallEnd", turn: 1, callId: "c", name: "t", arguments: "{}" },
      {
        _tag: "TurnEnd",
        turn: 1,
        responseId: "x",
        usage: {
          requests: 1,
          inputTokens: 0,
          outputTokens: 0,
          totalTokens: 0,
          cachedInputTokens: 0,
          reasoningTokens: 0
        },
        totalUsage: {
          requests: 1,
          inputTokens: 0,
          outputTokens: 0,
          totalTokens: 0,
          cachedInputTokens: 0,
          reasoningTokens: 0
        }
      },
      { _tag: "ToolExecutionStart", turn: 1, callId: "c", name: "t" },
      { _tag: "ToolExecutionEnd", turn: 1, callId: "c", name: "t", durationMs: 0, isError: false },
      { _tag: "ToolResult", turn: 1, callId: "c", name: "t", output: "", isError: false },
      {
        _tag: "RunEnd",
        runId: "r",
        stopReason: { _tag: "Completed" },
        usage: {
          requests: 1,
          inputTokens: 0,
          outputTokens: 0,
          totalTokens: 0,
          cachedInputTokens: 0,
          reasoningTokens: 0
        }
      }
    ]
    assert.isUndefined(violation(ok))
    const swapped = [...ok]
    ;[swapped[5], swapped[6]] = [swapped[6]!, swapped[5]!]
    assert.isDefined(violation(swapped))
    assert.isDefined(violation([ok[0]!, ok[1]!, ok[4]!, ok[3]!, ok.at(-1)!]), "a tool event during a model call")
    assert.isDefined(violation(ok.slice(1)), "no RunStart")
  })
})
