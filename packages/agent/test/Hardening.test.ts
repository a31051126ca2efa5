/**
 * Issue 13 (hardening round 2), the agent's side: model JSON nested too deep, a per-turn call cap,
 * a `call_id` reused across turns, single-use approvals bound to their call, and turn restarts
 * under the client's retry policy. Each test fails on `bba834f`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ResponsesClient } from "@volley/core"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentError from "../src/AgentError.ts"
import type { AgentEvent } from "../src/AgentEvent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import * as ApprovalLedger from "../src/ApprovalLedger.ts"
import { argsHash, nestsDeeperThan, validatePairing } from "../src/internal/history.ts"
import * as RunState from "../src/RunState.ts"
import { type FakeStep, inputJson, makeFake } from "./support/FakeClient.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", toolkit: TestTools })

const setup = (steps: ReadonlyArray<FakeStep>) => {
  const fake = makeFake(steps)
  const runs = makeRuns()
  return { fake, runs, layer: Layer.mergeAll(fake.layer, testToolsLayer(runs)) }
}

// the local Responses server on 127.0.0.1 and the real client over undici
const overHttp = (script: ReadonlyArray<M.Step>) => {
  const runs = makeRuns()
  const client = Layer.unwrap(
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layerUndici({ baseUrl: server.baseUrl, apiKey: Redacted.make("sk-test-key") })
    })
  )
  return {
    runs,
    layer: Layer.mergeAll(client, testToolsLayer(runs)).pipe(Layer.provideMerge(ResponsesServer.layer(script)))
  }
}

const outputsOf = (json: ReadonlyArray<string>) =>
  json
    .map((text) => JSON.parse(text) as { type?: string; call_id?: string; output?: string })
    .filter((item) => item.type === "function_call_output")

/** `{"text": [[[…]]]}` nested `levels` deep: 2 bytes per level. */
const deepArguments = (levels: number) => `{"text":${"[".repeat(levels)}${"]".repeat(levels)}}`

describe("issue 13: deep model JSON", () => {
  it("argsHash of arguments nested 4,000 deep (8 KB) returns a hash instead of overflowing the stack", () => {
    const deep = deepArguments(4000)
    assert.isAbove(deep.length, 8000)
    const hash = argsHash(deep)
    assert.match(hash, /^sha256:[0-9a-f]{64}$/)
    assert.strictEqual(argsHash(deep), hash, "stable")
    assert.notStrictEqual(argsHash(deepArguments(3999)), hash)
    assert.strictEqual(argsHash('{"b":1,"a":2}'), argsHash('{"a":2, "b":1}'), "key order still does not matter")
  })

  it.effect("tool arguments nested 4,000 deep are fed back to the model as invalid; the run goes on", () =>
    Effect.gen(function* () {
      const { fake, runs, layer } = setup([
        M.functionCall("echo", deepArguments(4000), { callId: "call_deep" }),
        M.message("Sorry.")
      ])
      const result = yield* assistant.run("go").pipe(Effect.provide(layer))
      assert.strictEqual(result._tag, "Completed")
      assert.deepStrictEqual(runs.calls, [], "the tool never ran")
      const [output] = outputsOf(inputJson(fake.seen[1]!))
      assert.strictEqual(output?.call_id, "call_deep")
      assert.include(output?.output, "invalid_json")
      assert.include(output?.output, "deeper than 256 levels")
      assert.isUndefined(validatePairing(result.history))
    })
  )
})

