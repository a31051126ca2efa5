import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { AgentKnobs } from "@volley/agent"
import { ScriptedModel as M, TestClient } from "@volley/testing"
import { DurableAgent, DurableEngine, DurablePostgres, SqlApprovalLedger } from "@volley/durable"
import * as StepStore from "../src/internal/stepStore.ts"
import { payer, payLayer } from "./support/agent.ts"
import { tempPostgres } from "./support/postgres.ts"

const Value = Schema.Struct({ n: Schema.Number })

describe("tool side-effect classes and the SQL ledger (Postgres)", () => {
  it.live(
    "transactional: the write and the recorded result commit together; a re-run returns the record and writes nothing; a failed run writes nothing",
    () =>
      Effect.gen(function* () {
        const server = yield* tempPostgres
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* StepStore.migrate(sql)
          yield* sql`CREATE TABLE writes (step text)`
          let runs = 0
          const tool = (key: string) =>
            Effect.gen(function* () {
              runs++
              yield* sql`INSERT INTO writes VALUES (${key})`
              return { n: runs }
            }).pipe(Effect.orDie)
          const first = yield* StepStore.transactional(sql, "k1", tool("k1"), Value)
          // the engine lost the result (crash after commit): the step runs again, the record answers
          const again = yield* StepStore.transactional(sql, "k1", tool("k1"), Value)
          assert.deepStrictEqual(again, first)
          assert.strictEqual(runs, 1)
          // a crash inside the transaction (here: a defect after the write) leaves no write behind
          const crashed = yield* Effect.exit(
            StepStore.transactional(sql, "k2", Effect.andThen(tool("k2"), Effect.die("crash")), Value)
          )
          assert.strictEqual(crashed._tag, "Failure")
          yield* StepStore.transactional(sql, "k2", tool("k2"), Value)
          const rows = yield* sql<{ readonly step: string }>`SELECT step FROM writes ORDER BY step`
          assert.deepStrictEqual(
            rows.map((row) => row.step),
            ["k1", "k2"]
          )
        }).pipe(Effect.provide(DurablePostgres.layer(server.url)))
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "unsafe: a call whose process died mid-run is not run again; it answers the unknown-outcome result instead",
    () =>
      Effect.gen(function* () {
        const server = yield* tempPostgres
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* StepStore.migrate(sql)
          let runs = 0
          const step = Effect.sync(() => ({ n: ++runs }))
          // the first process claimed the step and died before recording a result
          yield* sql`INSERT INTO ${sql(StepStore.table)} (step_key, state) VALUES ('u1', 'started')`
          const answer = yield* StepStore.atMostOnce(sql, "u1", step, Value, Effect.succeed({ n: -1 }))
          assert.deepStrictEqual(answer, { n: -1 })
          assert.strictEqual(runs, 0)
          // a completed unsafe step answers its recorded result
          const done = yield* StepStore.atMostOnce(sql, "u2", step, Value, Effect.succeed({ n: -1 }))
          const replay = yield* StepStore.atMostOnce(sql, "u2", step, Value, Effect.succeed({ n: -1 }))
          assert.deepStrictEqual([done, replay], [{ n: 1 }, { n: 1 }])
          assert.strictEqual(runs, 1)
          // what the model is told: a valid tool step result (a failure output, not a run error)
          const told = Schema.decodeUnknownSync(AgentKnobs.ToolStep.success)(StepStore.outcomeUnknown("c9", "pay"))
          assert.strictEqual(told.outcome._tag, "Failure")
          assert.include(String(told.output.output), "outcome_unknown")
        }).pipe(Effect.provide(DurablePostgres.layer(server.url)))
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "SqlApprovalLedger: a nonce is consumed once, also when ten consumers race",
    () =>
      Effect.gen(function* () {
        const server = yield* tempPostgres
        yield* Effect.gen(function* () {
          yield* SqlApprovalLedger.migrate
          const ledger = yield* SqlApprovalLedger.make
          const entry = { nonce: "n1", runId: "r", callId: "c" }
          assert.deepStrictEqual([yield* ledger.consume(entry), yield* ledger.consume(entry)], [true, false])
          const raced = yield* Effect.all(
            Array.from({ length: 10 }, () => ledger.consume({ ...entry, nonce: "n2" })),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(raced.filter((first) => first).length, 1)
        }).pipe(Effect.provide(DurablePostgres.layer(server.url)))
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a paused run holds no process: paused in one lifetime, approved twice from another, finished once",
    () =>
      Effect.gen(function* () {
        const server = yield* tempPostgres
        const paid: Array<number> = []
        const lifetime = <A, E, R>(
          effect: Effect.Effect<A, E, R>,
          onPause?: (report: DurableAgent.PauseReport) => Effect.Effect<void>
        ) =>
          effect.pipe(
            Effect.provide(
              DurableAgent.layer(payer, { onPause, tools: { pay: "unsafe" } }).pipe(
                Layer.provideMerge(
                  Layer.mergeAll(
                    TestClient.layer({
                      fallback: M.responder((request) =>
                        JSON.stringify(request.input).includes("function_call_output")
                          ? M.message("paid")
                          : M.functionCall("pay", { amount: 7 }, { callId: "p1" })
                      )
                    }),
                    payLayer((amount) => paid.push(amount)),
                    DurableEngine.layerPostgres(),
                    SqlApprovalLedger.layer
                  ).pipe(Layer.provideMerge(DurablePostgres.layer(server.url)))
                )
              )
            ),
            Effect.scoped
          )
        const paused = yield* Deferred.make<void>()
        yield* lifetime(
          Effect.gen(function* () {
            yield* DurableAgent.start(payer, "pay 7", { runId: "pg-pay" })
            yield* Deferred.await(paused)
          }),
          () => Deferred.succeed(paused, undefined).pipe(Effect.asVoid)
        )
        assert.deepStrictEqual(paid, [])
        const [answers, result] = yield* lifetime(
          Effect.gen(function* () {
            const answers = yield* Effect.all(
              [
                DurableAgent.approve(payer, { runId: "pg-pay", callId: "p1" }),
                DurableAgent.approve(payer, { runId: "pg-pay", callId: "p1" })
              ],
              { concurrency: "unbounded" }
            )
            return [answers, yield* DurableAgent.run(payer, "pay 7", { runId: "pg-pay" })] as const
          })
        )
        assert.deepStrictEqual(answers.map((answer) => answer._tag).sort(), ["AlreadyDecided", "Recorded"])
        assert.strictEqual(result.output, "paid")
        assert.deepStrictEqual(paid, [7])
        // the step key was recorded by the unsafe class
        const rows = yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          return yield* sql<{ readonly state: string }>`SELECT state FROM ${sql(StepStore.table)}`
        }).pipe(Effect.provide(DurablePostgres.layer(server.url)))
        assert.deepStrictEqual(
          rows.map((row) => row.state),
          ["done"]
        )
      }).pipe(Effect.scoped),
    120_000
  )
})
