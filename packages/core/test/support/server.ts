/**
 * A tiny raw `node:net` HTTP/1.1 server on 127.0.0.1 for socket-level faults the in-memory fake
 * cannot produce: resets before headers, accepted-but-silent connections, partial bodies, mid-stream
 * drops, redirects. Each request is parsed (head + content-length body) and handed to a handler that
 * writes raw bytes; the server records every request and counts opened / closed sockets so tests
 * can check that the client closed what it abandoned. `closedPort()` gives a port nobody listens on.
 * Gotcha: these are real sockets and real time: use `it.live`, never `it.effect` (TestClock).
 */
import * as net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** One request as the server read it. */
export interface RawRequest {
  readonly method: string
  readonly path: string
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
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
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(":")
            if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
          }
          const length = Number(headers["content-length"] ?? 0)
          if (buffer.length < end + 4 + length) return
          const body = buffer.subarray(end + 4, end + 4 + length).toString("utf8")
          buffer = buffer.subarray(end + 4 + length)
          const request = { method, path, headers, body }
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
