/**
 * Test helpers: the fixture server's command, a function call item, and a tracer that records spans.
 */
import { fileURLToPath } from "node:url"
import type { ResponsesSchema } from "@volley/core"
import * as Tracer from "effect/Tracer"

/** The Node running the tests (24), to start fixture scripts. */
export const node = process.execPath

/** The fixture MCP server script (Effect `McpServer` over stdio). */
export const fixtureServer = fileURLToPath(new URL("./fixtures/fixture-server.ts", import.meta.url))

/** The hand-written server for protocol failures (`rpc-error`, `bad-result`, `silent`). */
export const rawServer = fileURLToPath(new URL("./fixtures/raw-server.ts", import.meta.url))

/** The Volley toolkit served with `McpTools.serve` over stdio. */
export const volleyServe = fileURLToPath(new URL("./fixtures/volley-serve.ts", import.meta.url))

/** The reference server from devDependencies. */
export const everything = fileURLToPath(
  new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url)
)

let next = 0
/** A function call item. */
export const call = (name: string, args: unknown = {}): ResponsesSchema.FunctionCall => ({
  type: "function_call",
  call_id: `call_${next++}`,
  name,
  arguments: JSON.stringify(args)
})

/** A tracer that keeps every span it starts. */
export const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

/** Whether a process is still alive. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
