/**
 * Every example program, run as a user would with `HAOAI_BASE_URL` pointing at a remote API and no
 * `HAOAI_API_KEY`: each must stop with exactly one line on stderr naming the missing key, no stack
 * trace, and a non-zero exit code. (Without `HAOAI_BASE_URL` they fall back to volley-local; their own
 * tests cover that.) Nothing is sent anywhere: the client refuses before the first request. Not listed:
 * `quickstart/main.ts` (`npm run demo`) picks volley-local whenever no key is set, `typed-tools` calls
 * no model, and `new-project/durable.ts` is only type-checked.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { examplePath, runScript } from "./process.ts"

const stateDir = mkdtempSync(join(tmpdir(), "volley-missing-key-"))
const state = join(stateDir, "run.json")
afterAll(() => rmSync(stateDir, { recursive: true, force: true }))
const programs: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["readme/main.ts", []],
  ["new-project/main.ts", []],
  ["tracing/main.ts", []],
  ["structured-output/main.ts", ["Plan 2 days in Lisbon"]],
  ["sub-agents/main.ts", []],
  ["workflow/main.ts", ["tea"]],
  ["streaming-tui/main.ts", ["Weather in Oslo?"]],
  ["approval/main.ts", ["start", "--state", state, "Delete old-report.pdf from the workspace"]],
  ["otlp/main.ts", []],
  ["effect-ai/main.ts", ["Weather in Oslo?"]],
  ["support-triage/main.ts", ["Where is order 8?"]],
  ["mcp/main.ts", ["Forecast for Oslo?"]],
  ["new-project/more.ts", []],
  // the key is checked before the embedded Postgres starts; --data points it away from the repository
  ["chat-session/main.ts", ["--data", join(stateDir, "chat-pg"), "hello"]],
  ["durable-workflow/main.ts", ["--data-dir", join(stateDir, "durable-pg"), "--run-id", "missing-key", "Weather?"]]
]

describe("a missing key", () => {
  for (const [program, args] of programs)
    it.live(`${program}: one line, no stack trace, non-zero exit`, () =>
      Effect.gen(function* () {
        const ran = yield* runScript(examplePath(program), args, { HAOAI_BASE_URL: "https://api.example.invalid/v1" })
        assert.notStrictEqual(ran.code, 0)
        const lines = ran.stderr.split("\n").filter((line) => line.trim() !== "")
        assert.strictEqual(lines.length, 1, ran.stderr)
        assert.include(lines[0], "HAOAI_API_KEY is not set")
        assert.notMatch(ran.stderr + ran.stdout, /^\s+at /m)
      })
    )
})
