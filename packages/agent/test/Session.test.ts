import { assert, describe, it, layer } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import type { ResponsesSchema } from "@volley/core"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { validatePairing } from "../src/internal/history.ts"
import * as Session from "../src/Session.ts"
import { type FakeStep, inputJson, makeFake } from "./support/FakeClient.ts"
import { pgLayer } from "./support/postgres.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const agent = Agent.make({ name: "chat", model: "m", toolkit: TestTools })
const user = (text: string): ResponsesSchema.InputItem => ({ type: "message", role: "user", content: text })
const call = (id: string): ResponsesSchema.InputItem => ({
  type: "function_call",
  call_id: id,
  name: "get_weather",
  arguments: "{}"
})
const output = (id: string): ResponsesSchema.InputItem => ({ type: "function_call_output", call_id: id, output: "ok" })

const withFake = (steps: ReadonlyArray<FakeStep>) => {
  const fake = makeFake(steps)
  return { fake, layer: Layer.mergeAll(fake.layer, testToolsLayer(makeRuns())) }
}

type Methods = Vitest.MethodsNonLive<Session.Session>

/** The same behaviour for every store; `id` keeps the SQL tests apart on one database. */
const suite = (name: string, it: Methods, prefix: string) => {
  describe(name, () => {
    it.effect("append, history, pop (undo the last turn), replace, clear", () =>
      Effect.gen(function* () {
        const session = yield* Session.Session
        const id = `${prefix}-basics`
        yield* session.append(id, [user("a"), call("c1"), output("c1")])
        yield* session.append(id, [user("b")])
        assert.strictEqual((yield* session.history(id)).length, 4)
        const popped = yield* session.pop(id)
        assert.deepStrictEqual(popped, [user("b")])
        assert.deepStrictEqual(yield* session.history(id), [user("a"), call("c1"), output("c1")])
        yield* session.replace(id, [user("z")])
        assert.deepStrictEqual(yield* session.history(id), [user("z")])
        yield* session.clear(id)
        assert.deepStrictEqual(yield* session.history(id), [])
        assert.deepStrictEqual(yield* session.pop(id), [])
      })
    )

    it.effect("refuses a turn that breaks the pairing validator; nothing is written", () =>
      Effect.gen(function* () {
        const session = yield* Session.Session
        const id = `${prefix}-invalid`
        const error = yield* Effect.flip(session.append(id, [user("a"), call("c1")]))
        assert.strictEqual(error.reason, "InvalidTurn")
        const orphan = yield* Effect.flip(session.append(id, [output("c9")]))
        assert.strictEqual(orphan.reason, "InvalidTurn")
        assert.deepStrictEqual(yield* session.history(id), [])
      })
    )

    it.effect("a run prepends the stored history and appends its new items as one turn", () =>
      Effect.gen(function* () {
        const id = `${prefix}-two-runs`
        const { fake, layer } = withFake([M.message("Hi Ada"), M.message("You are Ada")])
        yield* Session.run(agent, id, "I am Ada").pipe(Effect.provide(layer))
        const second = yield* Session.run(agent, id, "Who am I?").pipe(Effect.provide(layer))
        assert.strictEqual(second._tag === "Completed" && second.output, "You are Ada")
        const sent = inputJson(fake.seen[1]!)
        assert.strictEqual(sent.length, 3, "history (user, assistant) + the new message")
        assert.include(sent[1]!, "Hi Ada")
        const stored = yield* (yield* Session.Session).history(id)
        assert.strictEqual(stored.length, 4)
        assert.deepStrictEqual(stored, second.history)
      })
    )

    it.effect("a failed run still appends its turn, complete (every call has its output)", () =>
      Effect.gen(function* () {
        const id = `${prefix}-failed`
        const { layer } = withFake([M.functionCall("get_weather", { city: "Paris" })])
        const error = yield* Effect.flip(
          Session.run(agent, id, "Weather?").pipe(Effect.provideService(AgentKnobs.MaxTurns, 1), Effect.provide(layer))
        )
        assert.strictEqual(error._tag, "MaxTurnsExceeded")
        const stored = yield* (yield* Session.Session).history(id)
        assert.strictEqual(stored.length, 3, "user, function_call, function_call_output")
        assert.isUndefined(validatePairing(stored))
      })
    )

    it.effect("an interrupted run appends its turn (the input) before the lock is released", () =>
      Effect.gen(function* () {
        const id = `${prefix}-interrupted`
        const { layer } = withFake([{ _tag: "Hang" }])
        const fiber = yield* Session.run(agent, id, "Hello?").pipe(Effect.provide(layer), Effect.forkChild)
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(yield* (yield* Session.Session).history(id), [user("Hello?")])
      })
    )

    it.effect("two runs on one session at once are serialised: the second sees the first's turn", () =>
      Effect.gen(function* () {
        const id = `${prefix}-concurrent`
        const { fake, layer } = withFake([
          { _tag: "Delay", ms: 150, turn: M.message("first answer") },
          M.message("second answer")
        ])
        const first = yield* Session.run(agent, id, "one").pipe(Effect.provide(layer), Effect.forkChild)
        yield* Effect.sleep("30 millis")
        const second = yield* Session.run(agent, id, "two").pipe(Effect.provide(layer), Effect.forkChild)
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        assert.include(inputJson(fake.seen[1]!).join("\n"), "first answer")
        const stored = yield* (yield* Session.Session).history(id)
        assert.deepStrictEqual(
          stored.map((item) => JSON.stringify(item).match(/one|two|first answer|second answer/)?.[0]),
          ["one", "first answer", "two", "second answer"],
          "turns are whole and in order, never interleaved"
        )
      })
    )

    it.effect("onBusy: fail rejects a second run with SessionError Busy; the first is untouched", () =>
      Effect.gen(function* () {
        const id = `${prefix}-busy`
        const { fake, layer } = withFake([{ _tag: "Delay", ms: 150, turn: M.message("done") }])
        const first = yield* Session.run(agent, id, "one").pipe(Effect.provide(layer), Effect.forkChild)
        yield* Effect.sleep("30 millis")
        const exit = yield* Effect.exit(Session.run(agent, id, "two", { onBusy: "fail" }).pipe(Effect.provide(layer)))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(Effect.flatten(Effect.succeed(exit)))
        assert.strictEqual(error._tag === "SessionError" && error.reason, "Busy")
        yield* Fiber.join(first)
        assert.strictEqual(fake.seen.length, 1, "the rejected run made no model call")
        assert.strictEqual((yield* (yield* Session.Session).history(id)).length, 2)
      })
    )
  })
}

