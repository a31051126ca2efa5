import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { ResponsesClient, type ResponsesSchema } from "@volley/core"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import { validatePairing } from "../src/internal/history.ts"
import { canaryKey, dropArtefact } from "./support/canary.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", toolkit: TestTools })

const firstUserText = (input: CreateInput): string => {
  const first = Array.isArray(input) ? input[0] : undefined
  return typeof first?.content === "string" ? first.content : ""
}
type CreateInput = ReadonlyArray<{ readonly type?: string; readonly content?: unknown }> | string

// The model echoes the run's id into a tool call, then answers with it.
const echoModel = M.responder((body) => {
  const input = body.input as CreateInput
  const id = firstUserText(input)
  const answered = Array.isArray(input) && input.some((item) => item.type === "function_call_output")
  return answered ? M.message(`done ${id}`) : M.functionCall("echo", { text: id })
})

describe("load", () => {
  it.live(
    "F01 500 concurrent runs with latency, random 503s and mid-stream resets: typed outcomes only, no cross-talk",
    () =>
      Effect.gen(function* () {
        const warnings: Array<string> = []
        const onWarning = (warning: Error) => warnings.push(warning.name)
        process.on("warning", onWarning)
        const server = ResponsesServer.layer({
          fallback: echoModel,
          chaos: {
            seed: 7,
            latency: { minMillis: 5, maxMillis: 50 },
            serviceUnavailable: 0.02,
            resetMidStream: 0.01
          }
        })
        const client = Layer.unwrap(
          Effect.gen(function* () {
            const s = yield* ResponsesServer.ResponsesServer
            return ResponsesClient.layerUndici({ baseUrl: s.baseUrl, apiKey: Redacted.make(canaryKey) })
          })
        )
        const layer = Layer.mergeAll(client, testToolsLayer(makeRuns())).pipe(Layer.provideMerge(server))
        const ids = Array.from({ length: 500 }, (_, i) => `run-${i.toString().padStart(3, "0")}-x`)
        const exits = yield* Effect.forEach(
          ids,
          (id, i) => {
            const run =
              i % 2 === 0
                ? assistant.run(id).pipe(Effect.map((result) => result.history))
                : Stream.runCollect(assistant.stream(id)).pipe(Effect.as<ReadonlyArray<ResponsesSchema.InputItem>>([]))
            return Effect.exit(run).pipe(Effect.map((exit) => ({ id, exit })))
          },
          { concurrency: "unbounded" }
        ).pipe(Effect.provide(layer))
        process.off("warning", onWarning)
        let successes = 0
        for (const { id, exit } of exits) {
          if (Exit.isSuccess(exit)) {
            successes++
            const text = JSON.stringify(exit.value)
            for (const other of text.match(/run-\d{3}-x/g) ?? []) assert.strictEqual(other, id)
            continue
          }
          assert.isFalse(Cause.hasDies(exit.cause), `defect in ${id}`)
          const error = Cause.squash(exit.cause) as {
            _tag?: string
            history?: ReadonlyArray<ResponsesSchema.InputItem>
          }
          dropArtefact(`F01 error ${id}`, `${String(error)}\n${JSON.stringify(error)}\n${Cause.pretty(exit.cause)}`)
          assert.isString(error._tag)
          if (error.history !== undefined) {
            assert.isUndefined(validatePairing(error.history))
            for (const other of JSON.stringify(error.history).match(/run-\d{3}-x/g) ?? []) assert.strictEqual(other, id)
          }
        }
        assert.isAbove(successes, 450)
        assert.notInclude(warnings, "MaxListenersExceededWarning")
      }),
    120_000
  )
})
