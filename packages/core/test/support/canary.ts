/**
 * G01 bookkeeping: every error the ResponsesClient tests produce is recorded here, and the canary
 * sweep (ResponsesClient.canary.test.ts and each test file's `afterAll`) renders each one every way
 * a user might (String, JSON, message, Cause.pretty) and looks for the canary key or its last 8
 * characters. Under `npm test` (VOLLEY_CANARY_DIR set) each recorded error is also written out for
 * the suite-wide sweep (scripts/canary-sweep.mjs).
 */
import { appendFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import * as Cause from "effect/Cause"
import { canaryKey } from "./fakeHttp.ts"

const recorded: Array<unknown> = []

const renderings = (error: unknown): Array<string> => [
  String(error),
  JSON.stringify(error),
  (error as { readonly message?: unknown }).message === undefined
    ? ""
    : String((error as { message: unknown }).message),
  Cause.pretty(Cause.fail(error))
]

/** Remembers an error for the sweep; under `npm test` also drops its renderings for the suite-wide sweep. */
export const recordError = (error: unknown): void => {
  recorded.push(error)
  const dir = process.env.VOLLEY_CANARY_DIR
  if (dir === undefined) return
  mkdirSync(dir, { recursive: true })
  appendFileSync(
    join(dir, `artefacts-core-${process.pid}.jsonl`),
    `${JSON.stringify({ kind: "error", renderings: renderings(error) })}\n`
  )
}

/** Every rendering of every recorded error that contains the canary key or its last 8 characters. */
export const canaryHits = (): Array<string> => {
  const needles = [canaryKey, canaryKey.slice(-8)]
  const hits: Array<string> = []
  for (const error of recorded) {
    for (const rendering of renderings(error)) {
      for (const needle of needles) if (rendering.includes(needle)) hits.push(rendering.slice(0, 200))
    }
  }
  return hits
}

/** How many errors were recorded (the sweep must not pass vacuously). */
export const recordedCount = (): number => recorded.length
