/**
 * The F02 soak scenario, shared by the fast-tier test (test/Soak.test.ts) and the full soak harness
 * (bench/soak/): run kinds by share (30 % interrupted mid-stream, successes, a 429 then a retry,
 * tool timeouts, malformed SSE), the scripted model that serves each kind, a tool that always
 * outlives its 50 ms timeout, and `oneRun(i)`.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ResponsesClient } from "@volley/core"
import { ScriptedModel as M } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import * as Agent from "../../src/Agent.ts"

/** What a run meets. */
export type Kind = "ok" | "rateLimited" | "interrupted" | "toolTimeout" | "malformed"
/** The kind of run `i`: 30 % interrupted mid-stream, the rest split between the other faults. */
export const kindOf = (i: number): Kind => {
  const slot = i % 10
  if (slot < 3) return "interrupted"
  if (slot < 5) return "ok"
  if (slot < 7) return "rateLimited"
  if (slot < 9) return "toolTimeout"
  return "malformed"
}

const Sleepy = Tool.make("sleepy", {
  description: "Sleeps far longer than its timeout",
  success: Schema.String,
  timeout: "50 millis"
})
/** The soak toolkit: `sleepy` only. */
export const SoakTools = Toolkit.make(Sleepy)
/** How many `sleepy` calls started and how many were interrupted by their timeout. */
export const sleepyCounts = { started: 0, interrupted: 0 }
/** Its handler layer. */
export const soakToolsLayer = SoakTools.toLayer({
  sleepy: () =>
    Effect.sync(() => sleepyCounts.started++).pipe(
      Effect.andThen(Effect.sleep("10 seconds")),
      Effect.as("late"),
      Effect.onInterrupt(() => Effect.sync(() => sleepyCounts.interrupted++))
    )
})

const longText = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ")

/** The scripted model: what each run gets depends on the kind named in its first message. */
/** A fresh scripted model (it remembers which runs already got their 429). */
export const soakModel = () => {
  const rateLimited = new Set<string>()
  return M.responder((body) => {
    const input = body.input
    const first = Array.isArray(input) ? (input[0] as { readonly content?: unknown }) : undefined
    const id = typeof first?.content === "string" ? first.content : String(input)
    const answered = Array.isArray(input) && input.some((item) => item.type === "function_call_output")
    const kind = id.split(":")[0] as Kind
    switch (kind) {
      case "rateLimited":
        if (rateLimited.has(id)) return M.message(`done ${id}`)
        rateLimited.add(id)
        return M.httpError(429, { headers: { "retry-after-ms": "0" } })
      case "interrupted":
        return M.withFault(M.message(longText), { chunkDelay: "5 millis" })
      case "toolTimeout":
        return answered ? M.message(`done ${id}`) : M.functionCall("sleepy", {})
      case "malformed":
        return M.withFault(M.message("a b c d"), { malformedFrameAt: 3 })
      default:
        return M.message(`done ${id}`)
    }
  })
}

/** The soak agent. */
export const assistant = Agent.make({ name: "soak", model: "m", toolkit: SoakTools })

/**
 * One run of the given kind. Interrupted runs stop consuming after their first text delta;
 * malformed ones stream (the fault is in the SSE); the rest alternate between `run` and `stream`.
 */
export const oneRun = (
  i: number
): Effect.Effect<unknown, unknown, Layer.Success<typeof soakToolsLayer> | ResponsesClient.ResponsesClient> => {
  const kind = kindOf(i)
  const id = `${kind}:${i}`
  if (kind === "interrupted")
    return assistant.stream(id).pipe(
      Stream.takeUntil((event) => event._tag === "TextDelta"),
      Stream.runDrain
    )
  if (kind === "malformed" || i % 2 === 0) return Stream.runDrain(assistant.stream(id))
  return assistant.run(id)
}
