/**
 * The soak's hostile server (issue 13), run in the soak's worker thread: a bare `node:http` server
 * whose answer depends on the request's first input text. `retry-flood` streams SSE `retry:` fields
 * (256 MiB of them); `json-oversize` / `json-on-stream` answer 200 MiB of JSON (chunked to `create`,
 * with a content length to `stream`); `deep-arguments` calls `charge` with arguments nested 100 000
 * deep, `deep-item` returns an unknown output item nested as deep beside a `charge` call; once a
 * call's output comes back, both answer `done`. Bodies are
 * written in 64 KiB chunks, with backpressure, and stop when the client goes away. Gotcha: nothing
 * here builds a deep value: the nesting is written as text, which is how a hostile server sends it.
 */
import { createServer, type ServerResponse } from "node:http"

/** How deep the nested payloads go. */
export const depth = 100_000
/** Bytes of `retry:` fields in a flood. */
export const floodBytes = 256 * 1024 * 1024
/** Bytes of an oversize JSON answer. */
export const oversizeBytes = 200 * 1024 * 1024

/** What the hostile server saw. */
export interface HostileStats {
  /** Connections open now. */
  readonly live: number
  /** The case name of every request, in order. */
  readonly requests: ReadonlyArray<string>
  /** The first 200 characters of every `function_call_output` sent back. */
  readonly outputs: ReadonlyArray<string>
}

const chunkSize = 64 * 1024
const usage = { input_tokens: 1, output_tokens: 1, total_tokens: 2 }
const response = (id: string, status: string, output: string) =>
  `{"id":"${id}","object":"response","created_at":0,"status":"${status}","error":null,"incomplete_details":null,"instructions":null,"model":"m","output":${output},"parallel_tool_calls":true,"usage":${JSON.stringify(usage)}}`
const text = Buffer.alloc(chunkSize, "x")
const nested = `${"[".repeat(depth)}${"]".repeat(depth)}`
const done = response(
  "resp_done",
  "completed",
  `[{"id":"msg_done","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"done"}]}]`
)
const sseEvent = (type: string, json: string) => `event: ${type}\ndata: ${json}\n\n`

/** Writes `prefix`, then `chunk` until `total` bytes, then `suffix`; stops if the client leaves. */
const pump = (res: ServerResponse, prefix: string, chunk: Buffer, total: number, suffix: string) => {
  let sent = 0
  res.write(prefix)
  const go = () => {
    while (sent < total) {
      if (res.destroyed) return
      const piece = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent)
      sent += piece.length
      if (!res.write(piece)) {
        res.once("drain", go)
        return
      }
    }
    res.end(suffix)
  }
  go()
}

const json = (res: ServerResponse, body: string) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const nameOf = (input: unknown): string => {
  if (typeof input === "string") return input
  const first = Array.isArray(input) ? (input[0] as { readonly content?: unknown } | undefined) : undefined
  return typeof first?.content === "string" ? first.content : ""
}

/** Starts the hostile server on 127.0.0.1; resolves with its base URL and a stats reader. */
export const startHostileServer = (): Promise<{ readonly baseUrl: string; readonly stats: () => HostileStats }> => {
  const requests: Array<string> = []
  const outputs: Array<string> = []
  let live = 0
  const server = createServer((req, res) => {
    const body: Array<Buffer> = []
    req.on("data", (piece: Buffer) => body.push(piece))
    req.on("end", () => {
      const request = JSON.parse(Buffer.concat(body).toString("utf8")) as { readonly input?: unknown }
      const name = nameOf(request.input)
      requests.push(name)
      const items = Array.isArray(request.input) ? (request.input as ReadonlyArray<Record<string, unknown>>) : []
      const answered = items.filter((item) => item.type === "function_call_output")
      if (name === "deep-arguments") for (const item of answered) outputs.push(String(item.output).slice(0, 200))
      switch (name) {
        case "retry-flood": {
          res.writeHead(200, { "content-type": "text/event-stream" })
          const created = sseEvent(
            "response.created",
            `{"type":"response.created","sequence_number":0,"response":${response("resp_flood", "in_progress", "[]")}}`
          )
          const completed = sseEvent(
            "response.completed",
            `{"type":"response.completed","sequence_number":1,"response":${response("resp_flood", "completed", "[]")}}`
          )
          const unit = "retry: 1000\n\n"
          pump(res, created, Buffer.from(unit.repeat(Math.floor(chunkSize / unit.length))), floodBytes, completed)
          return
        }
        case "json-oversize": {
          const [head, tail] = response("resp_big", "completed", "[OUTPUT]").split("[OUTPUT]") as [string, string]
          res.writeHead(200, { "content-type": "application/json" })
          pump(
            res,
            `${head}[{"id":"msg_big","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"`,
            text,
            oversizeBytes,
            `"}]}]${tail}`
          )
          return
        }
        case "json-on-stream": {
          const [head, tail] = response("resp_big", "completed", "[OUTPUT]").split("[OUTPUT]") as [string, string]
          const prefix = `${head}[{"id":"msg_big","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"`
          const suffix = `"}]}]${tail}`
          res.writeHead(200, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(prefix) + oversizeBytes + Buffer.byteLength(suffix)
          })
          pump(res, prefix, text, oversizeBytes, suffix)
          return
        }
        case "deep-arguments":
        case "deep-item":
          if (answered.length > 0) json(res, done)
          else if (name === "deep-arguments")
            json(
              res,
              response(
                "resp_deep_args",
                "completed",
                `[{"id":"fc_deep","type":"function_call","status":"completed","arguments":"${nested}","call_id":"call_deep","name":"charge"}]`
              )
            )
          // The deep item comes with a call, so a client that let it through runs the call and then
          // sends the item back in the next request's history.
          else
            json(
              res,
              response(
                "resp_deep_item",
                "completed",
                `[{"id":"fi_deep","type":"future_item","nested":${nested}},{"id":"fc_item","type":"function_call","status":"completed","arguments":"{\\"amount\\":1}","call_id":"call_item","name":"charge"}]`
              )
            )
          return
        default:
          res.writeHead(404, { "content-type": "application/json" })
          res.end(`{"error":{"message":"unknown hostile case","type":"invalid_request_error","code":null}}`)
      }
    })
  })
  server.on("connection", (socket) => {
    live++
    socket.on("close", () => {
      live--
    })
  })
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        stats: () => ({ live, requests: [...requests], outputs: [...outputs] })
      })
    })
  })
}
