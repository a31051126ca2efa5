/**
 * The typed-tools example under a test database layer: the same toolkit, handlers swapped by layer.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { program } from "./main.ts"
import { CustomerTools, CustomerToolsHandlers, DatabaseTest } from "./tools.ts"

const TestTools = CustomerToolsHandlers.pipe(
  Layer.provide(DatabaseTest([{ id: "c_1", name: "Test Customer", plan: "free" }]))
)

it.effect("a tool that needs a Database runs with a test layer", () =>
  Effect.gen(function* () {
    const results = yield* program
    assert.deepStrictEqual(
      results.map((r) => r.output.output),
      [
        '{"id":"c_1","name":"Test Customer","plan":"free"}',
        '{"error":{"type":"tool_error","message":"{\\"_tag\\":\\"CustomerNotFound\\",\\"id\\":\\"c_404\\"}"}}',
        `{"error":{"type":"invalid_json","message":"arguments are not valid JSON: unexpected end of input at position 6 (line 1, column 7)"}}`
      ]
    )
    assert.deepStrictEqual(results[0]!.args, { id: "c_1" })
    assert.isTrue(results[2]!.isArgumentError)
  }).pipe(Effect.provide(TestTools))
)

it.effect("the handler's services are swapped by layer, not by editing the tool", () =>
  Effect.gen(function* () {
    const tools = yield* CustomerTools
    const result = yield* tools.handle({
      type: "function_call",
      call_id: "call_x",
      name: "find_customer",
      arguments: '{"id":"c_1","includePlan":null}'
    })
    assert.strictEqual(result.outcome._tag, "Success")
  }).pipe(
    Effect.provide(CustomerToolsHandlers.pipe(Layer.provide(DatabaseTest([{ id: "c_1", name: "X", plan: "pro" }]))))
  )
)
