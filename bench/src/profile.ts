/**
 * Summarises a V8 `.cpuprofile` (from `pnpm bench --cpu-prof volley` or `node --cpu-prof`): the top
 * functions by self time, and self time grouped by package (effect, @volley/core, undici, node internals…),
 * so an optimisation can be aimed and its before/after recorded in `bench/README.md`.
 * Usage: `node src/profile.ts <file.cpuprofile> [--top N] [--filter text]`.
 * Gotcha: the profile covers the whole process, warm-up and module loading included.
 */
import { readFileSync } from "node:fs"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const groupOf = (url: string, name: string): string => {
  if (url === "") return name.startsWith("(") ? name : "(native)"
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pnpm !== null) return pnpm[1]!
  const workspace = /\/packages\/([^/]+)\/src\//.exec(url)
  if (workspace !== null) return `@volley/${workspace[1]}`
  if (url.includes("/bench/src/")) return "bench"
  if (url.startsWith("node:")) return "node:internal"
  return url
}

/** Self time per function and per package of a profile. */
export const summarise = (profile: Profile) => {
  const self = new Map<number, number>()
  profile.samples.forEach((id, index) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0))
  })
  const byFunction = new Map<string, number>()
  const byGroup = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const micros = self.get(node.id) ?? 0
    if (micros === 0) continue
    total += micros
    const { functionName, url, lineNumber } = node.callFrame
    const file = url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "").replace(/^.*\/work\/main\//, "")
    const key = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros)
    const group = groupOf(url, functionName)
    byGroup.set(group, (byGroup.get(group) ?? 0) + micros)
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const inclusive = new Map<string, number>()
  for (const [id, micros] of self) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame
      const file = frame.url
        .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
        .replace(/^.*\/work\/main\//, "")
      const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + micros)
    }
  }
  const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1])
  return { total, functions: sorted(byFunction), groups: sorted(byGroup), inclusive: sorted(inclusive) }
}

if (import.meta.main) {
  const file = process.argv[2]
  if (file === undefined) {
    process.stderr.write("usage: node src/profile.ts <file.cpuprofile> [--top N] [--filter text]\n")
    process.exit(2)
  }
  const at = process.argv.indexOf("--top")
  const top = at >= 0 ? Number(process.argv[at + 1]) : 40
  const filterAt = process.argv.indexOf("--filter")
  const filter = filterAt >= 0 ? process.argv[filterAt + 1] : undefined
  const { total, functions, groups, inclusive } = summarise(JSON.parse(readFileSync(file, "utf8")) as Profile)
  const pct = (micros: number) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`
  process.stdout.write(`total ${(total / 1000).toFixed(0)} ms\n\nby package (self time)\n`)
  for (const [group, micros] of groups.slice(0, 20)) process.stdout.write(`${pct(micros)}  ${group}\n`)
  process.stdout.write(`\ntop functions (self time)\n`)
  const shown = filter === undefined ? functions : functions.filter(([key]) => key.includes(filter))
  for (const [key, micros] of shown.slice(0, top)) process.stdout.write(`${pct(micros)}  ${key}\n`)
  if (filter !== undefined) {
    process.stdout.write(`\ntop functions matching "${filter}" (inclusive time)\n`)
    for (const [key, micros] of inclusive.filter(([key]) => key.includes(filter)).slice(0, top)) {
      process.stdout.write(`${pct(micros)}  ${key}\n`)
    }
  }
}
