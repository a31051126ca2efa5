/**
 * `Session`: a conversation's history kept between runs, stored as turns (one turn = the items one
 * run added: its input plus everything the model and tools produced). `Session.run(agent, id, input)`
 * (or `Session.stream`) takes the session's lock, prepends the stored history, runs, and appends the run's new items in
 * one write whatever the outcome (completed, failed, interrupted), so a turn is never partial and the
 * history always passes the pairing validator. Implementations: `layerMemory` and `layerSql` (any
 * `effect/sql` `SqlClient` on Postgres; advisory locks serialise runs across processes).
 * Gotcha: two runs on one session never interleave: the second waits (`onBusy: "wait"`, default) or
 * fails with `SessionError { reason: "Busy" }` (`onBusy: "fail"`).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { ResponsesClient, ResponsesSchema } from "@volley/core"
import type { Agent, AgentInput, AgentResult, RunOverrides } from "./Agent.ts"
import type { AgentEvent } from "./AgentEvent.ts"
import type { AgentError } from "./AgentError.ts"
import { inputItems, validatePairing } from "./internal/history.ts"
import { RunHistory } from "./RunHistory.ts"

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/**
 * A session operation failed: `Busy` (another run holds the session and `onBusy` is `"fail"`),
 * `InvalidTurn` (the items to append break the pairing validator; nothing was written) or `Store`
 * (the storage failed or returned something that is not a history).
 */
export class SessionError extends Schema.TaggedError<SessionError>()("SessionError", {
  sessionId: Schema.String,
  reason: Schema.Literals(["Busy", "InvalidTurn", "Store"]),
  message: Schema.String
}) {}

// ---------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------

/** What to do when another run holds the session: wait for it (default) or fail with `Busy`. */
export type OnBusy = "wait" | "fail"

/** A session store. Every method is one atomic operation on one session. */
export interface SessionShape {
  /** The stored history, oldest turn first. */
  readonly history: (sessionId: string) => Effect.Effect<ReadonlyArray<ResponsesSchema.InputItem>, SessionError>
  /** Appends one turn; refused (`InvalidTurn`) when the items break the pairing validator on their own. */
  readonly append: (
    sessionId: string,
    items: ReadonlyArray<ResponsesSchema.InputItem>
  ) => Effect.Effect<void, SessionError>
  /** Forgets the session. */
  readonly clear: (sessionId: string) => Effect.Effect<void, SessionError>
  /** Removes the last turn (undo) and returns its items (empty when there is none). */
  readonly pop: (sessionId: string) => Effect.Effect<ReadonlyArray<ResponsesSchema.InputItem>, SessionError>
  /** Replaces the whole history with one turn (what compaction writes). */
  readonly replace: (
    sessionId: string,
    items: ReadonlyArray<ResponsesSchema.InputItem>
  ) => Effect.Effect<void, SessionError>
  /** Runs `effect` holding the session's lock: runs on one session are serialised, never interleaved. */
  readonly withLock: <A, E, R>(
    sessionId: string,
    effect: Effect.Effect<A, E, R>,
    onBusy?: OnBusy
  ) => Effect.Effect<A, E | SessionError, R>
}

/** The session store a run reads and writes. */
export class Session extends Context.Service<Session, SessionShape>()("@volley/agent/Session") {}

const invalidTurn = (sessionId: string, items: ReadonlyArray<ResponsesSchema.InputItem>): SessionError | undefined => {
  const issue = validatePairing(items)
  return issue === undefined
    ? undefined
    : new SessionError({
        sessionId,
        reason: "InvalidTurn",
        message: `the turn breaks the pairing validator (${issue.issue} for ${issue.callId.slice(0, 64)}); nothing was written`
      })
}

const busy = (sessionId: string) =>
  new SessionError({ sessionId, reason: "Busy", message: `another run holds session ${sessionId.slice(0, 128)}` })

// ---------------------------------------------------------------------------------------------
// in memory
// ---------------------------------------------------------------------------------------------