describe("issue 13: calls screened before anything runs", () => {
  it.effect("a call_id reused from an earlier turn: the turn-2 tool never runs; ModelBehavior names the model", () =>
    Effect.gen(function* () {
      const { fake, runs, layer } = setup([
        M.functionCall("echo", { text: "first" }, { callId: "call_1" }),
        M.functionCall("charge_card", { amount: 100 }, { callId: "call_1" }),
        M.message("unreachable")
      ])
      const error = yield* Effect.flip(assistant.run("go").pipe(Effect.provide(layer)))
      assert.deepStrictEqual(
        runs.calls.map((call) => call.name),
        ["echo"],
        "charge_card (turn 2) did not run"
      )
      assert.strictEqual(error._tag, "ModelBehavior")
      if (error._tag !== "ModelBehavior") return
      assert.strictEqual(error.kind, "CallIdReused")
      assert.strictEqual(error.callId, "call_1")
      assert.include(error.message, "the model reused call_id call_1")
      assert.notInclude(error.message, "history you passed")
      assert.strictEqual(fake.seen.length, 2, "no third request")
      assert.isUndefined(validatePairing(error.history), "the transcript stays valid")
      assert.strictEqual(error.history.filter((item) => item.type === "function_call").length, 1)
    })
  )

  it.effect("10,000 function calls in one response: none runs, ModelBehavior TooManyCalls (default cap 128)", () =>
    Effect.gen(function* () {
      const calls = Array.from({ length: 10_000 }, (_, i) =>
        M.functionCall("echo", { text: `t${i}` }, { callId: `call_${i}` })
      )
      const { runs, layer } = setup([M.turn(...calls), M.message("unreachable")])
      const error = yield* Effect.flip(assistant.run("go").pipe(Effect.provide(layer)))
      assert.strictEqual(runs.calls.length, 0)
      assert.strictEqual(error._tag, "ModelBehavior")
      if (error._tag !== "ModelBehavior") return
      assert.strictEqual(error.kind, "TooManyCalls")
      assert.strictEqual(error.count, 10_000)
      assert.strictEqual(error.limit, 128)
      assert.isUndefined(validatePairing(error.history))
    })
  )

  it.effect("MaxCallsPerTurn is a knob: 128 calls run by default, a lower cap refuses them", () =>
    Effect.gen(function* () {
      const turn = () =>
        M.turn(...Array.from({ length: 128 }, (_, i) => M.functionCall("echo", { text: `t${i}` }, { callId: `c${i}` })))
      const ok = setup([turn(), M.message("done")])
      const result = yield* assistant.run("go").pipe(Effect.provide(ok.layer))
      assert.strictEqual(result._tag, "Completed")
      assert.strictEqual(ok.runs.calls.length, 128)
      const capped = setup([turn()])
      const error = yield* Effect.flip(
        assistant.run("go").pipe(Effect.provide(capped.layer), Effect.provideService(AgentKnobs.MaxCallsPerTurn, 127))
      )
      assert.strictEqual(error._tag === "ModelBehavior" ? error.kind : error._tag, "TooManyCalls")
      assert.strictEqual(capped.runs.calls.length, 0)
    })
  )
})

const deleteTurn = () =>
  M.turn(
    M.functionCall("echo", { text: "before" }, { callId: "call_echo" }),
    M.functionCall("delete_file", { path: "/tmp/a" }, { callId: "call_del" })
  )
const signedAssistant = Agent.make({
  name: "assistant",
  model: "m",
  toolkit: TestTools,
  approvalSecret: Redacted.make("approval-secret-1")
})
const deletes = (runs: { readonly calls: ReadonlyArray<{ readonly name: string }> }) =>
  runs.calls.filter((call) => call.name === "delete_file").length

