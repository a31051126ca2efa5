/**
 * The table behind the `transactional` and `unsafe` tool classes, `volley_durable_steps` (one row
 * per step key). `transactional` runs the tool and records its encoded result in one transaction,
 * so the tool's own writes through the same `SqlClient` land exactly once across a crash: a re-run
 * finds the row and returns the recorded result without running the tool. `unsafe` commits a
 * `started` mark before the tool runs; a re-run that finds the mark without a result does not run
 * the tool again and answers with `unknown` instead (at most once). Gotcha: the engine also stores
 * every step; this table only closes the window between a tool's effect and that store.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/** The table's name. */
export const table = "volley_durable_steps"

/** Creates the table if it is missing. */
export const migrate = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
    step_key text PRIMARY KEY,
    state text NOT NULL,
    result text,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`.pipe(Effect.asVoid)

interface Row {
  readonly state: string
  readonly result: string | null
}

const decodeWith =
  <A>(codec: Schema.Codec<A, unknown>) =>
  (text: string): Effect.Effect<A> =>
    Schema.decodeUnknownEffect(Schema.fromJsonString(Schema.toCodecJson(codec)))(text).pipe(Effect.orDie)

const encodeWith =
  <A>(codec: Schema.Codec<A, unknown>) =>
  (value: A): Effect.Effect<string> =>
    Schema.encodeEffect(Schema.fromJsonString(Schema.toCodecJson(codec)))(value).pipe(Effect.orDie)

/** Runs `step` and records its result in one transaction; a recorded result is returned without running it. */
export const transactional = <A, E, R>(
  sql: SqlClient.SqlClient,
  key: string,
  step: Effect.Effect<A, E, R>,
  codec: Schema.Codec<A, unknown>
): Effect.Effect<A, E, R> =>
  sql
    .withTransaction(
      Effect.gen(function* () {
        const rows = yield* sql<Row>`SELECT state, result FROM ${sql(table)} WHERE step_key = ${key} FOR UPDATE`
        const found = rows[0]
        if (found !== undefined && found.result !== null) return yield* decodeWith(codec)(found.result)
        const value = yield* step
        const text = yield* encodeWith(codec)(value)
        yield* sql`INSERT INTO ${sql(table)} (step_key, state, result) VALUES (${key}, 'done', ${text})
          ON CONFLICT (step_key) DO UPDATE SET state = 'done', result = EXCLUDED.result, updated_at = now()`
        return value
      })
    )
    .pipe(Effect.catchTag("SqlError", (error) => Effect.die(error)))

/**
 * Runs `step` at most once: a committed `started` mark first, the result after. A mark without a
 * result (the process died while the tool ran) answers `unknown` and never runs the tool again.
 */
export const atMostOnce = <A, E, R>(
  sql: SqlClient.SqlClient,
  key: string,
  step: Effect.Effect<A, E, R>,
  codec: Schema.Codec<A, unknown>,
  unknown: Effect.Effect<A>
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const claimed = yield* sql<{ readonly step_key: string }>`INSERT INTO ${sql(table)} (step_key, state)
      VALUES (${key}, 'started') ON CONFLICT (step_key) DO NOTHING RETURNING step_key`
    if (claimed.length === 0) {
      const rows = yield* sql<Row>`SELECT state, result FROM ${sql(table)} WHERE step_key = ${key}`
      const found = rows[0]
      return found !== undefined && found.result !== null ? yield* decodeWith(codec)(found.result) : yield* unknown
    }
    const value = yield* step
    const text = yield* encodeWith(codec)(value)
    yield* sql`UPDATE ${sql(table)} SET state = 'done', result = ${text}, updated_at = now() WHERE step_key = ${key}`
    return value
  }).pipe(Effect.catchTag("SqlError", (error) => Effect.die(error)))

/**
 * Marks a streamed model step as started; answers true when a mark was already there, i.e. an
 * earlier process started this step and died before its result was stored (a restart mid-stream).
 */
export const markStarted = (sql: SqlClient.SqlClient, key: string): Effect.Effect<boolean> =>
  sql<{ readonly step_key: string }>`INSERT INTO ${sql(table)} (step_key, state)
    VALUES (${key}, 'streaming') ON CONFLICT (step_key) DO NOTHING RETURNING step_key`.pipe(
    Effect.map((rows) => rows.length === 0),
    Effect.catchTag("SqlError", (error) => Effect.die(error))
  )

/** The output a cut-off `unsafe` call gets instead of a second run. */
export const outcomeUnknown = (callId: string, name: string) => ({
  callId,
  name,
  output: {
    type: "function_call_output",
    call_id: callId,
    output: JSON.stringify({
      error: {
        type: "outcome_unknown",
        message:
          "The process running this call stopped before its result was stored. It was not run again: check whether it took effect before retrying."
      }
    })
  },
  // the closest of the tool error tags: the call was cut off and its outcome is not known
  outcome: { _tag: "Failure", error: { _tag: "ToolCancelled" } },
  isArgumentError: false
})
