/**
 * What the local server does with one request: a `Handler` turns a decoded request into a `Plan`,
 * a stream of low-level `Action`s (sleep, send headers, write bytes, end, reset the socket, stall).
 * The scripted model, the volley-local model, record and replay are all handlers, and the same plan
 * runs on a real socket (`ResponsesServer.layer`) or in memory (`ResponsesServer.layerHttpClient`).
 * Gotcha: `Sleep` actions use the Effect clock of the layer, so under `TestClock` they wait for
 * `TestClock.adjust`; over TCP, write boundaries are best effort (the in-memory client keeps them exact).
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { RecordedRequest } from "./RecordedRequest.ts"
import type { ResponsesSchema } from "@volley/core"

/** Wait before the next action (follows the layer's clock, so `TestClock` in tests). */
export interface Sleep {
  readonly _tag: "Sleep"
  readonly duration: Duration.Input
}

/** Send the status line and headers. */
export interface Head {
  readonly _tag: "Head"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
}

/** Write one chunk of the body. */
export interface Write {
  readonly _tag: "Write"
  readonly chunk: Uint8Array
}

/** End the body cleanly. */
export interface End {
  readonly _tag: "End"
}

/** Destroy the connection with a TCP RST (before or after headers). */
export interface Reset {
  readonly _tag: "Reset"
}

/** Never do anything again (until the client goes away). */
export interface Stall {
  readonly _tag: "Stall"
}

/** One low-level step of answering a request. */
export type Action = Sleep | Head | Write | End | Reset | Stall

/** The answer to one request, as a stream of actions. */
export type Plan = Stream.Stream<Action>

/** A script, replay or record run was not used as written (unused turns, extra or unmatched requests). */
export class ScriptIncomplete extends Data.TaggedError("ScriptIncomplete")<{
  readonly message: string
  readonly unusedTurns: number
  readonly extraRequests: number
  readonly problems: ReadonlyArray<string>
}> {}

/** Answers requests; `check` reports what `assertComplete` should fail with, if anything. */
export interface Handler {
  readonly handle: (body: ResponsesSchema.CreateRequest, request: RecordedRequest) => Effect.Effect<Plan>
  readonly check: Effect.Effect<ScriptIncomplete | undefined>
}

const encoder = new TextEncoder()

/** A `Write` action from a string (UTF-8) or bytes. */
export const write = (chunk: string | Uint8Array): Write => ({
  _tag: "Write",
  chunk: typeof chunk === "string" ? encoder.encode(chunk) : chunk
})

/** A plan from a list of actions. */
export const plan = (actions: Iterable<Action>): Plan => Stream.fromIterable(actions)

/** A complete JSON answer: headers, body, end. */
export const jsonActions = (
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>
): ReadonlyArray<Action> => {
  const bytes = encoder.encode(typeof body === "string" ? body : JSON.stringify(body))
  return [
    {
      _tag: "Head",
      status,
      headers: { "content-type": "application/json", "content-length": String(bytes.length), ...headers }
    },
    { _tag: "Write", chunk: bytes },
    { _tag: "End" }
  ]
}
