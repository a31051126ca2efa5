/**
 * Where Volley's cost sits, in one process: the same two-call run (tool turn, then the message) as a
 * plain undici loop (`raw`), as two `ResponsesClient` calls with the tools run by hand (`client`), and
 * as `agent.run` / `agent.stream` (`agent`), interleaved, against the bench server on another core.
 * The gaps are what the client adds over undici and what the agent adds over the client.
 * Usage: `node src/split.ts [--sse] [--concurrency 64] [--runs 4000] [--rounds 3] [--only agent,client]`. Not verified like the
 * drivers (see harness.ts): a diagnosis tool; the numbers to quote come from `pnpm bench`.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { cpus } from "node:os"
import { createInterface } from "node:readline"
import { ResponsesClient, type ResponsesSchema } from "@volley/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { Agent as UndiciAgent, request } from "undici"
import { type Item, readSse, toolDefinitions } from "./floor.ts"
import { model, prompt, timeResult, weatherResult } from "./scenario.ts"
import { agent, Tools } from "./volleyAgent.ts"

const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at >= 0 ? process.argv[at + 1] : undefined
}
const stream = process.argv.includes("--sse")
const concurrency = Number(option("--concurrency") ?? 64)
const runs = Number(option("--runs") ?? 4000)
const rounds = Number(option("--rounds") ?? 3)
// the server on core 0 where `taskset` exists (the caller pins this process to core 1)
const serverArgv = [process.execPath, "src/server.ts"]
const [command, ...argv] =
  cpus().length >= 2 && existsSync("/usr/bin/taskset") ? ["/usr/bin/taskset", "-c", "0", ...serverArgv] : serverArgv
const server = spawn(command!, argv, { stdio: ["ignore", "pipe", "inherit"] })
const port = await new Promise<number>((resolve) =>
  createInterface({ input: server.stdout! }).once("line", (line) =>
    resolve((JSON.parse(line) as { port: number }).port)
  )
)
const origin = `http://127.0.0.1:${port}`
await fetch(`${origin}/__config`, { method: "POST", body: JSON.stringify({ latencyMs: 0, paceMs: 0 }) })

const runTool = (call: Item): string => {
  const args = JSON.parse(String(call.arguments)) as { city: string; timezone: string }
  return call.name === "get_weather" ? weatherResult(args) : timeResult(args)
}

/** A run: call, run the calls, call again with the whole history, until no call. */
const loop = async (call: (input: Array<Item>) => Promise<ReadonlyArray<Item>>): Promise<void> => {
  const history: Array<Item> = [{ role: "user", content: prompt(2) }]
  for (;;) {
    const items = await call(history)
    const calls = items.filter((item) => item.type === "function_call")
    if (calls.length === 0) return
    history.push(...items)
    for (const fc of calls) history.push({ type: "function_call_output", call_id: fc.call_id, output: runTool(fc) })
  }
}

const dispatcher = new UndiciAgent({ keepAliveTimeout: 60_000, connections: null })
const headers = { authorization: "Bearer bench", "content-type": "application/json" }
const rawCall = async (input: Array<Item>): Promise<ReadonlyArray<Item>> => {
  const response = await request(`${origin}/v1/responses`, {
    method: "POST",
    dispatcher,
    headers,
    body: JSON.stringify({ model, input, tools: toolDefinitions, store: false, stream })
  })
  if (!stream) return ((await response.body.json()) as { output: Array<Item> }).output
  return (await readSse(response.body)).items
}

const runtime = ManagedRuntime.make(
  Layer.mergeAll(
    ResponsesClient.layerUndici({ baseUrl: `${origin}/v1`, apiKey: Redacted.make("bench") }),
    Tools.toLayer({
      get_weather: (args) => Effect.sync(() => weatherResult(args)),
      get_time: (args) => Effect.sync(() => timeResult(args))
    })
  )
)
const client = await runtime.runPromise(Effect.service(ResponsesClient.ResponsesClient))
const clientCall = (input: Array<Item>): Promise<ReadonlyArray<Item>> => {
  const body = {
    model,
    input: input as unknown as ReadonlyArray<ResponsesSchema.InputItem>,
    tools: toolDefinitions,
    store: false
  } as ResponsesSchema.CreateRequest
  return runtime.runPromise(
    stream
      ? Stream.runFold(
          client.stream(body),
          () => [] as Array<ResponsesSchema.OutputItem>,
          (items, event) => {
            if (event.type === "response.output_item.done") items.push(event.item)
            return items
          }
        )
      : Effect.map(client.create(body), (response) => response.output ?? [])
  ) as Promise<ReadonlyArray<Item>>
}
const agentRun = (): Promise<unknown> =>
  stream
    ? runtime.runPromise(
        Stream.runFold(
          agent.stream(prompt(2)),
          () => 0,
          (count) => count + 1
        )
      )
    : runtime.runPromise(agent.run(prompt(2)))

const only = option("--only")?.split(",")
const variants: ReadonlyArray<readonly [string, () => Promise<unknown>]> = (
  [
    ["raw", () => loop(rawCall)],
    ["client", () => loop(clientCall)],
    ["agent", agentRun]
  ] as const
).filter(([name]) => only === undefined || only.includes(name))
const batch = async (run: () => Promise<unknown>, count: number): Promise<void> => {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await run()
    })
  )
}
const results = new Map<string, Array<number>>()
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of variants) {
    await batch(run, Math.min(500, runs))
    const before = process.cpuUsage()
    await batch(run, runs)
    const used = process.cpuUsage(before)
    results.set(name, [...(results.get(name) ?? []), (used.user + used.system) / 1000 / runs])
  }
}
const median = (values: ReadonlyArray<number>): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const floor = median(results.get("raw") ?? [Number.NaN])
console.log(
  `${stream ? "SSE" : "JSON"}, concurrency ${concurrency}, ${runs} runs x ${rounds} rounds: CPU ms per run (median)`
)
for (const [name, values] of results) {
  const value = median(values)
  console.log(
    `${name.padEnd(8)} ${value.toFixed(3)} ms  ${(value / floor).toFixed(2)}x  [${values.map((v) => v.toFixed(3)).join(", ")}]`
  )
}
server.kill()
await runtime.dispose()
dispatcher.destroy()
