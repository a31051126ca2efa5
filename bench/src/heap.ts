/**
 * Summarises a V8 `.heapsnapshot` (e.g. one written by a driver in the memory mode with
 * `BENCH_HEAP_SNAPSHOT_BYTES=<threshold>`): retained-by-nobody accounting is out of scope, this sums each
 * object's self size by constructor / node name, so the biggest kinds of objects per in-flight run show up.
 * Usage: `node src/heap.ts <file.heapsnapshot> [--top N]`.
 * Gotcha: self sizes only; a small object that holds a big one shows under the big one's name.
 */
import { readFileSync } from "node:fs"

interface Snapshot {
  readonly snapshot: {
    readonly meta: { readonly node_fields: ReadonlyArray<string>; readonly node_types: ReadonlyArray<unknown> }
  }
  readonly nodes: ReadonlyArray<number>
  readonly strings: ReadonlyArray<string>
}

/** Self size and count by (type, name), largest first. */
export const summarise = (snapshot: Snapshot) => {
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0] as ReadonlyArray<string>
  const width = fields.length
  const typeAt = fields.indexOf("type")
  const nameAt = fields.indexOf("name")
  const sizeAt = fields.indexOf("self_size")
  const totals = new Map<string, { size: number; count: number }>()
  let total = 0
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]!] ?? "?"
    const rawName = snapshot.strings[snapshot.nodes[i + nameAt]!] ?? "?"
    const name =
      type === "object" || type === "closure"
        ? rawName
        : `(${type})${type === "string" ? "" : ` ${rawName.slice(0, 40)}`}`
    const size = snapshot.nodes[i + sizeAt]!
    total += size
    const entry = totals.get(name) ?? { size: 0, count: 0 }
    entry.size += size
    entry.count++
    totals.set(name, entry)
  }
  return { total, rows: [...totals.entries()].sort((a, b) => b[1].size - a[1].size) }
}

if (import.meta.main) {
  const file = process.argv[2]
  if (file === undefined) {
    process.stderr.write("usage: node src/heap.ts <file.heapsnapshot> [--top N]\n")
    process.exit(2)
  }
  const at = process.argv.indexOf("--top")
  const top = at >= 0 ? Number(process.argv[at + 1]) : 40
  const { total, rows } = summarise(JSON.parse(readFileSync(file, "utf8")) as Snapshot)
  process.stdout.write(`total self size ${(total / 2 ** 20).toFixed(1)} MB\n`)
  for (const [name, { size, count }] of rows.slice(0, top)) {
    process.stdout.write(`${(size / 2 ** 20).toFixed(1).padStart(8)} MB ${String(count).padStart(9)}  ${name}\n`)
  }
}