describe("issue 13: approvals are single-use", () => {
  for (const [label, agent] of [
    ["unsigned", assistant],
    ["signed", signedAssistant]
  ] as const) {
    it.effect(`${label}: three resumes of one paused state with one approval run the tool once`, () =>
      Effect.gen(function* () {
        const { fake, runs, layer } = setup([deleteTurn(), M.message("Deleted."), M.message("again")])
        const paused = yield* agent.run("clean up").pipe(Effect.provide(layer))
        assert.strictEqual(paused._tag, "Paused")
        const json = RunState.toJson(paused.state)
        const approval = agent.approve(paused.state, "call_del")
        const first = yield* agent.resume(paused.state, { approvals: [approval] }).pipe(Effect.provide(layer))
        assert.strictEqual(first._tag, "Completed")
        for (let i = 0; i < 2; i++) {
          // as after a restart: the same saved JSON, the same approval
          const state = yield* RunState.fromJson(json)
          const error = yield* Effect.flip(agent.resume(state, { approvals: [approval] }).pipe(Effect.provide(layer)))
          assert.strictEqual(error._tag, "ApprovalAlreadyUsed")
          assert.strictEqual(error._tag === "ApprovalAlreadyUsed" ? error.callId : "", "call_del")
          assert.strictEqual(error.history.length, state.history.length, "the run stays as it was paused")
        }
        assert.strictEqual(deletes(runs), 1, "3 resumes, 1 run")
        assert.strictEqual(fake.seen.length, 2, "no model call after a refused resume")
      }).pipe(Effect.provide(ApprovalLedger.layerMemory()))
    )
  }

  it.effect("a rejection is a decision too: approving after it was rejected is ApprovalAlreadyUsed", () =>
    Effect.gen(function* () {
      const { runs, layer } = setup([deleteTurn(), M.message("Understood.")])
      const paused = yield* assistant.run("clean up").pipe(Effect.provide(layer))
      const rejected = yield* assistant
        .resume(paused.state, { approvals: [assistant.reject(paused.state, "call_del", "no")] })
        .pipe(Effect.provide(layer))
      assert.strictEqual(rejected._tag, "Completed")
      const error = yield* Effect.flip(
        assistant
          .resume(paused.state, { approvals: [assistant.approve(paused.state, "call_del")] })
          .pipe(Effect.provide(layer))
      )
      assert.strictEqual(error._tag, "ApprovalAlreadyUsed")
      assert.strictEqual(deletes(runs), 0)
    })
  )

  it.live("two concurrent resumes with one approval: exactly one runs the tool", () =>
    Effect.gen(function* () {
      const { runs, layer } = setup([deleteTurn(), M.message("Deleted."), M.message("Deleted.")])
      const paused = yield* assistant.run("clean up").pipe(Effect.provide(layer))
      const approval = assistant.approve(paused.state, "call_del")
      const both = yield* Effect.all(
        [0, 1].map(() =>
          Effect.result(assistant.resume(paused.state, { approvals: [approval] }).pipe(Effect.provide(layer)))
        ),
        { concurrency: 2 }
      )
      const tags = both.map((result) => (result._tag === "Success" ? result.success._tag : result.failure._tag)).sort()
      assert.deepStrictEqual(tags, ["ApprovalAlreadyUsed", "Completed"])
      assert.strictEqual(deletes(runs), 1)
    })
  )

  it.effect("the ledger is a service: a shared store sees every consumed nonce, with its run and call", () =>
    Effect.gen(function* () {
      const seen: Array<ApprovalLedger.ConsumedApproval> = []
      const used = new Set<string>()
      const shared: ApprovalLedger.ApprovalLedgerShape = {
        consume: (entry) =>
          Effect.sync(() => {
            seen.push(entry)
            if (used.has(entry.nonce)) return false
            used.add(entry.nonce)
            return true
          })
      }
      const { runs, layer } = setup([deleteTurn(), M.message("Deleted.")])
      const paused = yield* assistant.run("clean up", { runId: "run-1" }).pipe(Effect.provide(layer))
      const approval = assistant.approve(paused.state, "call_del")
      // two "processes", each with its own in-memory default, share one store
      const processA = assistant
        .resume(paused.state, { approvals: [approval] })
        .pipe(Effect.provide(Layer.mergeAll(layer, ApprovalLedger.layer(shared))))
      assert.strictEqual((yield* processA)._tag, "Completed")
      const processB = assistant
        .resume(paused.state, { approvals: [approval] })
        .pipe(Effect.provide(Layer.mergeAll(layer, ApprovalLedger.layer(shared))))
      assert.strictEqual((yield* Effect.flip(processB))._tag, "ApprovalAlreadyUsed")
      assert.deepStrictEqual(
        seen.map((entry) => [entry.runId, entry.callId, entry.nonce]),
        [
          ["run-1", "call_del", approval.nonce],
          ["run-1", "call_del", approval.nonce]
        ]
      )
      assert.strictEqual(deletes(runs), 1)
    })
  )

  it.effect("without a shared ledger nothing is single-use across processes (what a file state cannot promise)", () =>
    Effect.gen(function* () {
      const { runs, layer } = setup([deleteTurn(), M.message("Deleted."), M.message("Deleted.")])
      const paused = yield* assistant.run("clean up").pipe(Effect.provide(layer))
      const approval = assistant.approve(paused.state, "call_del")
      for (let i = 0; i < 2; i++) {
        // a fresh in-memory ledger = a fresh process
        const result = yield* assistant
          .resume(paused.state, { approvals: [approval] })
          .pipe(Effect.provide(Layer.mergeAll(layer, ApprovalLedger.layerMemory())))
        assert.strictEqual(result._tag, "Completed")
      }
      assert.strictEqual(deletes(runs), 2, "documented in docs/agent.md: share a ledger to make this 1")
    })
  )

  it("the in-memory ledger is bounded: past maxEntries the oldest nonce is forgotten", () => {
    const ledger = ApprovalLedger.makeMemory({ maxEntries: 2 })
    const consume = (nonce: string) => Effect.runSync(ledger.consume({ nonce, runId: "r", callId: "c" }))
    assert.deepStrictEqual(["a", "b", "a", "c", "b", "a"].map(consume), [true, true, false, true, false, true])
    assert.strictEqual(ApprovalLedger.defaultMaxEntries, 100_000)
  })
})

