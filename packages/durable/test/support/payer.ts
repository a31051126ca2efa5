/**
 * The approval-gated payer (`support/agent.ts`) run durably on the memory engine, for the approval
 * tests: the scripted model calls `pay({ amount: 5 })` as `p1`, then answers "paid". `paid` records
 * what the tool paid; `paused` completes with the first pause report. `extra` adds services (e.g.
 * `RunEvents.layerMemory` for streaming).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ApprovalLedger } from "@volley/agent"
import { DurableAgent, DurableEngine } from "@volley/durable"
import { ScriptedModel as M, TestClient } from "@volley/testing"
import { payer, payLayer } from "./agent.ts"

/** The payer's layer on the memory engine, what it paid, and its first pause. */
export const payerSetup = <ROut = never>(extra?: Layer.Layer<ROut>) =>
  Effect.gen(function* () {
    const paid: Array<number> = []
    const paused = yield* Deferred.make<DurableAgent.PauseReport>()
    const layer = DurableAgent.layer(payer, {
      onPause: (report) => Effect.asVoid(Deferred.succeed(paused, report))
    }).pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          TestClient.layer([M.functionCall("pay", { amount: 5 }, { callId: "p1" }), M.message("paid")]),
          payLayer((amount) => paid.push(amount)),
          DurableEngine.layerMemory,
          ApprovalLedger.layerMemory(),
          extra ?? (Layer.empty as Layer.Layer<ROut>)
        )
      )
    )
    return { paid, paused, layer }
  })
