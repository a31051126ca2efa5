/**
 * A minimal OTLP/HTTP receiver on 127.0.0.1 for the examples' tests: it records every POST
 * (path, headers, body as text) and answers 200 `{}` like a collector. `spanNames` and `metricNames`
 * read the OTLP JSON that `@volley/observability` sends. Gotcha: it keeps everything in memory; it is
 * for a test's few requests, not a collector.
 */
import * as Http from "node:http"
import { Effect, type Scope } from "effect"

/** One export request as received. */
export interface Received {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** A running receiver: its base URL and what it got so far. */
export interface Receiver {
  readonly url: string
  readonly received: Array<Received>
}

/** Starts the receiver in the current scope; it closes with the scope. */
export const receiver: Effect.Effect<Receiver, never, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<Receiver & { readonly server: Http.Server }>((resume) => {
    const received: Array<Received> = []
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { readonly port: number }
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, server }))
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

interface Named {
  readonly name: string
}

/** The names of every span received, in arrival order. */
export const spanNames = (received: ReadonlyArray<Received>): Array<string> =>
  received
    .filter((r) => r.path === "/v1/traces")
    .flatMap((r) => {
      const data = JSON.parse(r.body) as {
        readonly resourceSpans: ReadonlyArray<{
          readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<Named> }>
        }>
      }
      return data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)))
    })

/** The names of every metric received (once each). */
export const metricNames = (received: ReadonlyArray<Received>): Array<string> => [
  ...new Set(
    received
      .filter((r) => r.path === "/v1/metrics")
      .flatMap((r) => {
        const data = JSON.parse(r.body) as {
          readonly resourceMetrics: ReadonlyArray<{
            readonly scopeMetrics: ReadonlyArray<{ readonly metrics: ReadonlyArray<Named> }>
          }>
        }
        return data.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.name)))
      })
  )
]