describe("issue 13: approvals are bound to run, call, name, arguments and nonce, signed or not", () => {
  for (const [label, agent] of [
    ["unsigned", assistant],
    ["signed", signedAssistant]
  ] as const) {
    it.effect(`${label}: an edited tool name, a hand-built approval and another run's approval are refused`, () =>
      Effect.gen(function* () {
        const { runs, layer } = setup([deleteTurn(), deleteTurn(), deleteTurn()])
        const reason = (error: { readonly _tag: string; readonly reason?: string }) =>
          error._tag === "InvalidApproval" ? error.reason : error._tag
        const paused = yield* agent.run("clean up").pipe(Effect.provide(layer))
        const approval = agent.approve(paused.state, "call_del")
        // the name edited in the saved state (the call and the pending entry), arguments untouched
        const renamed = yield* RunState.fromJson(
          RunState.toJson(paused.state).replaceAll('"name":"delete_file"', '"name":"charge_card"')
        )
        assert.strictEqual(renamed.pending?.awaiting[0]?.name, "charge_card")
        const e1 = yield* Effect.flip(agent.resume(renamed, { approvals: [approval] }).pipe(Effect.provide(layer)))
        assert.strictEqual(reason(e1), "NameMismatch")
        // built by hand from what the NeedsApproval event shows (no nonce)
        const byHand: RunState.Approval = {
          runId: paused.runId,
          callId: "call_del",
          name: "delete_file",
          argsHash: argsHash('{"path":"/tmp/a"}'),
          nonce: "",
          decision: "approve"
        }
        const e2 = yield* Effect.flip(agent.resume(paused.state, { approvals: [byHand] }).pipe(Effect.provide(layer)))
        assert.strictEqual(reason(e2), "NonceMismatch")
        // another run with the same call ids: its approval does not open this one
        const other = yield* agent.run("clean up").pipe(Effect.provide(layer))
        const e3 = yield* Effect.flip(
          agent
            .resume(paused.state, { approvals: [agent.approve(other.state, "call_del")] })
            .pipe(Effect.provide(layer))
        )
        assert.strictEqual(reason(e3), "WrongRun")
        // even under the same run id: the nonce was issued for the other pause
        const sameId = yield* agent.run("clean up", { runId: paused.runId }).pipe(Effect.provide(layer))
        const e4 = yield* Effect.flip(
          agent
            .resume(paused.state, { approvals: [agent.approve(sameId.state, "call_del")] })
            .pipe(Effect.provide(layer))
        )
        assert.strictEqual(reason(e4), "NonceMismatch")
        const e5 = yield* Effect.flip(
          agent.resume(paused.state, { approvals: [approval, approval] }).pipe(Effect.provide(layer))
        )
        assert.strictEqual(reason(e5), "DuplicateDecision")
        assert.strictEqual(deletes(runs), 0, "no refused approval ran anything")
        assert.isFalse(runs.calls.some((call) => call.name === "charge_card"))
      })
    )
  }

  it("an empty approvalSecret is refused at Agent.make", () => {
    assert.throws(
      () => Agent.make({ name: "a", model: "m", approvalSecret: Redacted.make("") }),
      /approvalSecret is empty/
    )
    try {
      Agent.make({ name: "a", model: "m", approvalSecret: Redacted.make("") })
    } catch (error) {
      assert.instanceOf(error, AgentError.AgentDefinitionError)
    }
  })
})

