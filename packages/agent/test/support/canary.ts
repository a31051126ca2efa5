/**
 * The canary API key of the agent tests (RELIABILITY G01): `VOLLEY_CANARY_KEY` when `npm test`
 * set one for the whole suite (scripts/test.mjs, swept afterwards by scripts/canary-sweep.mjs),
 * otherwise a fresh `sk-volley-CANARY-<random>` per test process.
 */

/** The key every agent test that needs one uses; it must never show up in logs, errors or spans. */
export const canaryKey: string =
  process.env.VOLLEY_CANARY_KEY ?? `sk-volley-CANARY-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`
