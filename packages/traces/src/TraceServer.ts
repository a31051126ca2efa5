/**
 * The local traces web server: `GET /` (runs list, filters `agent`, `reason`, `text`), `GET /run/:id`
 * (one run's waterfall), `GET /events` (SSE: a `change` event whenever the trace folder changes),
 * `GET /assets/app.css|app.js`. `?fragment=1` returns only the page's content, for the live update.
 * Entry points: `make(options)` in a scope and `layer(options)`; it listens on 127.0.0.1 only and
 * `url` is `http://127.0.0.1:PORT/`. Built on `node:http` behind Effect (see docs/traces.md for why).
 * `options.source` (e.g. `TraceStore.makeSqlSource()`) serves the Postgres table instead of a folder.
 * Gotcha: the folder is polled (every `pollInterval`, default 250 ms) rather than watched, which works
 * the same on every file system; while a run of the last hour is still going, `change` is also sent
 * every second so its durations grow. At most `maxClients` SSE connections are kept.
 */
import * as http from "node:http"
import * as path from "node:path"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as TraceStore from "./TraceStore.ts"
import * as Assets from "./internal/assets.ts"
import * as Html from "./internal/html.ts"

/** A running traces server. */
export class TraceServer extends Context.Service<
  TraceServer,
  {
    /** `http://127.0.0.1:PORT/`. */
    readonly url: string
    /** The folder it reads (or `postgres table volley_trace_lines`). */
    readonly dir: string
  }
>()("@volley/traces/TraceServer") {}

/** Options of the server. */
export interface Options {
  /** Trace folder (default `.volley/traces`). */
  readonly dir?: string | undefined
  /** Where runs are read from instead of `dir` (e.g. `TraceStore.makeSqlSource()`). */
  readonly source?: TraceStore.Source | undefined
  /** Port (default 0: a free port). */
  readonly port?: number | undefined
  /** How often the folder is checked for changes (default 250 ms). */
  readonly pollInterval?: Duration.Input | undefined
  /** Most live (SSE) connections (default 32). */
  readonly maxClients?: number | undefined
}

/** Longest request URL accepted (2 KiB). */
export const maxUrlLength = 2048

/** Starts the server in the current scope; closed (connections too) when the scope closes. */
export const make = Effect.fnUntraced(function* (options: Options = {}) {
  const source = options.source ?? TraceStore.fileSource(path.resolve(options.dir ?? ".volley/traces"))
  const dir = source.where
  const maxClients = options.maxClients ?? 32
  const clients = new Set<http.ServerResponse>()
  const context = yield* Effect.context<never>()
  const runFork = Effect.runForkWith(context)
  // decoded records are kept by the source (only new lines are decoded); runs are rebuilt on a change
  let cache: { readonly fingerprint: string; readonly runs: TraceStore.Runs } | undefined

  const runs = Effect.gen(function* () {
    const fingerprint = yield* source.fingerprint
    if (cache !== undefined && cache.fingerprint === fingerprint) return cache.runs
    const read = yield* source.read
    cache = { fingerprint, runs: read }
    return read
  })

  const respond = (
    res: http.ServerResponse,
    status: number,
    type: string,
    body: string,
    extra: Record<string, string> = {}
  ) => {
    res.writeHead(status, {
      "content-type": type,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...extra
    })
    res.end(body)
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): Effect.Effect<void> =>
    Effect.gen(function* () {
      const raw = req.url ?? "/"
      if (raw.length > maxUrlLength) return respond(res, 414, "text/plain; charset=utf-8", "URL too long")
      if (req.method !== "GET" && req.method !== "HEAD")
        return respond(res, 405, "text/plain; charset=utf-8", "method not allowed", { allow: "GET, HEAD" })
      const url = new URL(raw, "http://127.0.0.1")
      const fragment = url.searchParams.get("fragment") === "1"
      const now = Date.now()
      if (url.pathname === "/assets/app.css") return respond(res, 200, "text/css; charset=utf-8", Assets.css)
      if (url.pathname === "/assets/app.js") return respond(res, 200, "text/javascript; charset=utf-8", Assets.script)
      if (url.pathname === "/events") return openEvents(req, res)
      if (url.pathname === "/") {
        const filters: Html.Filters = {
          agent: url.searchParams.get("agent") ?? "",
          reason: url.searchParams.get("reason") ?? "",
          text: (url.searchParams.get("text") ?? "").slice(0, 200)
        }
        const all = yield* runs
        const body = fragment ? Html.listContent(all, filters, now) : Html.listPage(all, filters, now)
        return respond(res, 200, "text/html; charset=utf-8", body)
      }
      if (url.pathname.startsWith("/run/")) {
        const id = decodeURIComponent(url.pathname.slice(5)).slice(0, 64)
        const all = yield* runs
        // a resumed segment's id shows the whole run it belongs to
        const found = all.bySpanId.get(id)
        const run = found === undefined ? undefined : TraceStore.headOf(found)
        if (run === undefined) return respond(res, 404, "text/html; charset=utf-8", Html.notFoundPage(id))
        return respond(
          res,
          200,
          "text/html; charset=utf-8",
          fragment ? Html.runContent(run, now) : Html.runPage(run, now)
        )
      }
      return respond(res, 404, "text/plain; charset=utf-8", "not found")
    })

  const openEvents = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (clients.size >= maxClients) {
      respond(res, 503, "text/plain; charset=utf-8", "too many live clients")
      return
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive"
    })
    res.write(": connected\n\n")
    clients.add(res)
    req.on("close", () => clients.delete(res))
  }

  const server = http.createServer((req, res) => {
    runFork(handle(req, res))
  })

  // One poller for all clients: a changed fingerprint is broadcast as a `change` event, and so is
  // every second while a run is going (its durations and bars grow even when its tool writes nothing).
  let last = yield* source.fingerprint
  let lastBroadcast = 0
  let lastWrite = Date.now()
  const broadcast = (text: string) => {
    lastWrite = Date.now()
    for (const client of clients) client.write(text)
  }
  const poll = Effect.gen(function* () {
    if (clients.size === 0) return
    const current = yield* source.fingerprint
    const now = Date.now()
    const changed = current !== last
    last = current
    const ticking = now - lastBroadcast >= 1000 && cache !== undefined && TraceStore.hasRecentRun(cache.runs, now)
    if (changed || ticking) {
      lastBroadcast = now
      broadcast(`event: change\ndata: ${now}\n\n`)
    } else if (now - lastWrite >= 15_000) {
      broadcast(": keep-alive\n\n")
    }
  })
  yield* Effect.forkScoped(Effect.repeat(poll, Schedule.spaced(options.pollInterval ?? Duration.millis(250))))

  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => {
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen(options.port ?? 0, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.callback<void>((resume) => {
        for (const client of clients) client.end()
        clients.clear()
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return TraceServer.of({ url: `http://127.0.0.1:${port}/`, dir })
})

/** The server as a layer. */
export const layer = (options: Options = {}): Layer.Layer<TraceServer> => Layer.effect(TraceServer, make(options))
