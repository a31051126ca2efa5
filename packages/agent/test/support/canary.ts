/**
 * The canary API key of the agent tests (docs/reliability.md G01): `VOLLEY_CANARY_KEY` when `npm test`
 * set one for the whole suite (scripts/test.mjs, swept afterwards by scripts/canary-sweep.mjs),
 * otherwise a fresh `sk-volley-CANARY-<random>` per test process. `dropArtefact` hands what a test
 * produced (rendered errors, spans, events) to that suite-wide sweep.
 */
import { appendFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"

/** The key every agent test that needs one uses; it must never show up in logs, errors or spans. */
export const canaryKey: string =
  process.env.VOLLEY_CANARY_KEY ?? `sk-volley-CANARY-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`

/** The suite-wide sweep's directory, when `npm test` runs the sweep. */
export const sweepDir: string | undefined = process.env.VOLLEY_CANARY_DIR

/** Writes one rendering (an error, a span, an event…) for the suite-wide sweep; a no-op outside `npm test`. */
export const dropArtefact = (label: string, text: string): void => {
  if (sweepDir === undefined) return
  mkdirSync(sweepDir, { recursive: true })
  appendFileSync(join(sweepDir, `artefacts-agent-${process.pid}.jsonl`), `${JSON.stringify({ label, text })}\n`)
}