describe("issue 13: turn restarts obey the client's retry policy (real sockets, stream mode)", () => {
  for (const status of [429, 503]) {
    it.live(`retry-after: 999999 on a ${status}: exactly 1 request, no TurnRestarted, the client's typed error`, () =>
      Effect.gen(function* () {
        const refusal = M.httpError(status, { headers: { "retry-after": "999999" } })
        const { events, error, requests } = yield* Effect.gen(function* () {
          const events: Array<AgentEvent> = []
          const error = yield* Effect.flip(
            Stream.runForEach(assistant.stream("Q"), (event) => Effect.sync(() => events.push(event)))
          )
          const server = yield* ResponsesServer.ResponsesServer
          return { events, error, requests: yield* server.requests }
        }).pipe(Effect.provide(overHttp([refusal, refusal, refusal, M.message("never")]).layer))
        assert.strictEqual(requests.length, 1)
        assert.notInclude(
          events.map((event) => event._tag),
          "TurnRestarted",
          "nothing streamed: not a stream break"
        )
        assert.strictEqual(error._tag, "ModelError")
        assert.strictEqual(
          error._tag === "ModelError" ? error.error._tag : "",
          status === 429 ? "RateLimitError" : "InternalProviderError"
        )
      })
    )
  }

  it.live("a mid-stream drop still restarts the turn (events had reached the consumer)", () =>
    Effect.gen(function* () {
      const answer = M.message("A fairly long answer that streams in several deltas")
      const { events, requests } = yield* Effect.gen(function* () {
        const events = yield* Stream.runCollect(assistant.stream("Q"))
        const server = yield* ResponsesServer.ResponsesServer
        return { events, requests: yield* server.requests }
      }).pipe(Effect.provide(overHttp([M.withFault(answer, { dropAfterEvents: 5, drop: "reset" }), answer]).layer))
      assert.include(
        events.map((event) => event._tag),
        "TurnRestarted"
      )
      assert.strictEqual(requests.length, 2)
    })
  )
})

