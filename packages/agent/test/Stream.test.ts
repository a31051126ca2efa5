import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { ResponsesError, RetryPolicy } from "@volley/core"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentEventSchema from "../src/AgentEvent.ts"
import type { AgentEvent } from "../src/AgentEvent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { validatePairing } from "../src/internal/history.ts"
import { type FakeStep, inputJson, makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", toolkit: TestTools })

const setup = (steps: ReadonlyArray<FakeStep>) => {
  const fake = makeFake(steps)
  const runs = makeRuns()
  return { fake, runs, layer: Layer.mergeAll(fake.layer, testToolsLayer(runs)) }
}

const truncated = (attempts: number) =>
  new ResponsesError.StreamTruncated({
    message: "stream ended early",
    retryable: true,
    attempts,
    causes: [],
    partial: { id: "resp_x" }
  })

const collect = (stream: Stream.Stream<AgentEvent, unknown, never>) => Stream.runCollect(stream)

const textOf = (events: ReadonlyArray<AgentEvent>) =>
  events.flatMap((event) => (event._tag === "TextDelta" ? [event.delta] : [])).join("")

describe("Agent.stream", () => {
  it.effect("emits the one event vocabulary in order, ending with RunEnd{Completed}", () =>
    Effect.gen(function* () {
      const { layer } = setup([
        M.turn(M.reasoning("plan it"), M.message("Let me check"), M.functionCall("get_weather", { city: "Paris" })),
        M.message("Sunny in Paris")
      ])
      const events = yield* collect(assistant.stream("Weather?").pipe(Stream.provide(layer)))
      const tags = events.map((event) => event._tag)
      assert.strictEqual(tags[0], "RunStart")
      assert.strictEqual(tags[1], "TurnStart")
      assert.strictEqual(tags.at(-1), "RunEnd")
      for (const tag of [
        "ReasoningDelta",
        "TextDelta",
        "ToolCallStart",
        "ToolCallArgumentsDelta",
        "ToolCallEnd",
        "TurnEnd",
        "ToolResult"
      ])
        assert.include(tags, tag)
      assert.isBelow(tags.indexOf("ToolCallStart"), tags.indexOf("ToolCallEnd"))
      assert.isBelow(tags.indexOf("TurnEnd"), tags.indexOf("ToolResult"))
      assert.strictEqual(tags.filter((tag) => tag === "TurnStart").length, 2)
      const end = events.at(-1)!
      assert.deepStrictEqual(end._tag === "RunEnd" ? end.stopReason : undefined, { _tag: "Completed" })
      assert.strictEqual(textOf(events), "Let me checkSunny in Paris")
      const args = events.flatMap((event) => (event._tag === "ToolCallArgumentsDelta" ? [event.delta] : [])).join("")
      assert.deepStrictEqual(JSON.parse(args), { city: "Paris" })
    })
  )

  it.effect("every emitted event is valid per the AgentEvent schema and survives a JSON round trip", () =>
    Effect.gen(function* () {
      const { layer } = setup([
        { _tag: "Drop", after: 4, turn: M.message("partial answer text"), error: truncated },
        M.turn(M.reasoning("plan"), M.message("Checking"), M.functionCall("echo", { text: "x" })),
        M.turn(M.functionCall("delete_file", { path: "/a" }))
      ])
      const events = yield* collect(assistant.stream("Q").pipe(Stream.provide(layer)))
      const decode = Schema.decodeUnknownSync(Schema.fromJsonString(AgentEventSchema.AgentEvent))
      const encode = Schema.encodeSync(Schema.fromJsonString(AgentEventSchema.AgentEvent))
      for (const event of events) assert.deepStrictEqual(decode(encode(event)), event)
      const tags = new Set(events.map((event) => event._tag))
      for (const tag of ["TurnRestarted", "NeedsApproval", "ReasoningDelta", "ToolResult", "RunEnd"])
        assert.isTrue(tags.has(tag as never))
    })
  )

  it.effect("C06 a dropped stream re-runs the model call: TurnRestarted, a fresh stream, nothing duplicated", () =>
    Effect.gen(function* () {
      const answer = M.message("The answer is forty-two, as computed by the model")
      const { fake, layer } = setup([{ _tag: "Drop", after: 6, turn: answer, error: truncated }, answer])
      const events = yield* collect(assistant.stream("Q").pipe(Stream.provide(layer)))
      const restart = events.findIndex((event) => event._tag === "TurnRestarted")
      assert.isAbove(restart, 0)
      const restarted = events[restart]!
      assert.deepStrictEqual(
        restarted._tag === "TurnRestarted" ? [restarted.turn, restarted.attempts, restarted.error] : [],
        [1, 1, "StreamTruncated"]
      )
      assert.isAbove(textOf(events.slice(0, restart)).length, 0, "partial text was streamed before the drop")
      assert.strictEqual(textOf(events.slice(restart)), "The answer is forty-two, as computed by the model")
      assert.strictEqual(fake.seen.length, 2)
      assert.strictEqual(fake.seen[1]!.options?.previousAttempts, 1)
      assert.deepStrictEqual(inputJson(fake.seen[1]!), inputJson(fake.seen[0]!))
      const result = yield* assistant.run("Q").pipe(Effect.provide(setup([answer]).layer))
      assert.strictEqual(result.history.length, 2)
    })
  )

  it.effect("A10 turn retries share the client's budget: maxRetries + 1 attempts in total, never 3 x 3", () =>
    Effect.gen(function* () {
      const drop: FakeStep = { _tag: "Drop", after: 3, turn: M.message("partial text here"), error: truncated }
      const { fake, layer } = setup([drop, drop, drop, drop, drop])
      const error = yield* Effect.flip(Stream.runDrain(assistant.stream("Q").pipe(Stream.provide(layer))))
      assert.strictEqual(error._tag, "ModelError")
      assert.strictEqual(error._tag === "ModelError" ? error.error._tag : "", "StreamTruncated")
      assert.strictEqual(fake.seen.length, 3)
      assert.deepStrictEqual(
        fake.seen.map((seen) => seen.options?.previousAttempts ?? 0),
        [0, 1, 2]
      )
      // The client already spent its attempts (503 forever): the turn layer adds none.
      const spent = setup([
        {
          _tag: "Fail",
          error: () =>
            new ResponsesError.InternalProviderError({
              message: "503",
              retryable: true,
              attempts: 3,
              causes: [],
              status: 503
            })
        },
        M.message("never")
      ])
      const failure = yield* Effect.flip(Stream.runDrain(assistant.stream("Q").pipe(Stream.provide(spent.layer))))
      assert.strictEqual(failure._tag, "ModelError")
      assert.strictEqual(spent.fake.seen.length, 1)
    })
  )

  it.effect(
    "a retryable failure mid-stream (overloaded error event) restarts the turn after the policy's backoff",
    () =>
      Effect.gen(function* () {
        const overloaded = (attempts: number) =>
          new ResponsesError.ResponseFailed({
            message: "overloaded",
            retryable: true,
            attempts,
            causes: [],
            code: "server_is_overloaded"
          })
        const { fake, layer } = setup([
          { _tag: "Drop", after: 4, turn: M.message("partial answer"), error: overloaded },
          M.message("full answer")
        ])
        const fiber = yield* Stream.runCollect(assistant.stream("Q").pipe(Stream.provide(layer))).pipe(Effect.forkChild)
        yield* TestClock.adjust("374 millis")
        assert.strictEqual(fake.seen.length, 1, "no restart before the backoff floor (375 ms)")
        yield* TestClock.adjust("126 millis")
        const events = yield* Fiber.join(fiber)
        assert.strictEqual(fake.seen.length, 2)
        assert.include(
          events.map((event) => event._tag),
          "TurnRestarted"
        )
      })
  )

  it.effect(
    "a mid-stream failure with a Retry-After restarts on core's schedule: the advertised delay is a floor, and one above maxRetryAfterMs is final",
    () =>
      Effect.gen(function* () {
        const limited = (retryAfter: number) => (attempts: number) =>
          new ResponsesError.RateLimitError({
            message: "slow down",
            retryable: true,
            attempts,
            causes: [],
            status: 429,
            retryAfter
          })
        const floor = setup([
          { _tag: "Drop", after: 4, turn: M.message("partial answer"), error: limited(2_000) },
          M.message("full answer")
        ])
        const fiber = yield* Stream.runCollect(assistant.stream("Q").pipe(Stream.provide(floor.layer))).pipe(
          Effect.forkChild
        )
        yield* TestClock.adjust("1999 millis")
        assert.strictEqual(floor.fake.seen.length, 1, "no restart before the advertised 2 s")
        yield* TestClock.adjust("501 millis")
        const events = yield* Fiber.join(fiber)
        assert.strictEqual(floor.fake.seen.length, 2)
        assert.include(
          events.map((event) => event._tag),
          "TurnRestarted"
        )
        const ceiling = setup([
          { _tag: "Drop", after: 4, turn: M.message("partial answer"), error: limited(61_000) },
          M.message("full answer")
        ])
        const seen: Array<string> = []
        const failure = yield* Effect.flip(
          Stream.runForEach(assistant.stream("Q").pipe(Stream.provide(ceiling.layer)), (event) =>
            Effect.sync(() => seen.push(event._tag))
          )
        )
        assert.strictEqual(failure._tag, "ModelError")
        assert.strictEqual(ceiling.fake.seen.length, 1)
        assert.notInclude(seen, "TurnRestarted")
      })
  )

  it.effect("A10 the shared budget follows ModelRetries, or else the client's RetryPolicy", () =>
    Effect.gen(function* () {
      const drop: FakeStep = { _tag: "Drop", after: 3, turn: M.message("partial text here"), error: truncated }
      const five = setup([drop, drop, drop, drop, drop, drop])
      yield* Effect.flip(
        Stream.runDrain(
          assistant.stream("Q").pipe(Stream.provide(five.layer), Stream.provideService(AgentKnobs.ModelRetries, 4))
        )
      )
      assert.strictEqual(five.fake.seen.length, 5)
      const one = setup([drop, drop])
      yield* Effect.flip(
        Stream.runDrain(
          assistant
            .stream("Q")
            .pipe(Stream.provide(one.layer), Stream.provideService(RetryPolicy.RetryPolicy, RetryPolicy.none))
        )
      )
      assert.strictEqual(one.fake.seen.length, 1)
    })
  )

  it.effect("C06 with RetryTurnOnStreamDrop off, the drop is final", () =>
    Effect.gen(function* () {
      const { fake, layer } = setup([{ _tag: "Drop", after: 4, turn: M.message("partial"), error: truncated }])
      const error = yield* Effect.flip(
        Stream.runDrain(
          assistant
            .stream("Q")
            .pipe(Stream.provide(layer), Stream.provideService(AgentKnobs.RetryTurnOnStreamDrop, false))
        )
      )
      assert.strictEqual(error._tag, "ModelError")
      assert.strictEqual(fake.seen.length, 1)
    })
  )

  it.effect("E07 charge_card (idempotent: false) runs once; the turn-2 retry re-sends its cached output", () =>
    Effect.gen(function* () {
      const { fake, runs, layer } = setup([
        M.functionCall("charge_card", { amount: 10 }),
        { _tag: "Drop", after: 3, turn: M.message("Charged."), error: truncated },
        M.message("Charged.")
      ])
      const events = yield* collect(assistant.stream("Pay").pipe(Stream.provide(layer)))
      assert.strictEqual(runs.calls.filter((call) => call.name === "charge_card").length, 1)
      assert.strictEqual(fake.seen.length, 3)
      assert.deepStrictEqual(inputJson(fake.seen[2]!), inputJson(fake.seen[1]!))
      assert.isTrue(inputJson(fake.seen[2]!).some((json) => json.includes("charged 10")))
      assert.strictEqual(events.filter((event) => event._tag === "ToolResult").length, 1)
    })
  )

  it.effect("a stop reason ends the stream with RunEnd before the typed failure", () =>
    Effect.gen(function* () {
      const { layer } = setup([M.refusal("no")])
      const events: Array<AgentEvent> = []
      const error = yield* Effect.flip(
        Stream.runForEach(assistant.stream("Q").pipe(Stream.provide(layer)), (event) =>
          Effect.sync(() => {
            events.push(event)
          })
        )
      )
      assert.strictEqual(error._tag, "Refused")
      const end = events.at(-1)!
      assert.deepStrictEqual(end._tag === "RunEnd" ? end.stopReason : undefined, { _tag: "Refused", text: "no" })
      assert.isUndefined(validatePairing(error.history))
    })
  )
})
