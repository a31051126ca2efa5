/**
 * Test tools built with the real `@volley/tools` API: a weather lookup, a slow tool with a
 * per-call delay, a non-idempotent `charge_card`, an approval-gated `delete_file` and an `echo`
 * that returns its text verbatim. Every handler records its runs in `Runs` (a plain per-test log).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Tool, Toolkit } from "@volley/tools"

/** A log of handler runs, shared by a test. */
export interface Runs {
  readonly calls: Array<{ readonly name: string; readonly callId: string; readonly args: unknown }>
  inFlight: number
  maxInFlight: number
  readonly finished: Array<string>
  readonly cleanedUp: Array<string>
}

/** A fresh log. */
export const makeRuns = (): Runs => ({ calls: [], inFlight: 0, maxInFlight: 0, finished: [], cleanedUp: [] })

const GetWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, tempC: Schema.Number })
})
const Slow = Tool.make("slow", {
  description: "Waits ms milliseconds, then returns the label",
  parameters: Schema.Struct({ label: Schema.String, ms: Schema.Number }),
  success: Schema.String
})
const ChargeCard = Tool.make("charge_card", {
  description: "Charges a card",
  parameters: Schema.Struct({ amount: Schema.Number }),
  success: Schema.String,
  idempotent: false
})
const DeleteFile = Tool.make("delete_file", {
  description: "Deletes a file",
  parameters: Schema.Struct({ path: Schema.String }),
  success: Schema.String,
  needsApproval: true
})
const Echo = Tool.make("echo", {
  description: "Returns the text",
  parameters: Schema.Struct({ text: Schema.String }),
  success: Schema.String
})

/** The test toolkit. */
export const TestTools = Toolkit.make(GetWeather, Slow, ChargeCard, DeleteFile, Echo)

/** The handler layer, logging into `runs`. */
export const testToolsLayer = (runs: Runs) =>
  TestTools.toLayer({
    get_weather: ({ city }, { callId }) =>
      Effect.sync(() => {
        runs.calls.push({ name: "get_weather", callId, args: { city } })
        return { city, tempC: city.length }
      }),
    slow: ({ label, ms }, { callId }) =>
      Effect.gen(function* () {
        runs.calls.push({ name: "slow", callId, args: { label, ms } })
        runs.inFlight++
        runs.maxInFlight = Math.max(runs.maxInFlight, runs.inFlight)
        yield* Effect.sleep(Duration.millis(ms))
        runs.finished.push(label)
        return label
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            runs.inFlight--
            runs.cleanedUp.push(label)
          })
        )
      ),
    charge_card: ({ amount }, { callId }) =>
      Effect.sync(() => {
        runs.calls.push({ name: "charge_card", callId, args: { amount } })
        return `charged ${amount}`
      }),
    delete_file: ({ path }, { callId }) =>
      Effect.sync(() => {
        runs.calls.push({ name: "delete_file", callId, args: { path } })
        return `deleted ${path}`
      }),
    echo: ({ text }, { callId }) =>
      Effect.sync(() => {
        runs.calls.push({ name: "echo", callId, args: { text } })
        return text
      })
  })