describe("Session in memory (store)", () => {
  it.live("per-session locks: runs on different sessions do not wait for each other", () =>
    Effect.gen(function* () {
      const { fake, layer } = withFake([{ _tag: "Delay", ms: 200, turn: M.message("slow") }, M.message("fast")])
      const slow = yield* Session.run(agent, "a", "one").pipe(Effect.provide(layer), Effect.forkChild)
      yield* Effect.sleep("20 millis")
      yield* Session.run(agent, "b", "two").pipe(Effect.provide(layer))
      assert.isUndefined(slow.pollUnsafe(), "the other session's run finished while the slow one still runs")
      yield* Fiber.join(slow)
      assert.strictEqual(fake.seen.length, 2)
    }).pipe(Effect.provide(Session.layerMemory))
  )
})

layer(Session.layerMemory, { excludeTestServices: true })("Session.layerMemory", (it) =>
  suite("memory store", it, "mem")
)

layer(Session.layerSql().pipe(Layer.provideMerge(pgLayer)), { excludeTestServices: true, timeout: 120_000 })(
  "Session.layerSql on Postgres",
  (it) => {
    suite("SQL store", it, "sql")
    it.effect("items come back byte for byte (key order kept), across a second store on the same table", () =>
      Effect.gen(function* () {
        const item = { role: "user", type: "message", content: "z first" } as ResponsesSchema.InputItem
        yield* (yield* Session.Session).append("sql-bytes", [item])
        const other = yield* Session.makeSql()
        const [back] = yield* other.history("sql-bytes")
        assert.strictEqual(JSON.stringify(back), JSON.stringify(item))
      })
    )
    it.effect(
      "an interrupted wait for the lock leaves nothing behind: the session is free once the holder is done",
      () =>
        Effect.gen(function* () {
          const session = yield* Session.Session
          const holder = yield* Effect.forkChild(session.withLock("sql-interrupted-wait", Effect.sleep("150 millis")))
          yield* Effect.sleep("30 millis")
          const waiter = yield* Effect.forkChild(session.withLock("sql-interrupted-wait", Effect.void))
          yield* Effect.sleep("40 millis")
          yield* Fiber.interrupt(waiter)
          yield* Fiber.join(holder)
          const after = yield* Effect.exit(session.withLock("sql-interrupted-wait", Effect.succeed("free"), "fail"))
          assert.deepStrictEqual(after, Exit.succeed("free"))
        })
    )
    it.effect("two stores (two pools, as two processes) serialise runs on one session", () =>
      Effect.gen(function* () {
        const first = yield* Session.Session
        const second = yield* Session.makeSql()
        const order: Array<string> = []
        const hold = (label: string, store: Session.SessionShape) =>
          store.withLock(
            "sql-two-stores",
            Effect.gen(function* () {
              order.push(`${label}+`)
              yield* Effect.sleep("100 millis")
              order.push(`${label}-`)
            })
          )
        const a = yield* Effect.forkChild(hold("a", first))
        yield* Effect.sleep("30 millis")
        const busy = yield* Effect.flip(second.withLock("sql-two-stores", Effect.void, "fail"))
        assert.strictEqual(busy.reason, "Busy")
        yield* hold("b", second)
        yield* Fiber.join(a)
        assert.deepStrictEqual(order, ["a+", "a-", "b+", "b-"])
      })
    )
  }
)

