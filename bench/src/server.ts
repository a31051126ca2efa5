/**
 * The bench server: a lean `node:http` Responses server that answers the scripted run of `scenario.ts`
 * (JSON or SSE, with configurable latency and SSE pacing) and validates every request the same way for
 * every contender (full history, `store: false`, both tools declared, the exact tool outputs).
 * Run it as its own process (`node src/server.ts [--port N]`); it prints one JSON line
 * `{"type":"listening","port":N}`. Control endpoints: `POST /__config` (sets latency/pacing and resets the
 * counters), `GET /__stats` (request counts, validation failures, the server's own CPU time since reset).
 * Gotcha: response bodies are rendered once per turn and cached, so the server's cost stays small and flat.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import {
  callId,
  deepEqual,
  expectedOutput,
  finalText,
  finalTextDeltas,
  model,
  parseJson,
  prompt,
  sameToolOutput,
  type ToolName,
  timeArgs,
  turnsOfPrompt,
  weatherArgs
} from "./scenario.ts"

/** Server knobs, set with `POST /__config`. */
export interface ServerConfig {
  /** Delay before the response starts, in milliseconds. */
  readonly latencyMs: number
  /** When > 0, SSE events are written one at a time, one per tick of this many milliseconds. */
  readonly paceMs: number
}

