/**
 * `src/gc-mode.ts`: the `--trace-gc-nvp` summary, on fixed lines and on one real driver process.
 */
import { execFile } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { type GcSample, summarise } from "../src/gc-mode.ts"

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..")

describe("gc-mode", () => {
  it("sums promoted bytes and pauses of scavenges, counts mark-compacts, reads the harness line", () => {
    const sample = summarise([
      "[1:0x1]   89 ms: pause=0.7 mutator=1.0 gc=s reduce_memory=0 promoted=1048576 new_space_survived=1",
      "[1:0x1]   96 ms: pause=1.3 mutator=1.0 gc=s reduce_memory=0 promoted=2097152 new_space_survived=1",
      "[1:0x1]  273 ms: pause=2.9 mutator=9.0 gc=mc reduce_memory=0 promoted=4194304",
      '{"driver":"volley","cpuMsPerRun":0.875,"runs":10}',
      "something else"
    ])
    assert.deepStrictEqual(sample, {
      promotedMiB: 3,
      scavenges: 2,
      scavengePauseMs: 2,
      markCompacts: 1,
      cpuMsPerRun: 0.875
    })
  })

  it("one Volley process at sse-c64 sizes reports scavenges, promotion and its CPU per run", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["src/gc-mode.ts", "--samples", "1", "--runs", "200", "--json"],
      { cwd: benchDir }
    )
    const [sample] = JSON.parse(stdout.trim().split("\n").at(-1) ?? "[]") as ReadonlyArray<GcSample>
    assert.isDefined(sample)
    assert.isAbove(sample!.scavenges, 0)
    assert.isAbove(sample!.promotedMiB, 0)
    assert.isAbove(sample!.cpuMsPerRun, 0)
  }, 60_000)
})
