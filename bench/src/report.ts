/**
 * Renders the bench results: one table per kind of mode (CPU per run, memory, per-turn scaling), each cell
 * a median over repeats with its ratio to the undici loop, as plain text for the terminal and as Markdown
 * for `results/latest.md` / `bench/README.md`. Entry point: `render(input)`.
 * Gotcha: the bench server's own CPU is reported next to every mode ("server core busy"), because a
 * saturated server would cap every contender at the same throughput and hide the differences.
 */

/** One (driver, mode) result: medians over the repeats, or the verification error. */
export interface Cell {
  readonly driver: string
  readonly mode: string
  readonly kind: "throughput" | "memory" | "scaling"
  readonly turns: number
  readonly stream: boolean
  readonly concurrency: number
  readonly runs: number
  readonly repeats: number
  readonly cpuMsPerRun: number
  readonly cpuMsMin: number
  readonly cpuMsMax: number
  readonly wallMs: number
  readonly runsPerSecond: number
  readonly peakRssBytes: number
  readonly peakHeapBytes: number
  readonly serverCpuMsPerRun: number
  readonly error?: string
}

/** What `render` needs. */
export interface ReportInput {
  readonly machine: Record<string, string | number | boolean>
  readonly versions: Record<string, string>
  readonly cells: ReadonlyArray<Cell>
  readonly drivers: ReadonlyArray<string>
}

/** The target: Volley within this factor of the undici loop, for CPU and peak memory. */
export const target = 1.5

type Table = { readonly title: string; readonly head: ReadonlyArray<string>; readonly rows: Array<Array<string>> }

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`
const ratio = (value: number, reference: number | undefined) =>
  reference === undefined || !Number.isFinite(reference) || reference === 0
    ? ""
    : ` (${(value / reference).toFixed(2)}×)`
const spread = (cell: Cell) =>
  cell.repeats > 1 && cell.cpuMsPerRun > 0
    ? ` ±${(((cell.cpuMsMax - cell.cpuMsMin) / 2 / cell.cpuMsPerRun) * 100).toFixed(0)}%`
    : ""

const cpuTable = (input: ReportInput, find: (driver: string, mode: string) => Cell | undefined): Table => {
  const modes = [...new Set(input.cells.filter((cell) => cell.kind === "throughput").map((cell) => cell.mode))]
  const rows = modes.map((mode) => {
    const reference = find("undici", mode)?.cpuMsPerRun
    const row = [mode]
    let busy = 0
    for (const driver of input.drivers) {
      const cell = find(driver, mode)
      if (cell === undefined) row.push("")
      else if (cell.error !== undefined) row.push("FAIL")
      else {
        row.push(`${cell.cpuMsPerRun.toFixed(3)}${spread(cell)}${ratio(cell.cpuMsPerRun, reference)}`)
        busy = Math.max(busy, (cell.serverCpuMsPerRun * cell.runsPerSecond) / 1000)
      }
    }
    row.push(`${(busy * 100).toFixed(0)}%`)
    return row
  })
  return {
    title: "CPU ms per run (user+sys, median over repeats ±half-range, ratio to the undici loop)",
    head: ["mode", ...input.drivers, "server core busy (max)"],
    rows
  }
}

const throughputTable = (input: ReportInput, find: (driver: string, mode: string) => Cell | undefined): Table => {
  const modes = [...new Set(input.cells.filter((cell) => cell.kind === "throughput").map((cell) => cell.mode))]
  return {
    title: "Throughput (runs per second, median) and peak RSS",
    head: ["mode", ...input.drivers],
    rows: modes.map((mode) => [
      mode,
      ...input.drivers.map((driver) => {
        const cell = find(driver, mode)
        return cell === undefined || cell.error !== undefined
          ? ""
          : `${cell.runsPerSecond.toFixed(0)}/s, ${mb(cell.peakRssBytes)}`
      })
    ])
  }
}

const memoryTable = (input: ReportInput, find: (driver: string, mode: string) => Cell | undefined): Table => {
  const modes = [...new Set(input.cells.filter((cell) => cell.kind === "memory").map((cell) => cell.mode))]
  const rows: Array<Array<string>> = []
  for (const mode of modes) {
    const reference = find("undici", mode)
    for (const driver of input.drivers) {
      const cell = find(driver, mode)
      if (cell === undefined) continue
      if (cell.error !== undefined) {
        rows.push([mode, driver, "FAIL", "", "", ""])
        continue
      }
      rows.push([
        mode,
        driver,
        `${mb(cell.peakRssBytes)}${ratio(cell.peakRssBytes, reference?.peakRssBytes)}`,
        `${mb(cell.peakHeapBytes)}${ratio(cell.peakHeapBytes, reference?.peakHeapBytes)}`,
        `${cell.cpuMsPerRun.toFixed(3)}${ratio(cell.cpuMsPerRun, reference?.cpuMsPerRun)}`,
        `${(cell.wallMs / 1000).toFixed(2)} s`
      ])
    }
  }
  return {
    title: "Memory: all runs in flight at once, 200 ms model latency, SSE (peak during the batch, median)",
    head: ["mode", "driver", "peak RSS", "peak heap used", "CPU ms/run", "wall"],
    rows
  }
}

const scalingTable = (input: ReportInput, find: (driver: string, mode: string) => Cell | undefined): Table => {
  const modes = [...new Set(input.cells.filter((cell) => cell.kind === "scaling").map((cell) => cell.mode))]
  return {
    title: "Scaling: CPU ms per turn (model call) for runs of T turns, JSON, concurrency 1 (ratio to undici)",
    head: ["driver", ...modes],
    rows: input.drivers.map((driver) => [
      driver,
      ...modes.map((mode) => {
        const cell = find(driver, mode)
        if (cell === undefined) return ""
        if (cell.error !== undefined) return "FAIL"
        const reference = find("undici", mode)
        const perTurn = cell.cpuMsPerRun / cell.turns
        return `${perTurn.toFixed(3)}${ratio(perTurn, reference === undefined ? undefined : reference.cpuMsPerRun / reference.turns)}`
      })
    ])
  }
}

const targetTable = (input: ReportInput, find: (driver: string, mode: string) => Cell | undefined): Table => {
  const rows: Array<Array<string>> = []
  const verdict = (value: number) => (value <= target ? "met" : `not met (${(value / target).toFixed(1)}× over)`)
  const modes = [...new Set(input.cells.map((cell) => cell.mode))]
  for (const mode of modes) {
    const cell = find("volley", mode)
    const reference = find("undici", mode)
    if (cell === undefined || reference === undefined || cell.error !== undefined || reference.error !== undefined)
      continue
    if (cell.kind === "scaling") continue
    const cpu = cell.cpuMsPerRun / reference.cpuMsPerRun
    rows.push([mode, "CPU per run", `${cell.cpuMsPerRun.toFixed(3)} ms`, `${cpu.toFixed(2)}×`, verdict(cpu)])
    if (cell.kind === "memory") {
      const rss = cell.peakRssBytes / reference.peakRssBytes
      rows.push([mode, "peak RSS", mb(cell.peakRssBytes), `${rss.toFixed(2)}×`, verdict(rss)])
    }
  }
  const scaling = input.cells.filter(
    (cell) => cell.kind === "scaling" && cell.driver === "volley" && cell.error === undefined
  )
  if (scaling.length > 1) {
    const perTurn = scaling.map((cell) => cell.cpuMsPerRun / cell.turns)
    const first = scaling[0]!
    const last = scaling[scaling.length - 1]!
    const growth = perTurn[perTurn.length - 1]! / perTurn[0]!
    const undici = [find("undici", first.mode), find("undici", last.mode)]
    const floorGrowth =
      undici[0] === undefined || undici[1] === undefined
        ? Number.NaN
        : undici[1].cpuMsPerRun / undici[1].turns / (undici[0].cpuMsPerRun / undici[0].turns)
    rows.push([
      `${first.mode} → ${last.mode}`,
      "CPU per turn",
      perTurn.map((value) => value.toFixed(3)).join(" → "),
      `×${growth.toFixed(2)} (undici ×${floorGrowth.toFixed(2)})`,
      growth <= Math.max(1.5, floorGrowth * 1.5) ? "flat (met)" : "grows (not met)"
    ])
  }
  return {
    title: `Volley against the target (≤ ${target}× the undici loop)`,
    head: ["mode", "metric", "Volley", "ratio", "target"],
    rows
  }
}

const markdownTable = (table: Table): string =>
  [
    `### ${table.title}`,
    "",
    `| ${table.head.join(" | ")} |`,
    `| ${table.head.map(() => "---").join(" | ")} |`,
    ...table.rows.map((row) => `| ${row.join(" | ")} |`),
    ""
  ].join("\n")

