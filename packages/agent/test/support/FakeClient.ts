/**
 * A fake `ResponsesClient` for unit tests: no HTTP, answers from a script of `@volley/testing`
 * turns (rendered with the same code as the local server) or scripted failures, and records every
 * request as its JSON text at call time (for byte-stability assertions) with its call options.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { ResponsesClient, ResponsesError, ResponsesSchema } from "@volley/core"
import { ScriptedModel } from "@volley/testing"

/** One scripted answer. */
export type FakeStep =
  | ScriptedModel.Turn
  | ((request: ResponsesSchema.CreateRequest, index: number) => ScriptedModel.Turn)
  | { readonly _tag: "Fail"; readonly error: (attempt: number) => ResponsesError.ResponsesError }
  | {
      readonly _tag: "Drop"
      readonly after: number
      readonly turn: ScriptedModel.Turn
      readonly error: (attempts: number) => ResponsesError.ResponsesError
    }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Delay"; readonly ms: number; readonly turn: ScriptedModel.Turn }

type Resolved = Exclude<FakeStep, (request: ResponsesSchema.CreateRequest, index: number) => ScriptedModel.Turn>

/** A request as the fake saw it. */
export interface Seen {
  readonly json: string
  readonly request: ResponsesSchema.CreateRequest
  readonly options: ResponsesClient.CallOptions | undefined
}

/** The fake client and what it saw. */
export interface Fake {
  readonly client: ResponsesClient.ResponsesClient["Service"]
  readonly seen: Array<Seen>
  readonly layer: Layer.Layer<ResponsesClient.ResponsesClient>
}

const ids = () => {
  const counters = new Map<string, number>()
  return {
    next: (kind: string) => {
      const n = (counters.get(kind) ?? 0) + 1
      counters.set(kind, n)
      return `${kind}_${n}`
    }
  }
}

/** A fake client serving `steps` in order; a request past the end dies (a test bug). */
export const makeFake = (steps: ReadonlyArray<FakeStep>, options?: { readonly recordJson?: boolean }): Fake => {
  const recordJson = options?.recordJson ?? true
  const seen: Array<Seen> = []
  const idGenerator = ids()
  const next = (request: ResponsesSchema.CreateRequest, options: ResponsesClient.CallOptions | undefined): Resolved => {
    const index = seen.length
    seen.push({ json: recordJson ? JSON.stringify(request) : "", request, options })
    const step = steps[index]
    if (step === undefined) throw new Error(`fake client: no step for request ${index + 1}`)
    return typeof step === "function" ? step(request, index) : step
  }
  const failedError = (response: { id: string; error?: { message?: string | null } | null }) =>
    new ResponsesError.ResponseFailed({
      message: response.error?.message ?? "failed",
      retryable: false,
      attempts: 1,
      causes: [],
      responseId: response.id
    })
  const client = ResponsesClient.ResponsesClient.of({
    create: (request, options) =>
      Effect.suspend(() => {
        const step = next(request, options)
        if (step._tag === "Fail") return Effect.fail(step.error((options?.previousAttempts ?? 0) + 1))
        if (step._tag === "Hang") return Effect.never
        if (step._tag === "Delay")
          return Effect.sleep(step.ms).pipe(
            Effect.as(
              ResponsesSchema.decodeResponseUnsafe(ScriptedModel.toResponse(step.turn, request, { idGenerator }))
            )
          )
        const turn = step._tag === "Drop" ? step.turn : step
        const response = ResponsesSchema.decodeResponseUnsafe(ScriptedModel.toResponse(turn, request, { idGenerator }))
        return response.status === "failed" ? Effect.fail(failedError(response)) : Effect.succeed(response)
      }),
    stream: (request, options) =>
      Stream.unwrap(
        Effect.sync((): Stream.Stream<ResponsesSchema.StreamEvent, ResponsesError.ResponsesError> => {
          const step = next(request, options)
          const attempts = (options?.previousAttempts ?? 0) + 1
          if (step._tag === "Fail") return Stream.fail(step.error(attempts))
          if (step._tag === "Hang") return Stream.never
          if (step._tag === "Delay") return Stream.die("Delay steps are for create only")
          const turn = step._tag === "Drop" ? step.turn : step
          const events = ScriptedModel.toEvents(turn, request, { idGenerator }).map((event) =>
            ResponsesSchema.decodeStreamEventUnsafe(event)
          )
          if (step._tag === "Drop")
            return Stream.concat(Stream.fromIterable(events.slice(0, step.after)), Stream.fail(step.error(attempts)))
          return Stream.fromIterable(events)
        })
      )
  })
  return { client, seen, layer: Layer.succeed(ResponsesClient.ResponsesClient, client) }
}

/** The input items of the n-th request, as JSON strings. */
export const inputJson = (seen: Seen): Array<string> =>
  (Array.isArray(seen.request.input) ? seen.request.input : []).map((item) => JSON.stringify(item))