/** A session store in this process's memory (tests, single-process apps); lost on exit. */
export const makeMemory: Effect.Effect<SessionShape> = Effect.sync(() => {
  const sessions = new Map<string, Array<ReadonlyArray<ResponsesSchema.InputItem>>>()
  const locks = new Map<string, Semaphore.Semaphore>()
  const lockOf = (sessionId: string) => {
    let lock = locks.get(sessionId)
    if (lock === undefined) {
      lock = Semaphore.makeUnsafe(1)
      locks.set(sessionId, lock)
    }
    return lock
  }
  return {
    history: (sessionId) => Effect.sync(() => (sessions.get(sessionId) ?? []).flat()),
    append: (sessionId, items) =>
      Effect.suspend(() => {
        const invalid = invalidTurn(sessionId, items)
        if (invalid !== undefined) return Effect.fail(invalid)
        if (items.length === 0) return Effect.void
        const turns = sessions.get(sessionId) ?? []
        turns.push(items.slice())
        sessions.set(sessionId, turns)
        return Effect.void
      }),
    clear: (sessionId) => Effect.sync(() => void sessions.delete(sessionId)),
    pop: (sessionId) => Effect.sync(() => sessions.get(sessionId)?.pop() ?? []),
    replace: (sessionId, items) =>
      Effect.suspend(() => {
        const invalid = invalidTurn(sessionId, items)
        if (invalid !== undefined) return Effect.fail(invalid)
        sessions.set(sessionId, items.length === 0 ? [] : [items.slice()])
        return Effect.void
      }),
    withLock: (sessionId, effect, onBusy = "wait") =>
      onBusy === "wait"
        ? Semaphore.withPermit(lockOf(sessionId), effect)
        : Effect.flatMap(Semaphore.withPermitsIfAvailable(lockOf(sessionId), 1)(effect), (result) =>
            Option.isSome(result) ? Effect.succeed(result.value) : Effect.fail(busy(sessionId))
          )
  }
})

/** `Session` in memory. */
export const layerMemory: Layer.Layer<Session> = Layer.effect(Session, makeMemory)

// ---------------------------------------------------------------------------------------------
// SQL (Postgres)
// ---------------------------------------------------------------------------------------------

/** Options of the SQL store. */
export interface SqlOptions {
  /** The table (default `volley_session_turns`); created by `migrate`. */
  readonly table?: string | undefined
}

/** The default table of the SQL store. */
export const defaultTable = "volley_session_turns"

