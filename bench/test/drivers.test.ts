/**
 * The CI correctness check of the bench: every driver on disk does 2 runs in JSON and 2 runs in SSE against
 * the bench server and must pass the harness's verification (exact final text, each tool called once per
 * turn, exactly the expected valid requests). Also checks that a wrong driver is rejected and that the
 * server's request validation catches what it must. No timing assertions.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { ModeConfig } from "../src/harness.ts"
import { callId, expectedOutput, model, prompt, timeArgs, weatherArgs } from "../src/scenario.ts"
import { start, validate } from "../src/server.ts"

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const drivers = ["undici", "openai", "agents", "aisdk", "volley"].filter((name) =>
  existsSync(join(benchDir, "src/drivers", `${name}.ts`))
)

let server: { readonly port: number; readonly close: () => void }
beforeAll(async () => {
  server = await start(0)
})
afterAll(() => server.close())

interface Outcome {
  readonly code: number | null
  readonly lines: ReadonlyArray<{ readonly type: string; readonly message?: string; readonly runs?: number }>
  readonly stderr: string
}

const runScript = (script: string, stream: boolean): Promise<Outcome> => {
  const config: ModeConfig = {
    mode: stream ? "test-sse" : "test-json",
    origin: `http://127.0.0.1:${server.port}`,
    stream,
    concurrency: 2,
    runs: 2,
    warmup: 0,
    repeats: 1,
    turns: 2,
    latencyMs: 0,
    paceMs: 0,
    sampleMemory: false
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, "--config", JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("close", (code) => {
      const lines = stdout
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Outcome["lines"][number])
      resolve({ code, lines, stderr })
    })
  })
}

describe("bench drivers", () => {
  for (const driver of drivers) {
    for (const stream of [false, true]) {
      it(`${driver} ${stream ? "SSE" : "JSON"}: 2 runs pass verification`, async () => {
        const outcome = await runScript(join(benchDir, "src/drivers", `${driver}.ts`), stream)
        const errors = outcome.lines.filter((line) => line.type === "error").map((line) => line.message)
        assert.deepStrictEqual(errors, [], outcome.stderr)
        assert.strictEqual(outcome.code, 0, outcome.stderr)
        const batches = outcome.lines.filter((line) => line.type === "batch")
        assert.strictEqual(batches.length, 1)
        assert.strictEqual(batches[0]!.runs, 2)
      })
    }
  }

  it("a driver returning the wrong final text is reported and exits 1", async () => {
    const outcome = await runScript(join(benchDir, "test/fixtures/wrong-driver.ts"), false)
    assert.strictEqual(outcome.code, 1)
    const error = outcome.lines.find((line) => line.type === "error")
    assert.match(error?.message ?? "", /final text differs/)
  })
})

describe("bench server validation", () => {
  const tools = [
    { type: "function", name: "get_weather" },
    { type: "function", name: "get_time" }
  ]
  const user = { role: "user", content: prompt(2) }
  const turnOne = [
    {
      type: "function_call",
      call_id: callId("get_weather", 1),
      name: "get_weather",
      arguments: JSON.stringify(weatherArgs(1))
    },
    { type: "function_call", call_id: callId("get_time", 1), name: "get_time", arguments: JSON.stringify(timeArgs(1)) },
    { type: "function_call_output", call_id: callId("get_weather", 1), output: expectedOutput("get_weather", 1) },
    { type: "function_call_output", call_id: callId("get_time", 1), output: expectedOutput("get_time", 1) }
  ]
  const request = (input: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}) => ({
    model,
    input,
    tools,
    store: false,
    ...extra
  })

  it("accepts the first turn and the second turn with the full history", () => {
    assert.deepStrictEqual(validate(request([user])), { turn: 1, turns: 2, stream: false })
    assert.deepStrictEqual(validate(request([user, ...turnOne], { stream: true })), { turn: 2, turns: 2, stream: true })
  })

  it("accepts a JSON-encoded tool output and structured input_text parts", () => {
    const encoded = turnOne.map((item) =>
      item.type === "function_call_output" ? { ...item, output: JSON.stringify(item.output) } : item
    )
    const parts = { role: "user", type: "message", content: [{ type: "input_text", text: prompt(2) }] }
    assert.deepStrictEqual(validate(request([parts, ...encoded])), { turn: 2, turns: 2, stream: false })
  })

  it("rejects store other than false, a missing tool, a truncated history and a wrong tool output", () => {
    assert.match(String(validate(request([user], { store: true }))), /store must be false/)
    assert.match(String(validate({ ...request([user]), tools: tools.slice(0, 1) })), /tool get_time not declared/)
    assert.match(String(validate(request([user, ...turnOne.slice(0, 3)]))), /history has 4 items/)
    const wrong = turnOne.map((item, index) => (index === 3 ? { ...item, output: "{}" } : item))
    assert.match(String(validate(request([user, ...wrong]))), /function_call_output call_time_1 is/)
    const early = [turnOne[0], turnOne[2], turnOne[3], turnOne[1]]
    assert.match(String(validate(request([user, ...early]))), /before its call/)
  })
})