/** What `GET /__stats` returns. */
export interface ServerStats {
  readonly requests: number
  readonly valid: number
  readonly failures: number
  readonly firstFailures: ReadonlyArray<string>
  /** Valid requests per turn index (1-based). */
  readonly byTurn: Record<string, number>
  readonly streamed: number
  /** TCP connections accepted since the reset (keep-alive reuse shows as few connections). */
  readonly connections: number
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
  readonly maxRssBytes: number
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering (cached per turn)
// ---------------------------------------------------------------------------------------------------------------

const tools: ReadonlyArray<ToolName> = ["get_weather", "get_time"]
const argsOf = (tool: ToolName, turn: number) => (tool === "get_weather" ? weatherArgs(turn) : timeArgs(turn))

const baseResponse = (id: string, status: string, output: ReadonlyArray<unknown>, usage: unknown) => ({
  id,
  object: "response",
  created_at: 1_795_000_000,
  status,
  background: false,
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  model,
  output,
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: false,
  temperature: 1,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  top_p: 1,
  truncation: "disabled",
  usage,
  user: null,
  metadata: {}
})

const usage = (output: number) => ({
  input_tokens: 120,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 120 + output
})

interface Rendered {
  readonly json: Buffer
  readonly events: ReadonlyArray<Buffer>
  readonly sse: Buffer
}

const sseFrame = (event: { readonly type: string } & Record<string, unknown>): Buffer =>
  Buffer.from(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)

const renderToolTurn = (turn: number): Rendered => {
  const id = `resp_bench_${turn}`
  const items = tools.map((tool) => ({
    id: `fc_bench_${tool}_${turn}`,
    type: "function_call",
    status: "completed",
    arguments: JSON.stringify(argsOf(tool, turn)),
    call_id: callId(tool, turn),
    name: tool
  }))
  const done = baseResponse(id, "completed", items, usage(40))
  const pending = baseResponse(id, "in_progress", [], null)
  const events: Array<{ type: string } & Record<string, unknown>> = [
    { type: "response.created", response: pending },
    { type: "response.in_progress", response: pending }
  ]
  items.forEach((item, index) => {
    events.push({
      type: "response.output_item.added",
      output_index: index,
      item: { ...item, status: "in_progress", arguments: "" }
    })
    events.push({
      type: "response.function_call_arguments.delta",
      output_index: index,
      item_id: item.id,
      delta: item.arguments
    })
    events.push({
      type: "response.function_call_arguments.done",
      output_index: index,
      item_id: item.id,
      arguments: item.arguments
    })
    events.push({ type: "response.output_item.done", output_index: index, item })
  })
  events.push({ type: "response.completed", response: done })
  return finish(done, events)
}

const renderFinalTurn = (turn: number): Rendered => {
  const id = `resp_bench_${turn}`
  const itemId = `msg_bench_${turn}`
  const part = { type: "output_text", text: finalText, annotations: [], logprobs: [] }
  const item = { id: itemId, type: "message", status: "completed", role: "assistant", content: [part] }
  const done = baseResponse(id, "completed", [item], usage(260))
  const pending = baseResponse(id, "in_progress", [], null)
  const at = { output_index: 0, item_id: itemId, content_index: 0 }
  const events: Array<{ type: string } & Record<string, unknown>> = [
    { type: "response.created", response: pending },
    { type: "response.in_progress", response: pending },
    { type: "response.output_item.added", output_index: 0, item: { ...item, status: "in_progress", content: [] } },
    { type: "response.content_part.added", ...at, part: { ...part, text: "" } }
  ]
  for (const delta of finalTextDeltas) events.push({ type: "response.output_text.delta", ...at, delta, logprobs: [] })
  events.push({ type: "response.output_text.done", ...at, text: finalText, logprobs: [] })
  events.push({ type: "response.content_part.done", ...at, part })
  events.push({ type: "response.output_item.done", output_index: 0, item })
  events.push({ type: "response.completed", response: done })
  return finish(done, events)
}

const finish = (done: unknown, events: Array<{ type: string } & Record<string, unknown>>): Rendered => {
  const frames = events.map((event, index) => sseFrame({ ...event, sequence_number: index }))
  return { json: Buffer.from(JSON.stringify(done)), events: frames, sse: Buffer.concat(frames) }
}

const cache = new Map<string, Rendered>()
const rendered = (turn: number, last: boolean): Rendered => {
  const key = `${turn}:${last}`
  let value = cache.get(key)
  if (value === undefined) {
    value = last ? renderFinalTurn(turn) : renderToolTurn(turn)
    cache.set(key, value)
  }
  return value
}

// ---------------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

const userText = (item: unknown): string | undefined => {
  if (!isObject(item) || item.role !== "user" || (item.type !== undefined && item.type !== "message")) return undefined
  if (typeof item.content === "string") return item.content
  if (!Array.isArray(item.content)) return undefined
  let text = ""
  for (const part of item.content) {
    if (!isObject(part) || part.type !== "input_text" || typeof part.text !== "string") return undefined
    text += part.text
  }
  return text
}

/** What a valid request asks for. */
interface Turn {
  readonly turn: number
  readonly turns: number
  readonly stream: boolean
}

/** Validates a request body; returns the turn it is, or a failure message. */
export const validate = (body: unknown): Turn | string => {
  if (!isObject(body)) return "body is not a JSON object"
  if (body.store !== false) return `store must be false, got ${JSON.stringify(body.store)}`
  if (!Array.isArray(body.tools)) return "tools missing"
  for (const name of tools) {
    if (!body.tools.some((tool: unknown) => isObject(tool) && tool.type === "function" && tool.name === name)) {
      return `tool ${name} not declared`
    }
  }
  const input = typeof body.input === "string" ? [{ role: "user", content: body.input }] : body.input
  if (!Array.isArray(input) || input.length === 0) return "input missing"
  const text = userText(input[0])
  const turns = text === undefined ? undefined : turnsOfPrompt(text)
  if (turns === undefined || text !== prompt(turns)) return `first input item is not the bench prompt`
  if ((input.length - 1) % 4 !== 0) return `history has ${input.length} items, expected 1 + 4 per finished turn`
  const turn = 1 + (input.length - 1) / 4
  if (turn > turns) return `turn ${turn} exceeds the scripted ${turns} turns`
  for (let done = 1; done < turn; done++) {
    const failure = validateTurnItems(input.slice(1 + (done - 1) * 4, 1 + done * 4), done)
    if (failure !== undefined) return `turn ${done} history: ${failure}`
  }
  return { turn, turns, stream: body.stream === true }
}

const validateTurnItems = (items: ReadonlyArray<unknown>, turn: number): string | undefined => {
  for (const tool of tools) {
    const id = callId(tool, turn)
    const callAt = items.findIndex((item) => isObject(item) && item.type === "function_call" && item.call_id === id)
    const outAt = items.findIndex(
      (item) => isObject(item) && item.type === "function_call_output" && item.call_id === id
    )
    if (callAt < 0) return `function_call ${id} missing`
    if (outAt < 0) return `function_call_output ${id} missing`
    if (outAt < callAt) return `function_call_output ${id} before its call`
    const call = items[callAt] as Json
    if (call.name !== tool) return `function_call ${id} has name ${String(call.name)}`
    const args = typeof call.arguments === "string" ? parseJson(call.arguments) : undefined
    if (!deepEqual(args, argsOf(tool, turn))) return `function_call ${id} has arguments ${String(call.arguments)}`
    const output = (items[outAt] as Json).output
    if (!sameToolOutput(output, expectedOutput(tool, turn))) {
      return `function_call_output ${id} is ${JSON.stringify(output)}, expected ${expectedOutput(tool, turn)}`
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------------------------

let config: ServerConfig = { latencyMs: 0, paceMs: 0 }
let counters = { requests: 0, valid: 0, failures: 0, streamed: 0, connections: 0, byTurn: {} as Record<string, number> }
let firstFailures: Array<string> = []
let cpuAtReset = process.cpuUsage()

const reset = () => {
  counters = { requests: 0, valid: 0, failures: 0, streamed: 0, connections: 0, byTurn: {} }
  firstFailures = []
  cpuAtReset = process.cpuUsage()
}

const stats = (): ServerStats => {
  const cpu = process.cpuUsage(cpuAtReset)
  return {
    ...counters,
    firstFailures,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    maxRssBytes: process.resourceUsage().maxRSS * 1024
  }
}

// Paced SSE: one global ticker writes the next event of every paced stream, so pacing costs one timer.
interface Paced {
  readonly res: ServerResponse
  readonly events: ReadonlyArray<Buffer>
  next: number
}
const paced = new Set<Paced>()
let ticker: ReturnType<typeof setInterval> | undefined
const tick = () => {
  for (const stream of paced) {
    const event = stream.events[stream.next++]
    if (event === undefined || stream.res.destroyed) {
      paced.delete(stream)
      stream.res.end()
    } else {
      stream.res.write(event)
    }
  }
  if (paced.size === 0 && ticker !== undefined) {
    clearInterval(ticker)
    ticker = undefined
  }
}

const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" }

const respond = (res: ServerResponse, turn: Turn) => {
  const body = rendered(turn.turn, turn.turn === turn.turns)
  if (!turn.stream) {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.json.length })
    res.end(body.json)
    return
  }
  counters.streamed++
  if (config.paceMs <= 0) {
    res.writeHead(200, sseHeaders)
    res.end(body.sse)
    return
  }
  res.writeHead(200, sseHeaders)
  paced.add({ res, events: body.events, next: 0 })
  if (ticker === undefined) ticker = setInterval(tick, config.paceMs)
}

const fail = (res: ServerResponse, status: number, message: string) => {
  counters.failures++
  if (firstFailures.length < 5) firstFailures.push(message)
  const body = JSON.stringify({
    error: { message: `bench server: ${message}`, type: "invalid_request_error", param: null, code: null }
  })
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const readBody = (req: IncomingMessage, done: (body: string) => void) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => done(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")))
}

const handle = (req: IncomingMessage, res: ServerResponse) => {
  const url = req.url ?? "/"
  if (req.method === "POST" && url.endsWith("/responses")) {
    counters.requests++
    readBody(req, (text) => {
      const turn = validate(parseJson(text))
      if (typeof turn === "string") return fail(res, 400, turn)
      counters.valid++
      counters.byTurn[turn.turn] = (counters.byTurn[turn.turn] ?? 0) + 1
      if (config.latencyMs > 0) setTimeout(() => respond(res, turn), config.latencyMs)
      else respond(res, turn)
    })
    return
  }
  if (req.method === "POST" && url === "/__config") {
    readBody(req, (text) => {
      const next = parseJson(text)
      if (!isObject(next)) return fail(res, 400, "config body is not an object")
      config = { latencyMs: Number(next.latencyMs ?? 0), paceMs: Number(next.paceMs ?? 0) }
      reset()
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(config))
    })
    return
  }
  if (req.method === "GET" && url === "/__stats") {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify(stats()))
    return
  }
  res.writeHead(404)
  res.end()
}

/** Starts the server on `port` (0 = any) and resolves with the bound port. */
export const start = (port: number): Promise<{ readonly port: number; readonly close: () => void }> =>
  new Promise((resolve) => {
    const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, handle)
    server.maxRequestsPerSocket = 0
    server.on("connection", () => {
      counters.connections++
    })
    server.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => {
      const address = server.address()
      const bound = typeof address === "object" && address !== null ? address.port : port
      resolve({
        port: bound,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })
    })
  })

// Entry point when run as a process.
if (import.meta.main) {
  const at = process.argv.indexOf("--port")
  const port = at >= 0 ? Number(process.argv[at + 1]) : 0
  void start(port).then(({ port: bound }) => {
    process.stdout.write(`${JSON.stringify({ type: "listening", port: bound })}\n`)
  })
}
