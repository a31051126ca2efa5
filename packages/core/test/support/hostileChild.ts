/**
 * The client side of HostileChild.test.ts, run as its own Node process (`node hostileChild.ts <port>
 * <mode>`): one `stream` call over `layerUndici` against the test's hostile server, then one JSON line
 * on stdout describing how it ended (`tag`, `body`, `maxBytes`, `partialText`). Modes: `cap` (stream cap
 * 1 MiB), `realistic` (the defaults), `defect` (defaults, with `Array.prototype.join` made to throw
 * a `RangeError` on long arrays, as V8 does past its string limit). If the process dies instead (an
 * uncaught exception in a transport callback), the test sees the exit code and no line.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ResponsesClient from "../../src/ResponsesClient.ts"

const [port, mode] = process.argv.slice(2)

if (mode === "defect") {
  // The crash of issue 13 #2: joining ~600 MB of deltas throws `RangeError: Invalid string length`
  // inside undici's callback. Simulated cheaply: any join of more than 1,000 pieces throws the same.
  const join = Array.prototype.join
  Array.prototype.join = function (this: Array<unknown>, separator?: string) {
    if (this.length > 1000) throw new RangeError("Invalid string length")
    return join.call(this, separator)
  }
}

const options: ResponsesClient.Options = {
  baseUrl: `http://127.0.0.1:${port}/v1`,
  apiKey: Redacted.make("sk-child-test-key-0123456789"),
  retryPolicy: { maxRetries: 0 },
  ...(mode === "cap" ? { maxStreamBytes: 1024 * 1024 } : {})
}

const program = Effect.gen(function* () {
  const client = yield* ResponsesClient.ResponsesClient
  return yield* Stream.runDrain(client.stream({ model: "m", input: "hi" }))
}).pipe(Effect.provide(Layer.fresh(ResponsesClient.layerUndici(options))))

Effect.runPromiseExit(program).then((exit) => {
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
  const value = error?._tag === "Some" ? (error.value as unknown as Record<string, unknown>) : undefined
  const partial = value?.partial as { output?: Array<{ content?: Array<{ text?: string }> }> } | undefined
  const summary = {
    exit: exit._tag,
    tag: value?._tag ?? (Exit.isFailure(exit) ? "defect" : "success"),
    body: value?.body,
    maxBytes: value?.maxBytes,
    partialText: partial?.output?.[0]?.content?.[0]?.text?.length ?? 0,
    heapMiB: Math.round(process.memoryUsage().heapUsed / 1024 / 1024)
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
})
