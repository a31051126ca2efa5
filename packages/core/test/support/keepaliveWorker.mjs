// F05's keepalive server, run in a worker thread so that its memory is not counted in the client's
// heap figure. Every request gets an SSE stream: `response.created`, then a `: keep-alive` comment
// every `everyMs` until `holdMs` have passed, then one delta and `response.completed`. Answers
// `{ live, completed }` to any message from the parent; posts `{ port }` once listening.
import * as http from "node:http"
import { parentPort, workerData } from "node:worker_threads"

const { everyMs, holdMs } = workerData
const frame = (event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
const message = {
  type: "message",
  id: "msg_1",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text: "held", annotations: [] }]
}
const created = frame({ type: "response.created", response: { id: "resp_1", status: "in_progress", output: [] } })
const rest =
  frame({ type: "response.output_item.added", output_index: 0, item: { ...message, content: [] } }) +
  frame({ type: "response.output_text.delta", item_id: "msg_1", output_index: 0, content_index: 0, delta: "held" }) +
  frame({ type: "response.output_item.done", output_index: 0, item: message }) +
  frame({
    type: "response.completed",
    response: {
      id: "resp_1",
      object: "response",
      model: "m",
      status: "completed",
      output: [message],
      usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 }
    }
  }) +
  "data: [DONE]\n\n"

let live = 0
let completed = 0
const server = http.createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream" })
    res.write(created)
    const started = Date.now()
    const timer = setInterval(() => {
      if (Date.now() - started < holdMs) {
        res.write(": keep-alive\n\n")
        return
      }
      clearInterval(timer)
      res.end(rest)
      completed++
    }, everyMs)
    res.on("close", () => clearInterval(timer))
  })
})
server.keepAliveTimeout = 1000
server.on("connection", (socket) => {
  live++
  socket.on("close", () => live--)
})
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }))
parentPort.on("message", () => parentPort.postMessage({ live, completed }))