const textTable = (table: Table): string => {
  const widths = table.head.map((head, index) =>
    Math.max(head.length, ...table.rows.map((row) => (row[index] ?? "").length))
  )
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, index) => cell.padEnd(widths[index]!)).join("  ")
  return [
    table.title,
    line(table.head),
    line(widths.map((width) => "-".repeat(width))),
    ...table.rows.map(line),
    ""
  ].join("\n")
}

/** Renders the results as terminal text and Markdown. */
export const render = (input: ReportInput): { readonly terminal: string; readonly markdown: string } => {
  const index = new Map(input.cells.map((cell) => [`${cell.driver}|${cell.mode}`, cell]))
  const find = (driver: string, mode: string) => index.get(`${driver}|${mode}`)
  const tables = [cpuTable, throughputTable, memoryTable, scalingTable, targetTable]
    .map((make) => make(input, find))
    .filter((table) => table.rows.length > 0)
  const failures = input.cells
    .filter((cell) => cell.error !== undefined)
    .map((cell) => `- ${cell.driver} / ${cell.mode}: ${cell.error}`)
  const machine = Object.entries(input.machine)
    .map(([key, value]) => `${key}: ${String(value)}`)
    .join(", ")
  const versions = Object.entries(input.versions)
    .map(([key, value]) => `${key} ${value}`)
    .join(", ")
  const markdown = [
    `Machine: ${machine}`,
    "",
    `Versions: ${versions}`,
    "",
    ...tables.map(markdownTable),
    ...(failures.length > 0 ? ["### Failures", "", ...failures, ""] : [])
  ].join("\n")
  const terminal = [
    ...tables.map(textTable),
    ...(failures.length > 0 ? ["FAILURES", ...failures] : []),
    `(${machine})`
  ].join("\n")
  return { terminal, markdown }
}
