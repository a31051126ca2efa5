/**
 * A tiny raw `node:net` HTTP/1.1 server on 127.0.0.1 for socket-level faults the in-memory fake
 * cannot produce: resets before headers, accepted-but-silent connections, partial bodies, mid-stream
 * drops, redirects. Each request is parsed (head + content-length body) and handed to a handler that
 * writes raw bytes; the server records every request and counts opened / closed sockets so tests
 * can check that the client closed what it abandoned (each request also records the connection it
 * came on, for keep-alive reuse checks). `closedPort()` gives a port nobody listens on; `chunk`,
 * `sseHead` and `sseFrame` build chunked SSE bytes; `transports` / `clientOn` build the client
 * over either transport (direct undici, or `layer` over Effect's undici `HttpClient`).
 * Gotcha: these are real sockets and real time: use `it.live`, never `it.effect` (TestClock).
 */
import * as net from "node:net"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ResponsesClient from "../../src/ResponsesClient.ts"
import type { InvalidConfiguration } from "../../src/ResponsesError.ts"

/** One request as the server read it. */
export interface RawRequest {
  readonly method: string
  readonly path: string
  /** Lower-cased header names (a repeated header: its last value). */
  readonly headers: Readonly<Record<string, string>>
  /** Every header line as sent, in order, names as sent (to spot repeated headers). */
  readonly rawHeaders: ReadonlyArray<readonly [name: string, value: string]>
  readonly body: string
  /** 0-based number of the connection it came on (connections counted in accept order). */
  readonly connection: number
  /** `Date.now()` when the request was fully read. */
  readonly at: number
}

/** Writes the answer to one request; `index` counts requests across connections. */
export type Handler = (socket: net.Socket, request: RawRequest, index: number) => void

/** A running loopback server. */
export interface RawServer {
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  readonly requests: Array<RawRequest>
  /** Sockets accepted so far. */
  readonly opened: () => number
  /** Sockets closed so far (by either side). */
  readonly closed: () => number
  /** Every socket still open, destroyed (for stalls the client never closes). */
  readonly destroyAll: () => void
}

/** Starts a server for the scope's lifetime. */
export const rawServer = (handler: Handler): Effect.Effect<RawServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => listen(handler)),
    ({ server, state }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            for (const socket of state.sockets) socket.destroy()
            server.close(() => resolve())
          })
      )
  ).pipe(Effect.map(({ api }) => api))

/** A loopback port with no listener (bound, then released). */
export const closedPort = (): Effect.Effect<number> =>
  Effect.promise(
    () =>
      new Promise<number>((resolve) => {
        const server = net.createServer()
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as net.AddressInfo).port
          server.close(() => resolve(port))
        })
      })
  )

/** An HTTP response head. */
export const head = (status: number, headers: Record<string, string | number> = {}): string =>
  `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Status"}\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`

/** A complete JSON response with content-length. */
export const jsonReply = (socket: net.Socket, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  socket.write(
    head(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers }) + text
  )
}

/** One chunk of a `transfer-encoding: chunked` body (an empty `data` gives the terminating chunk). */
export const chunk = (data: string | Uint8Array): Buffer => {
  const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data)
  return bytes.byteLength === 0
    ? Buffer.from("0\r\n\r\n")
    : Buffer.concat([Buffer.from(`${bytes.byteLength.toString(16)}\r\n`), bytes, Buffer.from("\r\n")])
}

/** The head of a chunked SSE response (`extra` headers added). */
export const sseHead = (extra: Record<string, string | number> = {}): string =>
  head(200, { "content-type": "text/event-stream", "transfer-encoding": "chunked", ...extra })

/** One SSE event with an `event:` line named after its `type`. */
export const sseFrame = (event: Record<string, unknown>, eol = "\n"): string =>
  `event: ${String(event.type)}${eol}data: ${JSON.stringify(event)}${eol}${eol}`

/** Waits until `predicate` holds (polling every 10 ms, up to `ms`). */
export const eventually = (predicate: () => boolean, ms = 5000): Effect.Effect<boolean> =>
  Effect.promise(
    () =>
      new Promise<boolean>((resolve) => {
        const started = Date.now()
        const check = () => {
          if (predicate()) resolve(true)
          else if (Date.now() - started > ms) resolve(false)
          else setTimeout(check, 10)
        }
        check()
      })
  )

interface State {
  readonly sockets: Set<net.Socket>
  opened: number
  closed: number
}

const listen = (handler: Handler) =>
  new Promise<{ server: net.Server; state: State; api: RawServer }>((resolve) => {
    const state: State = { sockets: new Set(), opened: 0, closed: 0 }
    const requests: Array<RawRequest> = []
    const server = net.createServer((socket) => {
      const connection = state.opened
      state.opened++
      state.sockets.add(socket)
      socket.on("close", () => {
        state.closed++
        state.sockets.delete(socket)
      })
      socket.on("error", () => {})
      let buffer = Buffer.alloc(0)
      socket.on("data", (data) => {
        buffer = Buffer.concat([buffer, data])
        while (true) {
          const end = buffer.indexOf("\r\n\r\n")
          if (end < 0) return
          const lines = buffer.subarray(0, end).toString("latin1").split("\r\n")
          const [method = "", path = ""] = (lines[0] ?? "").split(" ")
          const headers: Record<string, string> = {}
          const rawHeaders: Array<readonly [string, string]> = []
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(":")
            if (colon <= 0) continue
            const name = line.slice(0, colon).trim()
            const value = line.slice(colon + 1).trim()
            headers[name.toLowerCase()] = value
            rawHeaders.push([name, value])
          }
          const length = Number(headers["content-length"] ?? 0)
          if (buffer.length < end + 4 + length) return
          const body = buffer.subarray(end + 4, end + 4 + length).toString("utf8")
          buffer = buffer.subarray(end + 4 + length)
          const request = { method, path, headers, rawHeaders, body, connection, at: Date.now() }
          requests.push(request)
          handler(socket, request, requests.length - 1)
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        server,
        state,
        api: {
          port,
          origin: `http://127.0.0.1:${port}`,
          requests,
          opened: () => state.opened,
          closed: () => state.closed,
          destroyAll: () => {
            for (const socket of state.sockets) socket.destroy()
          }
        }
      })
    })
  })

/** A way to build the client over real sockets: the suites run once per transport. */
export interface Transport {
  readonly name: string
  /** The client layer for `options` (its agent lives as long as the layer). */
  readonly layer: (
    options: ResponsesClient.Options
  ) => Layer.Layer<ResponsesClient.ResponsesClient, InvalidConfiguration>
}

/**
 * Both transports: the direct one (`layerUndici`, internal/undici.ts) and `layer` over Effect's
 * undici `HttpClient` with the same connect timeout (internal/http.ts).
 */
export const transports: ReadonlyArray<Transport> = [
  { name: "direct undici", layer: (options) => ResponsesClient.layerUndici(options) },
  {
    name: "HttpClient",
    layer: (options) =>
      ResponsesClient.layer(options).pipe(
        Layer.provide(
          NodeHttpClient.layerUndiciOptions({
            connect: { timeout: options.timeouts?.connectMs ?? ResponsesClient.defaultTimeouts.connectMs }
          })
        )
      )
  }
]

/** Builds the client of `transport` for the current scope. */
export const clientOn = (
  transport: Transport,
  options: ResponsesClient.Options
): Effect.Effect<ResponsesClient.Service, InvalidConfiguration, Scope.Scope> =>
  Effect.map(Layer.build(transport.layer(options)), (context) => Context.get(context, ResponsesClient.ResponsesClient))
