/**
 * `RunEvents`: the live event channel of durable runs. A run whose `DurableAgent.layer` finds this
 * service streams its model calls and publishes every `AgentEvent` under its `runId`; any process
 * on the same channel subscribes by `runId` (`DurableAgent.attach`). `layerMemory` is one process;
 * `layerPostgres` is Postgres `LISTEN`/`NOTIFY` on the durable database (one channel per run), so a
 * client-only node re-attaches to a run held by any runner with nothing but `DATABASE_URL`.
 * Gotcha: events are live only, never stored: a subscriber sees what is published after it
 * subscribed, and an event over `maxPayloadBytes` is replaced by a `Warning` naming it.
 */
import { createHash } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { AgentEvent } from "@volley/agent"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** The live events of durable runs: publish under a run id, subscribe by run id. */
export class RunEvents extends Context.Service<
  RunEvents,
  {
    /** Publishes events of a run to its current subscribers (best effort: a failure is dropped, never the run's). */
    readonly publish: (runId: string, events: ReadonlyArray<AgentEvent.AgentEvent>) => Effect.Effect<void>
    /** Subscribes now (the subscription is live once this succeeds) and gives the run's events from then on. */
    readonly subscribe: (runId: string) => Effect.Effect<Stream.Stream<AgentEvent.AgentEvent>, never, Scope.Scope>
  }
>()("@volley/durable/RunEvents") {}

/** Postgres caps a `NOTIFY` payload below 8,000 bytes; batches are cut to stay under this. */
export const maxPayloadBytes = 7_000

/** Subscriber buffer (events); a subscriber this far behind loses the oldest (live view, not a log). */
export const subscriberBuffer = 4_096

/** One process: an in-memory `PubSub` shared by every run. */
export const layerMemory: Layer.Layer<RunEvents> = Layer.effect(
  RunEvents,
  Effect.gen(function* () {
    const hub = yield* PubSub.sliding<{ readonly runId: string; readonly event: AgentEvent.AgentEvent }>(
      subscriberBuffer
    )
    return RunEvents.of({
      publish: (runId, events) =>
        Effect.asVoid(
          PubSub.publishAll(
            hub,
            events.map((event) => ({ runId, event }))
          )
        ),
      subscribe: (runId) =>
        Effect.map(PubSub.subscribe(hub), (subscription) =>
          Stream.fromSubscription(subscription).pipe(
            Stream.filter((entry) => entry.runId === runId),
            Stream.map((entry) => entry.event)
          )
        )
    })
  })
)

/** The `LISTEN` channel of a run: a hash of its id (channel names are identifiers of at most 63 bytes). */
export const channelOf = (runId: string): string =>
  `volley_run_${createHash("sha256").update(runId).digest("hex").slice(0, 40)}`

const EventsJson = Schema.fromJsonString(Schema.Array(AgentEvent.AgentEvent))
const encodeEvent = Schema.encodeSync(Schema.fromJsonString(AgentEvent.AgentEvent))
const decodeEvents = Schema.decodeUnknownEffect(EventsJson)

/** Cuts encoded events into JSON-array payloads of at most `maxPayloadBytes` (an oversized event becomes a `Warning`). */
export const payloads = (events: ReadonlyArray<AgentEvent.AgentEvent>): ReadonlyArray<string> => {
  const out: Array<string> = []
  let batch: Array<string> = []
  let bytes = 2
  for (const event of events) {
    let json = encodeEvent(event)
    if (Buffer.byteLength(json) + 2 > maxPayloadBytes)
      json = encodeEvent({
        _tag: "Warning",
        turn: "turn" in event && typeof event.turn === "number" ? event.turn : 0,
        kind: "OutputMismatch",
        message: `a ${event._tag} event over ${maxPayloadBytes} bytes was not sent live`,
        differences: []
      })
    const size = Buffer.byteLength(json) + 1
    if (batch.length > 0 && bytes + size > maxPayloadBytes) {
      out.push(`[${batch.join(",")}]`)
      batch = []
      bytes = 2
    }
    batch.push(json)
    bytes += size
  }
  if (batch.length > 0) out.push(`[${batch.join(",")}]`)
  return out
}

/** Several processes: `NOTIFY` on the run's channel, `LISTEN` to subscribe (needs the durable `PgClient`). */
export const layerPostgres: Layer.Layer<RunEvents, never, PgClient.PgClient> = Layer.effect(
  RunEvents,
  Effect.gen(function* () {
    const pg = yield* PgClient.PgClient
    return RunEvents.of({
      publish: (runId, events) => {
        const channel = channelOf(runId)
        return Effect.forEach(payloads(events), (payload) => pg.notify(channel, payload), { discard: true }).pipe(
          Effect.catchCause(() => Effect.void)
        )
      },
      subscribe: (runId) =>
        pg.listen(channelOf(runId)).pipe(
          Effect.map((queue) =>
            Stream.fromQueue(queue).pipe(
              // a lost connection ends the stream (the caller may subscribe again)
              Stream.catchCause(() => Stream.empty),
              Stream.mapEffect((notification) =>
                Effect.orElseSucceed(
                  decodeEvents(notification.payload),
                  () => [] as ReadonlyArray<AgentEvent.AgentEvent>
                )
              ),
              Stream.flattenIterable
            )
          ),
          // no listener connection: an empty stream rather than a failed caller
          Effect.orElseSucceed(() => Stream.empty)
        )
    })
  })
)

/** Ends a run's event stream after its last `RunEnd` (a pause for approval is not the end). */
export const untilRunEnd = <E, R>(
  events: Stream.Stream<AgentEvent.AgentEvent, E, R>
): Stream.Stream<AgentEvent.AgentEvent, E, R> =>
  Stream.takeUntil(events, (event) => event._tag === "RunEnd" && event.stopReason._tag !== "ApprovalRequired")
