import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import { ResponsesError, type ResponsesSchema } from "@volley/core"
import { ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import * as RunState from "../src/RunState.ts"
import { argsHash, canonicalJson, checkPairing, pairingState, validatePairing } from "../src/internal/history.ts"
import { type FakeStep, inputJson, makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", toolkit: TestTools })

const call = (id: string): ResponsesSchema.InputItem => ({
  type: "function_call",
  call_id: id,
  name: "echo",
  arguments: "{}"
})
const output = (id: string): ResponsesSchema.InputItem => ({ type: "function_call_output", call_id: id, output: "ok" })
const message = (text: string): ResponsesSchema.InputItem => ({ type: "message", role: "user", content: text })
const reasoning = (): ResponsesSchema.InputItem => ({ type: "reasoning", summary: [], encrypted_content: "enc" })

// A valid history: turns of messages, reasoning and calls, each call answered later (outputs shuffled).
const validHistory = fc
  .array(
    fc.record({
      text: fc.boolean(),
      reasoning: fc.boolean(),
      calls: fc.integer({ min: 0, max: 3 }),
      shuffle: fc.boolean()
    }),
    { minLength: 1, maxLength: 8 }
  )
  .map((turns) => {
    const items: Array<ResponsesSchema.InputItem> = [message("start")]
    let n = 0
    for (const turn of turns) {
      if (turn.reasoning) items.push(reasoning())
      const ids = Array.from({ length: turn.calls }, () => `call_${++n}`)
      if (turn.text) items.push({ type: "message", role: "assistant", content: "text after a call" })
      for (const id of ids) items.push(call(id))
      for (const id of turn.shuffle ? [...ids].reverse() : ids) items.push(output(id))
    }
    return items
  })

describe("D07 pairing validator", () => {
  it("D07 property: generated valid histories pass; each kind of mutation is caught", () => {
    fc.assert(
      fc.property(
        validHistory,
        fc.nat(),
        fc.constantFrom("drop", "duplicate", "orphan", "before"),
        (items, pick, kind) => {
          assert.isUndefined(validatePairing(items))
          const outputs = items.flatMap((item, index) => (item.type === "function_call_output" ? [index] : []))
          if (kind === "orphan") {
            assert.strictEqual(validatePairing([...items, output("ghost")])?.issue, "OrphanOutput")
            return
          }
          if (outputs.length === 0) return
          const at = outputs[pick % outputs.length]!
          const target = items[at]!
          const mutated = [...items]
          if (kind === "drop") {
            mutated.splice(at, 1)
            assert.strictEqual(validatePairing(mutated)?.issue, "MissingOutput")
          } else if (kind === "duplicate") {
            mutated.splice(at, 0, target)
            assert.strictEqual(validatePairing(mutated)?.issue, "DuplicateOutput")
          } else {
            mutated.splice(at, 1)
            mutated.unshift(target)
            assert.strictEqual(validatePairing(mutated)?.issue, "OrphanOutput")
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  it("D07 incremental: checking only the appended items gives the full validator's answer at every step", () => {
    const item = fc.oneof(
      fc.constantFrom("a", "b", "c", "d").map(call),
      fc.constantFrom("a", "b", "c", "d", "ghost").map(output),
      fc.constant(message("hi"))
    )
    fc.assert(
      fc.property(fc.array(fc.array(item, { maxLength: 4 }), { maxLength: 8 }), (chunks) => {
        const state = pairingState()
        const history: Array<ResponsesSchema.InputItem> = []
        for (const chunk of chunks) {
          history.push(...chunk)
          const incremental = checkPairing(state, history)
          assert.deepStrictEqual(incremental, validatePairing(history))
          // a check that found an issue is the last one (the run stops with InvalidHistory)
          if (incremental !== undefined) return
        }
      }),
      { numRuns: 500 }
    )
  })

  it.effect(
    "D07 property over random runs: every request the loop sends passes the validator and extends the previous one",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.record({
                text: fc.boolean(),
                reasoning: fc.boolean(),
                unknownItem: fc.boolean(),
                calls: fc.array(fc.constantFrom("echo", "get_weather", "nope", "malformed", "repeat"), {
                  maxLength: 4
                }),
                drop: fc.boolean()
              }),
              { maxLength: 6 }
            ),
            fc.boolean(),
            async (turns, streaming) => {
              const steps: Array<FakeStep> = []
              let n = 0
              for (const spec of turns) {
                const parts: Array<M.Turn> = []
                if (spec.reasoning) parts.push(M.reasoning("thinking", "enc"))
                if (spec.unknownItem) parts.push(M.rawItem({ type: "future_item", id: `fi_${n}` }))
                if (spec.text) parts.push(M.message("Let me see"))
                for (const name of spec.calls) {
                  n++
                  if (name === "malformed") parts.push(M.functionCall("echo", '{"text": "unterminated'))
                  else if (name === "repeat") parts.push(M.functionCall("echo", { text: "same" }))
                  else if (name === "echo") parts.push(M.functionCall("echo", { text: `t${n}` }))
                  else parts.push(M.functionCall(name, { city: `c${n}` }))
                }
                if (parts.length === 0 || spec.calls.length === 0)
                  parts.push(M.functionCall("echo", { text: `x${n++}` }))
                const turn = M.turn(...parts)
                if (spec.drop && streaming)
                  steps.push({
                    _tag: "Drop",
                    after: 2,
                    turn,
                    error: (attempts) =>
                      new ResponsesError.StreamTruncated({
                        message: "drop",
                        retryable: true,
                        attempts,
                        causes: [],
                        partial: { id: "r" }
                      })
                  })
                steps.push(turn)
              }
              steps.push(M.message("done"))
              const fake = makeFake(steps)
              const layer = Layer.mergeAll(fake.layer, testToolsLayer(makeRuns()))
              const program = streaming
                ? Stream.runDrain(assistant.stream("go").pipe(Stream.provide(layer)))
                : Effect.asVoid(assistant.run("go").pipe(Effect.provide(layer)))
              await Effect.runPromise(
                program.pipe(
                  Effect.catch((error) =>
                    Effect.sync(() => {
                      assert.isUndefined(validatePairing(error.history), `history after ${error._tag}`)
                    })
                  )
                )
              )
              let previous: Array<string> = []
              for (const seen of fake.seen) {
                assert.isUndefined(validatePairing(seen.request.input as ReadonlyArray<ResponsesSchema.InputItem>))
                const current = inputJson(seen)
                assert.deepStrictEqual(current.slice(0, previous.length), previous)
                previous = current
              }
            }
          ),
          { numRuns: 60 }
        )
      )
  )
})

describe("D07 interrupted and resumed runs", () => {
  it.effect(
    "D07 property: a run interrupted at any step, then resumed from its checkpoint, only sends valid histories",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
            fc.nat({ max: 12 }),
            async (callsPerTurn, interruptAt) => {
              let n = 0
              const steps: Array<FakeStep> = callsPerTurn.map((count) =>
                M.turn(...Array.from({ length: count }, () => M.functionCall("echo", { text: `t${++n}` })))
              )
              steps.push(M.message("done"), M.message("done"))
              const fake = makeFake(steps)
              const layer = Layer.mergeAll(fake.layer, testToolsLayer(makeRuns()))
              let step = 0
              const wrapper: AgentKnobs.StepWrapperShape = {
                wrap: (_id, effect) => (step++ === interruptAt ? Effect.interrupt : effect)
              }
              let saved: RunState.RunState | undefined
              const first = await Effect.runPromiseExit(
                assistant
                  .run("go", {
                    checkpoint: (state) =>
                      Effect.sync(() => {
                        saved = state
                      })
                  })
                  .pipe(Effect.provide(layer), Effect.provideService(AgentKnobs.StepWrapper, wrapper))
              )
              if (first._tag === "Failure") {
                assert.isDefined(saved)
                const restored = await Effect.runPromise(RunState.fromJson(RunState.toJson(saved!)))
                assert.isUndefined(validatePairing(restored.history))
                await Effect.runPromise(assistant.resume(restored).pipe(Effect.provide(layer), Effect.ignore))
              }
              for (const seen of fake.seen)
                assert.isUndefined(validatePairing(seen.request.input as ReadonlyArray<ResponsesSchema.InputItem>))
            }
          ),
          { numRuns: 80 }
        )
      )
  )
})

describe("argument hashing", () => {
  it("canonical JSON ignores key order and whitespace; different values differ", () => {
    assert.strictEqual(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}')
    assert.strictEqual(argsHash('{"a":1,"b":2}'), argsHash('{ "b": 2, "a": 1 }'))
    assert.notStrictEqual(argsHash('{"a":1}'), argsHash('{"a":2}'))
    assert.notStrictEqual(argsHash('{"a":1'), argsHash('{"a":1}'))
  })
})