/** Creates the session table if it is missing (Postgres). Items are kept as JSON text, byte for byte. */
export const migrate = (options?: SqlOptions): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(options?.table ?? defaultTable)} (
      session_id text NOT NULL,
      turn integer NOT NULL,
      items text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (session_id, turn)
    )`
  })

const decodeTurn = Schema.decodeUnknownEffect(Schema.fromJsonString(RunHistory))

/**
 * The store on a Postgres `SqlClient` (the table must exist: see `migrate`). `withLock` holds a
 * session-level advisory lock on a reserved connection for the whole run, so runs in other processes
 * wait (polling the lock) or fail `Busy`; each write is its own transaction under a second, short
 * advisory lock.
 */
export const makeSql = (options?: SqlOptions): Effect.Effect<SessionShape, never, SqlClient.SqlClient> =>
  Effect.map(Effect.service(SqlClient.SqlClient), (sql): SessionShape => {
    const table = sql(options?.table ?? defaultTable)
    const store =
      (sessionId: string, operation: string) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, SessionError, R> =>
        Effect.mapError(
          effect,
          (error) =>
            new SessionError({
              sessionId,
              reason: "Store",
              message: `${operation}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 2000)
            })
        )
    // the write lock (seed 1) differs from the run lock (seed 0): a run holding its lock can still write
    const writing = <A, E>(sessionId: string, effect: Effect.Effect<A, E>) =>
      sql.withTransaction(
        Effect.andThen(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`volley_session:${sessionId}`}, 1))`, effect)
      )
    const nextTurn = (sessionId: string) =>
      sql<{
        readonly next: number
      }>`SELECT COALESCE(MAX(turn), 0) + 1 AS next FROM ${table} WHERE session_id = ${sessionId}`.pipe(
        Effect.map((rows) => Number(rows[0]?.next ?? 1))
      )
    const insert = (sessionId: string, turn: number, items: ReadonlyArray<ResponsesSchema.InputItem>) =>
      sql`INSERT INTO ${table} (session_id, turn, items) VALUES (${sessionId}, ${turn}, ${JSON.stringify(items)})`
    return {
      history: (sessionId) =>
        sql<{ readonly items: string }>`SELECT items FROM ${table} WHERE session_id = ${sessionId} ORDER BY turn`.pipe(
          Effect.flatMap((rows) => Effect.forEach(rows, (row) => decodeTurn(row.items))),
          Effect.map((turns) => turns.flat()),
          store(sessionId, "history")
        ),
      append: (sessionId, items) => {
        const invalid = invalidTurn(sessionId, items)
        if (invalid !== undefined) return Effect.fail(invalid)
        if (items.length === 0) return Effect.void
        return writing(
          sessionId,
          Effect.flatMap(nextTurn(sessionId), (turn) => insert(sessionId, turn, items))
        ).pipe(Effect.asVoid, store(sessionId, "append"))
      },
      clear: (sessionId) =>
        writing(sessionId, sql`DELETE FROM ${table} WHERE session_id = ${sessionId}`).pipe(
          Effect.asVoid,
          store(sessionId, "clear")
        ),
      pop: (sessionId) =>
        writing(
          sessionId,
          sql<{ readonly items: string }>`DELETE FROM ${table} WHERE session_id = ${sessionId}
            AND turn = (SELECT MAX(turn) FROM ${table} WHERE session_id = ${sessionId}) RETURNING items`
        ).pipe(
          Effect.flatMap((rows) => (rows[0] === undefined ? Effect.succeed([]) : decodeTurn(rows[0].items))),
          store(sessionId, "pop")
        ),
      replace: (sessionId, items) => {
        const invalid = invalidTurn(sessionId, items)
        if (invalid !== undefined) return Effect.fail(invalid)
        return writing(
          sessionId,
          Effect.andThen(
            sql`DELETE FROM ${table} WHERE session_id = ${sessionId}`,
            items.length === 0 ? Effect.void : Effect.asVoid(insert(sessionId, 1, items))
          )
        ).pipe(Effect.asVoid, store(sessionId, "replace"))
      },
      withLock: (sessionId, effect, onBusy = "wait") =>
        Effect.scoped(
          Effect.gen(function* () {
            const key = `volley_session:${sessionId}`
            const connection = yield* store(sessionId, "lock")(sql.reserve)
            // registered first, so a lock taken by an interrupted attempt is released too (unlocking
            // a lock this connection does not hold is a no-op) before the connection goes back
            yield* Effect.addFinalizer(() =>
              Effect.ignore(connection.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key], undefined))
            )
            const tryLock = store(
              sessionId,
              "lock"
            )(connection.execute("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [key], undefined)).pipe(
              Effect.map((rows) => rows[0]?.ok === true)
            )
            // polled, never a blocking pg_advisory_lock: an interrupted wait leaves no lock request behind
            const acquire = (delayMs: number): Effect.Effect<void, SessionError> =>
              Effect.flatMap(tryLock, (locked) => {
                if (locked) return Effect.void
                if (onBusy === "fail") return Effect.fail(busy(sessionId))
                return Effect.andThen(Effect.sleep(delayMs), acquire(Math.min(delayMs * 2, maxLockPollMs)))
              })
            yield* acquire(minLockPollMs)
            return yield* effect
          })
        )
    }
  })

/** How often a waiting run polls the session's advisory lock: from 10 ms, doubling, up to 250 ms. */
const minLockPollMs = 10
const maxLockPollMs = 250

/** Creates the table if needed and provides `Session` on Postgres. */
export const layerSql = (options?: SqlOptions): Layer.Layer<Session, SqlError, SqlClient.SqlClient> =>
  Layer.effect(Session, Effect.andThen(migrate(options), makeSql(options)))

// ---------------------------------------------------------------------------------------------
// compaction
// ---------------------------------------------------------------------------------------------

/** When and how a session's history is compacted before a run. */
export interface CompactionPolicy<E = never, R = never> {
  /** Compact once the history holds more than this many items. */
  readonly maxItems: number
  /** Items kept at most after compaction, newest first (default `maxItems / 2`). */
  readonly keepItems?: number | undefined
  /** Turns the dropped items into a summary (e.g. `summariseWith(agent)`); absent: they are dropped. */
  readonly summarise?: ((dropped: ReadonlyArray<ResponsesSchema.InputItem>) => Effect.Effect<string, E, R>) | undefined
}

/**
 * Where to cut a history so that the newest items kept are at most `keep` and no
 * `function_call`/output pair is split: the smallest index `i >= items.length - keep` such that no call
 * before `i` has its output at or after `i`, preferring a user message start. `items.length` when none.
 */
export const cutPoint = (items: ReadonlyArray<ResponsesSchema.InputItem>, keep: number): number => {
  const from = Math.max(0, items.length - Math.max(0, keep))
  const outputAt = new Map<string, number>()
  items.forEach((item, index) => {
    if (item.type === "function_call_output") outputAt.set(item.call_id, index)
  })
  // the furthest output index of the calls before each position
  let reach = -1
  const safe: Array<number> = []
  for (let i = 0; i <= items.length; i++) {
    if (i >= from && reach < i) safe.push(i)
    const item = items[i]
    if (item?.type === "function_call") reach = Math.max(reach, outputAt.get(item.call_id) ?? -1)
  }
  const isUser = (i: number) => {
    const item = items[i] as { readonly role?: unknown } | undefined
    return item !== undefined && item.role === "user"
  }
  return safe.find(isUser) ?? safe[0] ?? items.length
}

/** The summary message that replaces dropped items. */
export const summaryItem = (summary: string): ResponsesSchema.InputItem => ({
  type: "message",
  role: "developer",
  content: `Summary of the earlier conversation:\n${summary}`
})

/** Compacts a history under a policy (pairs intact); the same array when under `maxItems`. */
export const compact = <E = never, R = never>(
  items: ReadonlyArray<ResponsesSchema.InputItem>,
  policy: CompactionPolicy<E, R>
): Effect.Effect<ReadonlyArray<ResponsesSchema.InputItem>, E, R> => {
  if (items.length <= policy.maxItems) return Effect.succeed(items)
  const cut = cutPoint(items, policy.keepItems ?? Math.floor(policy.maxItems / 2))
  const kept = items.slice(cut)
  if (policy.summarise === undefined || cut === 0) return Effect.succeed(kept)
  return Effect.map(policy.summarise(items.slice(0, cut)), (summary) => [summaryItem(summary), ...kept])
}

/** A `summarise` that asks an agent (a summariser) for a summary of the dropped items. */
export const summariseWith =
  <R>(agent: Agent<string, R>) =>
  (
    dropped: ReadonlyArray<ResponsesSchema.InputItem>
  ): Effect.Effect<string, AgentError, R | ResponsesClient.ResponsesClient> =>
    agent
      .run([
        ...dropped,
        { type: "message", role: "user", content: "Summarise the conversation above in a few sentences." }
      ])
      .pipe(Effect.map((result) => (result._tag === "Completed" ? result.output : "")))

// ---------------------------------------------------------------------------------------------
// running an agent on a session
// ---------------------------------------------------------------------------------------------

/** Options of `Session.run` / `Session.stream`: the run's options and overrides, and the session's. */
export interface SessionRunOptions<E = never, R = never> extends RunOverrides {
  /** When another run holds the session (default `"wait"`). */
  readonly onBusy?: OnBusy | undefined
  /** Compacts the stored history before the run (under the lock). */
  readonly compaction?: CompactionPolicy<E, R> | undefined
}

/**
 * The session side of a run, for `run` and `stream`: under the lock, the stored history (compacted
 * first) plus `input` goes to `start`, and the items the run's final state added are appended as one
 * turn whatever the exit (an interrupted run's checkpoint still has them).
 */
const onSession = <X, EX, RX, E, RC>(
  sessionId: string,
  input: AgentInput,
  options: SessionRunOptions<E, RC> | undefined,
  start: (items: ReadonlyArray<ResponsesSchema.InputItem>, runOptions: RunOverrides) => Effect.Effect<X, EX, RX>
): Effect.Effect<X, EX | SessionError | E, RX | RC | Session> =>
  Effect.gen(function* () {
    const session = yield* Session
    const { onBusy, compaction, checkpoint: userCheckpoint, ...overrides } = options ?? {}
    const body = Effect.gen(function* () {
      let stored = yield* session.history(sessionId)
      if (compaction !== undefined) {
        const compacted = yield* compact(stored, compaction)
        if (compacted !== stored) {
          yield* session.replace(sessionId, compacted)
          stored = compacted
        }
      }
      let final: ReadonlyArray<ResponsesSchema.InputItem> | undefined
      const runOptions: RunOverrides = {
        ...overrides,
        checkpoint: (state) =>
          Effect.suspend(() => {
            final = state.history
            return userCheckpoint === undefined ? Effect.void : userCheckpoint(state)
          })
      }
      const newItems = () => (final === undefined ? [] : final.slice(stored.length))
      const exit = yield* Effect.exit(
        start([...stored, ...inputItems(input)], runOptions).pipe(
          // interrupted: the turn is still written (the cancelled calls have their outputs)
          Effect.onInterrupt(() => Effect.ignore(session.append(sessionId, newItems())))
        )
      )
      yield* session.append(sessionId, newItems())
      return yield* exit
    })
    return yield* session.withLock(sessionId, body, onBusy)
  })

/**
 * Runs `agent` on a session: under the session's lock, the stored history (compacted first when a
 * policy says so) plus `input` is the run's input, and the run's new items are appended as one turn
 * once it ends, completed, failed or interrupted (the final state's history always passes the
 * pairing validator). The run's own outcome is returned unchanged.
 */
export const run = <A, R, E = never, RC = never>(
  agent: Agent<A, R>,
  sessionId: string,
  input: AgentInput,
  options?: SessionRunOptions<E, RC>
): Effect.Effect<AgentResult<A>, AgentError | SessionError | E, R | RC | ResponsesClient.ResponsesClient | Session> =>
  onSession(sessionId, input, options, (items, runOptions) => agent.run(items, runOptions))

/**
 * `run`, streaming: the events of `agent.stream` on the session's history. The lock is held while the
 * stream runs; the turn is appended before the stream ends, fails, or is interrupted by its consumer.
 */
export const stream = <A, R, E = never, RC = never>(
  agent: Agent<A, R>,
  sessionId: string,
  input: AgentInput,
  options?: SessionRunOptions<E, RC>
): Stream.Stream<AgentEvent, AgentError | SessionError | E, R | RC | ResponsesClient.ResponsesClient | Session> =>
  Stream.callback<AgentEvent, AgentError | SessionError | E, R | RC | ResponsesClient.ResponsesClient | Session>(
    (queue) =>
      onSession(sessionId, input, options, (items, runOptions) =>
        agent.stream(items, runOptions).pipe(Stream.runForEach((event) => Queue.offer(queue, event)))
      ).pipe(
        Effect.matchEffect({
          onFailure: (error) => Queue.fail(queue, error),
          onSuccess: () => Queue.end(queue)
        })
      ),
    { bufferSize: 1024, strategy: "suspend" }
  )