describe("issue 13: a terminal output that disagrees with the streamed items", () => {
  it.live("the terminal output wins (its call runs) after a Warning that lists every difference", () =>
    Effect.gen(function* () {
      // SSE on a real socket: the stream announces echo (call_streamed), the terminal says charge_card
      const streamed = M.toEvents(M.functionCall("echo", { text: "announced" }, { callId: "call_streamed" }), {
        model: "m",
        input: []
      }) as Array<Record<string, unknown>>
      const terminal = streamed.at(-1) as { type: string; response: Record<string, unknown> }
      assert.strictEqual(terminal.type, "response.completed")
      terminal.response = {
        ...terminal.response,
        output: [
          {
            type: "function_call",
            id: "fc_terminal",
            call_id: "call_terminal",
            name: "charge_card",
            arguments: '{"amount":5}',
            status: "completed"
          }
        ]
      }
      const sse = M.sse(streamed.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`))
      const { runs, layer } = overHttp([sse, M.message("Done.")])
      const events = yield* Stream.runCollect(assistant.stream("go")).pipe(Effect.provide(layer))
      const tags = events.map((event) => event._tag)
      const warning = events.find((event) => event._tag === "Warning")
      assert.deepStrictEqual(warning?._tag === "Warning" ? [warning.turn, warning.kind, warning.differences] : [], [
        1,
        "OutputMismatch",
        [{ outputIndex: 0, kind: "changed", itemType: "function_call", callId: "call_terminal", name: "charge_card" }]
      ])
      assert.include(warning?._tag === "Warning" ? warning.message : "", "the terminal output is what runs")
      assert.isBelow(tags.indexOf("Warning"), tags.indexOf("TurnEnd"), "before the turn ends and anything runs")
      assert.deepStrictEqual(
        runs.calls.map((call) => [call.name, call.callId]),
        [["charge_card", "call_terminal"]]
      )
      // the announced-only call never ran; a matching terminal output gives no warning
      const plain = setup([M.functionCall("echo", { text: "x" }), M.message("Done.")])
      const quiet = yield* Stream.runCollect(assistant.stream("go").pipe(Stream.provide(plain.layer)))
      assert.notInclude(
        quiet.map((event) => event._tag),
        "Warning"
      )
    })
  )
})

describe("a terminal response with an empty output", () => {
  it.live("runs the streamed items in output order, whatever order they were done in", () =>
    Effect.gen(function* () {
      const calls = M.turn(
        M.functionCall("echo", { text: "a" }, { callId: "call_a" }),
        M.functionCall("echo", { text: "b" }, { callId: "call_b" })
      )
      const streamed = M.toEvents(calls, { model: "m", input: [] }) as Array<Record<string, unknown>>
      // index 0's output_item.done moves after index 1's: index 1 is done first (sequence numbers follow)
      const doneAt = (index: number) =>
        streamed.findIndex((event) => event.type === "response.output_item.done" && event.output_index === index)
      const [done0, done1] = [doneAt(0), doneAt(1)]
      assert.isBelow(done0, done1)
      const moved = streamed.filter((_, at) => at !== done0)
      moved.splice(done1, 0, streamed[done0] ?? {})
      const reordered = moved.map((event, at) =>
        "sequence_number" in event ? { ...event, sequence_number: at } : event
      )
      const terminal = reordered.at(-1) as { type: string; response: Record<string, unknown> }
      assert.strictEqual(terminal.type, "response.completed")
      terminal.response = { ...terminal.response, output: [] }
      const sse = M.sse(reordered.map((event) => `data: ${JSON.stringify(event)}\n\n`))
      const { layer } = overHttp([sse, M.message("Done.")])
      const requests = yield* Effect.gen(function* () {
        yield* Stream.runDrain(assistant.stream("go"))
        const server = yield* ResponsesServer.ResponsesServer
        return yield* server.requests
      }).pipe(Effect.provide(layer))
      assert.strictEqual(requests.length, 2)
      const body = requests[1]?.body as { input?: ReadonlyArray<{ type?: string; call_id?: string }> } | undefined
      const input = body?.input ?? []
      assert.deepStrictEqual(
        input.flatMap((item) => (item.type === "function_call" ? [item.call_id] : [])),
        ["call_a", "call_b"]
      )
    })
  )
})

describe("issue 13: structured output nested too deep", () => {
  interface Tree {
    readonly children: ReadonlyArray<Tree>
  }
  const Tree: Schema.Codec<Tree> = Schema.Struct({
    children: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree))
  })
  const nested = (levels: number) => `${'{"children":['.repeat(levels)}${"]}".repeat(levels)}`

  it("nestsDeeperThan is one iterative pass: strings are skipped, 1,000,000 levels do not overflow", () => {
    assert.isFalse(nestsDeeperThan('{"a":"[[[[[[","b":[1,[2]]}', 3))
    assert.isTrue(nestsDeeperThan('{"a":[[[1]]]}', 3))
    assert.isFalse(nestsDeeperThan('{"a":"\\"[[[["}', 1))
    assert.isTrue(nestsDeeperThan("[".repeat(1_000_000), 256))
  })

  it.effect(
    "a recursive output schema and an answer nested 20,000 deep: StructuredOutputInvalid naming the limit",
    () =>
      Effect.gen(function* () {
        const treeAgent = Agent.make({ name: "tree", model: "m", output: Tree })
        const deep = nested(20_000)
        const { layer } = setup([M.message(deep), M.message(deep)])
        const error = yield* Effect.flip(treeAgent.run("a tree").pipe(Effect.provide(layer)))
        assert.strictEqual(error._tag, "StructuredOutputInvalid")
        assert.strictEqual(
          error._tag === "StructuredOutputInvalid" ? error.issue : "",
          "the JSON nests deeper than 256 levels"
        )
        const shallow = setup([M.message(nested(100))])
        const ok = yield* treeAgent.run("a tree").pipe(Effect.provide(shallow.layer))
        assert.strictEqual(ok._tag, "Completed")
      })
  )
})

describe("issue 13: an output item nested 100,000 deep (real sockets)", () => {
  it.live("JSON and stream mode: ModelError{ResponseDecodeError}, no second request, nothing ran", () =>
    Effect.gen(function* () {
      // built as text: a 100,000-deep value cannot go through JSON.stringify (that is the point)
      const deepItem = `{"type":"future_thing","id":"ft_1","payload":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
      const call = M.functionCall("echo", { text: "x" }, { callId: "call_1" })
      const request = { model: "m", input: [] }
      const response = JSON.stringify(M.toResponse(call, request)).replace('"output":[', `"output":[${deepItem},`)
      const events = M.toEvents(call, request).map((event) => JSON.stringify(event))
      const doneAt = events.findIndex((event) => event.includes('"response.output_item.done"'))
      events.splice(
        doneAt,
        0,
        `{"type":"response.output_item.done","sequence_number":99,"output_index":1,"item":${deepItem}}`
      )
      const sse = M.sse(events.map((event) => `data: ${event}\n\n`))
      const json = M.withFault(M.message(""), { body: response, contentType: "application/json" })
      for (const streaming of [false, true]) {
        const { runs, layer } = overHttp([streaming ? sse : json, M.message("never")])
        const { error, requests } = yield* Effect.gen(function* () {
          const error = streaming
            ? yield* Effect.flip(Stream.runDrain(assistant.stream("Q")))
            : yield* Effect.flip(assistant.run("Q"))
          const server = yield* ResponsesServer.ResponsesServer
          return { error, requests: yield* server.requests }
        }).pipe(Effect.provide(layer))
        assert.strictEqual(error._tag, "ModelError", String(streaming))
        assert.strictEqual(error._tag === "ModelError" ? error.error._tag : "", "ResponseDecodeError")
        assert.strictEqual(
          error._tag === "ModelError" && error.error._tag === "ResponseDecodeError" ? error.error.path : "",
          "(nesting)"
        )
        assert.match(error.message, /deeper than 256 levels/)
        assert.strictEqual(requests.length, 1)
        assert.strictEqual(runs.calls.length, 0)
      }
    })
  )
})
