/**
 * B01 chunk-split fuzz: every transcript (each recorded stream of `test/fixtures/conformance/sse`, one
 * per response, plus the scripted streams in `test/fixtures/sse`), as recorded and re-framed in
 * {LF, CRLF, CR} x {data-only, `event:` + `data:`}, is decoded unsplit once; then split in many ways,
 * every decode must give exactly the same events (and the same error, if any) with no U+FFFD.
 * Phases: one byte per chunk; every single-split offset of the scripted transcripts (LF framing
 * and as written); single splits of all other transcripts up to 75 % of the budget (every offset up
 * to 64 KiB, else offsets within 4 bytes of a line ending or multi-byte character plus a seeded
 * sample); then seeded fast-check multi-split partitions that shrink on failure. `FUZZ_SEED`
 * replays a run; `FUZZ_PARTITIONS` sets the total (default 60 000; the ~38 000 scripted single
 * splits always run, so a smaller value only trims the other phases, and the random phase keeps at
 * least 1 000 runs).
 * Decoding is synchronous (`makeEventDecoder`); a slice of the random phase goes through the
 * `decodeEvents` stream to keep the two paths equal.
 */
import { readdirSync, readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import {
  chunksOf,
  corpusFiles,
  corpusText,
  decodeChunks,
  decodeViaStream,
  type Frame,
  fingerprint,
  framesOf,
  type Framing,
  type LineEnding,
  render,
  responsesOf,
  splitAt,
  utf8
} from "./support/sse.ts"

const seed =
  process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
const budget = process.env.FUZZ_PARTITIONS !== undefined ? Number(process.env.FUZZ_PARTITIONS) : 60_000
const smallLimit = 64 * 1024

/** One transcript in one framing, with its unsplit decode. */
interface Job {
  readonly name: string
  readonly bytes: Uint8Array
  readonly scripted: boolean
  readonly expected: string
}

/** A small seeded PRNG (mulberry32) for the deterministic phases. */
const prng = (start: number) => {
  let state = start >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const framings: ReadonlyArray<readonly [LineEnding, Framing]> = [
  ["LF", "data"],
  ["LF", "event"],
  ["CRLF", "data"],
  ["CRLF", "event"],
  ["CR", "data"],
  ["CR", "event"]
]

const fixturesDir = new URL("./fixtures/sse/", import.meta.url)

const buildJobs = (): Array<Job> => {
  const sources: Array<{
    name: string
    raw: Uint8Array | undefined
    responses: Array<Array<Frame>>
    scripted: boolean
  }> = []
  for (const file of readdirSync(fixturesDir).sort()) {
    const raw = new Uint8Array(readFileSync(new URL(file, fixturesDir)))
    sources.push({
      name: `fixtures/${file}`,
      raw,
      responses: [framesOf(new TextDecoder().decode(raw))],
      scripted: true
    })
  }
  for (const file of corpusFiles("sse")) {
    const text = corpusText("sse", file)
    const responses = responsesOf(framesOf(text))
    // A file recording several turns back to back is one transcript per response; as-is only when single.
    sources.push({
      name: `conformance/${file}`,
      raw: responses.length === 1 ? utf8(text) : undefined,
      responses,
      scripted: false
    })
  }
  const jobs: Array<Job> = []
  const add = (name: string, bytes: Uint8Array, scripted: boolean) => {
    const expected = fingerprint(decodeChunks([bytes]))
    assert.notInclude(expected, "\uFFFD", `${name}: the unsplit decode already has U+FFFD`)
    jobs.push({ name, bytes, scripted, expected })
  }
  for (const source of sources) {
    if (source.raw !== undefined) add(`${source.name} (as recorded)`, source.raw, source.scripted)
    source.responses.forEach((frames, index) => {
      for (const [eol, framing] of framings) {
        add(`${source.name}#${index} ${eol}/${framing}`, utf8(render(frames, eol, framing)), source.scripted)
      }
    })
  }
  return jobs
}

/** Offsets within 4 bytes of a line ending or a non-ASCII byte (where splits are interesting). */
const interestingOffsets = (bytes: Uint8Array): Array<number> => {
  const marks = new Uint8Array(bytes.length + 1)
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!
    if (byte === 10 || byte === 13 || byte >= 0x80) {
      for (let k = Math.max(1, i - 3); k <= Math.min(bytes.length - 1, i + 4); k++) marks[k] = 1
    }
  }
  const offsets: Array<number> = []
  for (let k = 1; k < bytes.length; k++) if (marks[k] === 1) offsets.push(k)
  return offsets
}

describe("SSE chunk-split fuzz", () => {
  it("B01 any chunking decodes to the same events as the unsplit stream, with no U+FFFD", {
    timeout: 600_000
  }, async () => {
    const started = performance.now()
    console.log(`B01 fuzz: seed=${seed} partitions=${budget} (replay with FUZZ_SEED=${seed} FUZZ_PARTITIONS=${budget})`)
    const jobs = buildJobs()
    const scripted = jobs.filter((job) => job.scripted)
    const recorded = jobs.filter((job) => !job.scripted)
    const smallRecorded = recorded.filter((job) => job.bytes.length <= smallLimit)
    const random = prng(seed)
    let partitions = 0
    let bytesDecoded = 0
    const diffs: Array<string> = []
    const check = (job: Job, chunks: ReadonlyArray<Uint8Array>, label: string) => {
      partitions++
      bytesDecoded += job.bytes.length
      if (fingerprint(decodeChunks(chunks)) !== job.expected) diffs.push(`${job.name}: ${label}`)
    }

    // Phase 1: one byte per chunk, every scripted transcript and a seeded sample of the recorded ones.
    const oneByteRecorded = budget >= 500_000 ? recorded : recorded.filter(() => random() < 0.03)
    for (const job of [...scripted, ...oneByteRecorded]) check(job, chunksOf(job.bytes, 1), "one byte per chunk")

    // Phase 2a: every single-split offset of the scripted transcripts, as written and in LF framing.
    const exhaustive = scripted.filter((job) => job.name.endsWith("(as recorded)") || job.name.includes(" LF/"))
    for (const job of exhaustive) {
      for (let cut = 1; cut < job.bytes.length; cut++) check(job, splitAt(job.bytes, [cut]), `split at ${cut}`)
    }
    // Phase 2b: single splits of everything else, up to 75 % of the budget. Candidate offsets: every
    // offset of a transcript up to 64 KiB; beyond that, offsets near line endings and multi-byte
    // characters plus a seeded sample of the rest. Each transcript gets two splits, then the rest of
    // the share is spread so that every transcript costs about the same number of decoded bytes.
    const others = jobs.filter((job) => !exhaustive.includes(job))
    const share = Math.max(0, Math.floor(budget * 0.75) - partitions - 2 * others.length)
    const inverseSizes = others.reduce((sum, job) => sum + 1 / job.bytes.length, 0)
    for (const job of others) {
      const offsets = job.bytes.length <= smallLimit ? null : interestingOffsets(job.bytes)
      const count = offsets?.length ?? job.bytes.length - 1
      const picks = 2 + Math.round(share / inverseSizes / job.bytes.length)
      if (picks >= count && offsets === null) {
        for (let cut = 1; cut < job.bytes.length; cut++) check(job, splitAt(job.bytes, [cut]), `split at ${cut}`)
        continue
      }
      for (let k = 0; k < picks; k++) {
        const nearby = offsets !== null && k % 4 !== 3
        const cut = nearby ? offsets[Math.floor(random() * count)]! : 1 + Math.floor(random() * (job.bytes.length - 1))
        check(job, splitAt(job.bytes, [cut]), `split at ${cut}`)
      }
    }

    // Phase 3: seeded random multi-split partitions (fast-check: shrinks a failure to few, small cuts).
    const randomRuns = Math.max(1_000, budget - partitions)
    const streamEvery = 50
    let runIndex = 0
    const toCuts = (job: Job, raw: ReadonlyArray<number>): Array<number> =>
      [...new Set(raw.map((n) => 1 + (n % (job.bytes.length - 1))))].sort((a, b) => a - b)
    const property = fc.asyncProperty(
      fc.integer({ min: 0, max: 9 }),
      fc.nat(),
      fc.array(fc.nat(), { minLength: 1, maxLength: 48 }),
      async (kind, jobIndex, raw) => {
        // 0-6: scripted; 7-8: a recorded transcript up to 64 KiB; 9: any recorded transcript.
        const list = kind < 7 ? scripted : kind < 9 ? smallRecorded : recorded
        const job = list[jobIndex % list.length]!
        const chunks = splitAt(job.bytes, toCuts(job, raw))
        partitions++
        bytesDecoded += job.bytes.length
        const viaStream = runIndex++ % streamEvery === 0
        const outcome = viaStream ? await Effect.runPromise(decodeViaStream(chunks)) : decodeChunks(chunks)
        const same = fingerprint(outcome) === job.expected
        if (!same) diffs.push(`${job.name}: cuts ${JSON.stringify(toCuts(job, raw))}${viaStream ? " (stream)" : ""}`)
        return same
      }
    )
    let failure: unknown
    try {
      await fc.assert(property, { seed, numRuns: randomRuns })
    } catch (error) {
      failure = error
    }

    const seconds = (performance.now() - started) / 1000
    console.log(
      `B01 fuzz summary: seed=${seed} transcripts=${jobs.length} partitions=${partitions} diffs=${diffs.length} ` +
        `decoded=${(bytesDecoded / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s`
    )
    // The last diff is fast-check's shrunk counterexample when the random phase failed.
    if (diffs.length > 0)
      console.log(`B01 fuzz diffs (first 5, then last):\n${[...diffs.slice(0, 5), diffs.at(-1)].join("\n")}`)
    if (failure !== undefined) throw failure
    assert.deepStrictEqual(diffs.slice(0, 10), [], `seed ${seed}`)
    assert.isAtLeast(partitions, Math.min(budget, 50_000))
  })
})