describe("agent.run(input, { session })", () => {
  it.live("is Session.run: the stored history is prepended, the turn appended, a busy session refused", () =>
    Effect.gen(function* () {
      const { fake, layer } = withFake([M.message("Hi Ada"), { _tag: "Delay", ms: 100, turn: M.message("Ada") }])
      yield* agent.run("I am Ada", { session: { id: "opt" } }).pipe(Effect.provide(layer))
      const slow = yield* agent
        .run("Who am I?", { session: { id: "opt" } })
        .pipe(Effect.provide(layer), Effect.forkChild)
      yield* Effect.sleep("20 millis")
      const busy = yield* Effect.flip(
        agent.run("again", { session: { id: "opt", onBusy: "fail" } }).pipe(Effect.provide(layer))
      )
      assert.strictEqual(busy._tag === "SessionError" && busy.reason, "Busy")
      const result = yield* Fiber.join(slow)
      assert.strictEqual(result._tag === "Completed" && result.output, "Ada")
      assert.include(inputJson(fake.seen[1]!).join(), "Hi Ada")
      assert.strictEqual((yield* (yield* Session.Session).history("opt")).length, 4)
    }).pipe(Effect.provide(Session.layerMemory))
  )
})

describe("compaction", () => {
  // histories made of whole segments: user messages, assistant messages and call groups whose
  // outputs may come in any order after all the calls of the group
  const segment = fc.oneof(
    fc.constant<ReadonlyArray<string>>(["user"]),
    fc.constant<ReadonlyArray<string>>(["assistant"]),
    fc.integer({ min: 1, max: 3 }).map((n) => [...Array.from({ length: n }, () => "call"), "outputs"])
  )
  const history = fc.array(segment, { maxLength: 12 }).map((segments) => {
    const items: Array<ResponsesSchema.InputItem> = []
    let next = 0
    for (const parts of segments) {
      const open: Array<string> = []
      for (const part of parts) {
        if (part === "user") items.push(user("u"))
        else if (part === "assistant") items.push({ type: "message", role: "assistant", content: "a" })
        else if (part === "call") {
          const id = `c${next++}`
          open.push(id)
          items.push(call(id))
        } else for (const id of open.reverse()) items.push(output(id))
      }
    }
    return items
  })

  it("cutPoint keeps at most `keep` items and never splits a call from its output", () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 0, max: 40 }), (items, keep) => {
        const cut = Session.cutPoint(items, keep)
        const kept = items.slice(cut)
        return kept.length <= keep && validatePairing(kept) === undefined
      })
    )
  })

  it("cutPoint prefers to start the kept part at a user message", () => {
    const items = [
      user("1"),
      call("a"),
      output("a"),
      { type: "message", role: "assistant", content: "x" },
      user("2")
    ] as const
    assert.strictEqual(Session.cutPoint(items, 4), 4)
    assert.strictEqual(Session.cutPoint([user("1"), call("a"), output("a")], 1), 3, "nothing safe but the end")
  })

  it.effect("compact drops old items, or replaces them with a summary from a model call", () =>
    Effect.gen(function* () {
      const items = [user("1"), call("a"), output("a"), user("2"), user("3")]
      assert.strictEqual(yield* Session.compact(items, { maxItems: 5 }), items, "under the limit: unchanged")
      assert.deepStrictEqual(yield* Session.compact(items, { maxItems: 4, keepItems: 2 }), [user("2"), user("3")])
      const { fake, layer } = withFake([M.message("Ada asked about the weather")])
      const summariser = Agent.make({ name: "summariser", model: "small" })
      const compacted = yield* Session.compact(items, {
        maxItems: 4,
        keepItems: 1,
        summarise: Session.summariseWith(summariser)
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(compacted, [Session.summaryItem("Ada asked about the weather"), user("3")])
      assert.include(inputJson(fake.seen[0]!).join(), "get_weather", "the summariser saw the dropped items")
    })
  )

  it.effect("Session.run compacts the stored history under the lock before the run", () =>
    Effect.gen(function* () {
      const session = yield* Session.Session
      yield* session.append("long", [user("1"), call("a"), output("a")])
      yield* session.append("long", [user("2"), { type: "message", role: "assistant", content: "two" }])
      const { fake, layer } = withFake([M.message("ok")])
      yield* Session.run(agent, "long", "3", { compaction: { maxItems: 4, keepItems: 2 } }).pipe(Effect.provide(layer))
      assert.strictEqual(inputJson(fake.seen[0]!).length, 3, "kept: user 2, assistant two; then the new message")
      assert.strictEqual((yield* session.history("long")).length, 4)
    }).pipe(Effect.provide(Session.layerMemory))
  )
})

