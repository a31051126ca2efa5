/**
 * G01 bookkeeping: every error the ResponsesClient tests produce is recorded here, and the canary
 * sweep (ResponsesClient.canary.test.ts and each test file's `afterAll`) renders each one every way
 * a user might (String, JSON, message, Cause.pretty) and looks for the canary key or its last 8
 * characters.
 */
import * as Cause from "effect/Cause"
import { canaryKey } from "./fakeHttp.ts"

const recorded: Array<unknown> = []

/** Remembers an error for the sweep. */
export const recordError = (error: unknown): void => {
  recorded.push(error)
}

/** Every rendering of every recorded error that contains the canary key or its last 8 characters. */
export const canaryHits = (): Array<string> => {
  const needles = [canaryKey, canaryKey.slice(-8)]
  const hits: Array<string> = []
  for (const error of recorded) {
    const renderings = [
      String(error),
      JSON.stringify(error),
      (error as { readonly message?: unknown }).message === undefined
        ? ""
        : String((error as { message: unknown }).message),
      Cause.pretty(Cause.fail(error))
    ]
    for (const rendering of renderings) {
      for (const needle of needles) if (rendering.includes(needle)) hits.push(rendering.slice(0, 200))
    }
  }
  return hits
}

/** How many errors were recorded (the sweep must not pass vacuously). */
export const recordedCount = (): number => recorded.length