describe("agent.stream(input, { session })", () => {
  it.live("streams on the stored history, appends the turn, and refuses a busy session", () =>
    Effect.gen(function* () {
      const { fake, layer } = withFake([M.message("Hi Ada"), { _tag: "Hang" }])
      const first = yield* Stream.runCollect(agent.stream("I am Ada", { session: { id: "s" } })).pipe(
        Effect.provide(layer)
      )
      assert.strictEqual(first.at(-1)?._tag, "RunEnd")
      const slow = yield* Stream.runCollect(agent.stream("Who am I?", { session: { id: "s" } })).pipe(
        Effect.provide(layer),
        Effect.forkChild
      )
      yield* Effect.sleep("30 millis")
      const busy = yield* Effect.flip(
        Stream.runDrain(agent.stream("again", { session: { id: "s", onBusy: "fail" } })).pipe(Effect.provide(layer))
      )
      assert.strictEqual(busy._tag === "SessionError" && busy.reason, "Busy")
      assert.strictEqual(fake.seen.length, 2, "the refused stream made no model call")
      assert.include(inputJson(fake.seen[1]!).join(), "Hi Ada", "the stored history was prepended")
      yield* Fiber.interrupt(slow)
      const stored = yield* (yield* Session.Session).history("s")
      assert.deepStrictEqual(
        stored.map((item) => JSON.stringify(item).match(/I am Ada|Who am I\?|Hi Ada/)?.[0]),
        ["I am Ada", "Hi Ada", "Who am I?"],
        "two whole turns: the interrupted one is its input"
      )
    }).pipe(Effect.provide(Session.layerMemory))
  )

  it.live("a failed stream appends its whole turn; per-run overrides reach the run", () =>
    Effect.gen(function* () {
      const { fake, layer } = withFake([M.functionCall("get_weather", { city: "Paris" })])
      const error = yield* Effect.flip(
        Stream.runDrain(agent.stream("Weather?", { session: { id: "f" }, model: "other" })).pipe(
          Effect.provideService(AgentKnobs.MaxTurns, 1),
          Effect.provide(layer)
        )
      )
      assert.strictEqual(error._tag, "MaxTurnsExceeded")
      assert.include(JSON.stringify(fake.seen[0]), '"other"', "the model override was sent")
      const stored = yield* (yield* Session.Session).history("f")
      assert.strictEqual(stored.length, 3, "user, function_call, function_call_output")
      assert.isUndefined(validatePairing(stored))
    }).pipe(Effect.provide(Session.layerMemory))
  )

  it.live("a stream its consumer stops mid-run appends the turn so far, paired, and frees the session", () =>
    Effect.gen(function* () {
      const { layer } = withFake([M.functionCall("get_weather", { city: "Paris" }), { _tag: "Hang" }])
      const seen = yield* Stream.runCollect(
        agent
          .stream("Weather?", { session: { id: "i" } })
          .pipe(Stream.takeUntil((event) => event._tag === "TurnStart" && event.turn === 2))
      ).pipe(Effect.provide(layer))
      assert.strictEqual(seen.at(-1)?._tag, "TurnStart")
      const stored = yield* (yield* Session.Session).history("i")
      assert.deepStrictEqual(
        stored.map((item) => item.type),
        ["message", "function_call", "function_call_output"],
        "the input, the call and its output: no partial turn"
      )
      const { layer: next } = withFake([M.message("free")])
      const after = yield* agent.run("again", { session: { id: "i", onBusy: "fail" } }).pipe(Effect.provide(next))
      assert.strictEqual(after._tag, "Completed", "the lock was released")
    }).pipe(Effect.provide(Session.layerMemory))
  )
})
