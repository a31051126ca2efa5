/**
 * Server-side rendering of the traces page: `listPage` (the runs, newest first, with filters) and
 * `runPage` (one run as a waterfall whose steps open a details panel). Every value from the trace files
 * is escaped with `escapeHtml`; pages link only to `/assets/*` served by the same server. The `content`
 * functions render the part the page script swaps in on a live update (`?fragment=1`).
 * Gotcha: bars are positioned in percent of the run's duration, so a still-running run is drawn against
 * "now" and grows on each update.
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TraceStore from "../TraceStore.ts"

type Step = TraceStore.Step

/** Escapes text for HTML element content and attribute values. */
export const escapeHtml = (text: string): string =>
  text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;")

/** A duration for people: `840 ms`, `2.31 s`, `1 m 05 s`. */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`
  const seconds = Math.round(ms / 1000)
  return `${Math.floor(seconds / 60)} m ${String(seconds % 60).padStart(2, "0")} s`
}

/** An epoch time as `YYYY-MM-DD HH:MM:SS UTC`. */
export const timestamp = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`

/** How a stop reason is shown: a class (colour) and an icon. */
export const reasonStyle = (reason: string): { readonly tone: string; readonly icon: string } => {
  switch (reason) {
    case "Completed":
      return { tone: "ok", icon: "✓" }
    case "Running":
      return { tone: "running", icon: "●" }
    case "ApprovalRequired":
      return { tone: "wait", icon: "⏸" }
    case "Interrupted":
      return { tone: "muted", icon: "■" }
    case "MaxTurns":
    case "MaxTurnsExceeded":
    case "BudgetExceeded":
    case "LoopDetected":
    case "Truncated":
    case "Refused":
      return { tone: "warn", icon: "⚠" }
    default:
      return { tone: "error", icon: "✕" }
  }
}

const reasonBadge = (reason: string): string => {
  const { tone, icon } = reasonStyle(reason)
  return `<span class="reason tone-${tone}"><span aria-hidden="true">${icon}</span> ${escapeHtml(reason)}</span>`
}

const page = (title: string, body: string, live: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a href="/" class="brand">Volley traces</a></header>
<main id="main" data-live="${escapeHtml(live)}">
${body}
</main>
<script src="/assets/app.js" defer></script>
</body>
</html>
`

/** Filters of the runs list (from the query string). */
export interface Filters {
  readonly agent: string
  readonly reason: string
  readonly text: string
}

const matches = (run: Step, summary: TraceStore.Summary, filters: Filters): boolean => {
  if (filters.agent !== "" && summary.agent !== filters.agent) return false
  if (filters.reason !== "" && summary.stopReason !== filters.reason) return false
  if (filters.text === "") return true
  const needle = filters.text.toLowerCase()
  const haystack = [summary.agent, summary.model, summary.stopReason, run.spanId]
  const visit = (step: Step, depth: number) => {
    haystack.push(step.name, step.error?.tag ?? "", step.error?.message ?? "")
    if (depth < 32) for (const child of step.children) visit(child, depth + 1)
  }
  for (const segment of TraceStore.segmentsOf(run)) visit(segment, 0)
  return haystack.some((text) => text.toLowerCase().includes(needle))
}

const select = (id: string, label: string, name: string, values: ReadonlyArray<string>, chosen: string): string =>
  `<div class="field"><label for="${id}">${label}</label><select id="${id}" name="${name}"><option value="">All</option>${values
    .map(
      (value) =>
        `<option value="${escapeHtml(value)}"${value === chosen ? " selected" : ""}>${escapeHtml(value)}</option>`
    )
    .join("")}</select></div>`

/** The runs table and filter form (the live-updated part of the list page). */
export const listContent = (runs: TraceStore.Runs, filters: Filters, now: number): string => {
  const summaries = runs.runs.map((run) => ({ run, summary: TraceStore.summarise(run, now) }))
  const agents = [...new Set(summaries.map(({ summary }) => summary.agent))].sort()
  const reasons = [...new Set(summaries.map(({ summary }) => summary.stopReason))].sort()
  const shown = summaries.filter(({ run, summary }) => matches(run, summary, filters))
  const rows = shown
    .map(
      ({ summary }) => `<tr data-run="${escapeHtml(summary.id)}">
<td><a href="/run/${encodeURIComponent(summary.id)}">${escapeHtml(summary.agent)}</a></td>
<td>${escapeHtml(summary.model)}</td>
<td><time datetime="${new Date(summary.start).toISOString()}">${timestamp(summary.start)}</time></td>
<td class="num">${summary.durationMs === undefined ? "" : duration(summary.durationMs)}</td>
<td class="num">${summary.turns}</td>
<td class="num">${summary.inputTokens}</td>
<td class="num">${summary.outputTokens}</td>
<td>${reasonBadge(summary.stopReason)}</td>
</tr>`
    )
    .join("\n")
  return `<h1>Runs</h1>
<form class="filters" method="get" action="/" role="search" aria-label="Filter runs">
${select("f-agent", "Agent", "agent", agents, filters.agent)}
${select("f-reason", "Stop reason", "reason", reasons, filters.reason)}
<div class="field"><label for="f-text">Text</label><input id="f-text" name="text" type="search" value="${escapeHtml(filters.text)}"></div>
<button type="submit">Filter</button>
</form>
<p class="count" role="status">${shown.length} of ${summaries.length} runs${runs.skipped > 0 ? ` · ${runs.skipped} unreadable lines skipped` : ""}</p>
<table class="runs">
<caption class="sr-only">Runs, newest first</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Model</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Turns</th><th scope="col">Tokens in</th><th scope="col">Tokens out</th><th scope="col">Stop reason</th></tr></thead>
<tbody>
${rows === "" ? `<tr><td colspan="8">No runs recorded yet. Start a program with <code>--trace</code>.</td></tr>` : rows}
</tbody>
</table>`
}

/** The runs list page. */
export const listPage = (runs: TraceStore.Runs, filters: Filters, now: number): string =>
  page("Runs · Volley traces", listContent(runs, filters, now), "list")

interface Row {
  readonly step: Step
  readonly depth: number
  readonly siblings: ReadonlyArray<Step>
  readonly restarted: boolean
  /** The step's parent is a tool call (a sub-agent started by its `execute_tool` span). */
  readonly underTool: boolean
}

const flatten = (run: Step): Array<Row> => {
  const rows: Array<Row> = []
  const visit = (step: Step, depth: number, siblings: ReadonlyArray<Step>, restarted: boolean, underTool: boolean) => {
    if (rows.length >= 5000) return
    rows.push({ step, depth, siblings, restarted, underTool })
    const restarts = step.kind === "agent" ? TraceStore.restartedCalls(step) : new Set<string>()
    if (depth >= 32) return
    for (const child of step.children)
      visit(child, depth + 1, step.children, restarts.has(child.spanId), step.kind === "tool")
  }
  visit(run, 0, [], false, false)
  return rows
}

const label = (step: Step, depth: number): string => {
  switch (step.kind) {
    case "agent":
      return `${depth > 0 ? "Sub-agent" : "Agent"} ${TraceStore.stringAttribute(step, "gen_ai.agent.name") ?? step.name.slice(13)}`
    case "model":
      return `Model call ${TraceStore.stringAttribute(step, "gen_ai.request.model") ?? step.name.slice(5)}`
    case "tool":
      return `Tool ${TraceStore.stringAttribute(step, "gen_ai.tool.name") ?? step.name.slice(13)}`
    default:
      return step.name
  }
}

const badges = (row: Row): string => {
  const { step } = row
  const out: Array<string> = []
  const retries = step.events.filter((event) => event.name === "volley.retry").length
  if (retries > 0) out.push(`<span class="badge tone-warn">↻ ${retries} ${retries === 1 ? "retry" : "retries"}</span>`)
  if (row.restarted) out.push(`<span class="badge tone-warn">↻ TurnRestarted</span>`)
  // a durable run's step read back from storage after a restart (it did not run again)
  if (step.attributes["volley.durable.replayed"] === true)
    out.push(`<span class="badge tone-info">↺ replayed from storage</span>`)
  if (step.kind === "tool") {
    const parallel = TraceStore.overlapping(step, row.siblings)
    if (parallel > 0) out.push(`<span class="badge tone-info">⇉ parallel with ${parallel}</span>`)
  }
  if (step.error !== undefined) out.push(`<span class="badge tone-error">✕ ${escapeHtml(step.error.tag)}</span>`)
  if (step.end === undefined) out.push(`<span class="badge tone-running">● running</span>`)
  // a sub-agent traced before sub-agents had their own `execute_tool` span: it is the tool call
  if (step.kind === "agent" && row.depth > 0 && !row.underTool)
    out.push(
      `<span class="badge tone-info">↳ tool call ${escapeHtml(TraceStore.stringAttribute(step, "gen_ai.agent.name") ?? "")}</span>`
    )
  return out.join(" ")
}

const timing = (step: Step, now: number): string => {
  const total = duration((step.end ?? now) - step.start)
  if (step.kind === "model" && step.firstEventTime !== undefined)
    return `first event ${duration(step.firstEventTime - step.start)} · total ${total}`
  return total
}

// focusable: a long value scrolls, and keyboard users must be able to scroll it
const pre = (text: string): string => `<pre tabindex="0">${escapeHtml(text)}</pre>`

const decodeJson = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Unknown))

/** JSON text indented for reading; anything else as is. */
const pretty = (text: string): string => {
  const parsed = decodeJson(text)
  return Option.isSome(parsed) ? (JSON.stringify(parsed.value, null, 2) ?? text) : text
}

const section = (title: string, body: string): string => `<h3>${escapeHtml(title)}</h3>${body}`

const details = (step: Step, runStart: number, now: number): string => {
  const parts: Array<string> = []
  const usage = TraceStore.usageOf(step)
  const facts: Array<[string, string]> = [
    ["Span", step.name],
    ["Started", `+${duration(step.start - runStart)}`],
    ["Duration", step.end === undefined ? `${duration(now - step.start)} (running)` : duration(step.end - step.start)]
  ]
  if (step.kind === "model" && step.firstEventTime !== undefined)
    facts.push(["First event", duration(step.firstEventTime - step.start)])
  if (step.kind === "model" || step.kind === "agent")
    facts.push(["Tokens in", String(usage.input)], ["Tokens out", String(usage.output)])
  if (step.kind === "agent") facts.push(["Stop reason", TraceStore.stopReasonOf(step)])
  const callId = TraceStore.stringAttribute(step, "gen_ai.tool.call.id")
  if (callId !== undefined) facts.push(["Call id", callId])
  parts.push(
    `<dl class="facts">${facts.map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`).join("")}</dl>`
  )
  if (step.error !== undefined)
    parts.push(
      section(
        "Error",
        `<p class="error"><strong>${escapeHtml(step.error.tag)}</strong>: ${escapeHtml(step.error.message)}</p>`
      )
    )
  const content: ReadonlyArray<[string, string]> = [
    ["gen_ai.tool.call.arguments", "Arguments"],
    ["gen_ai.tool.call.result", "Output"],
    ["gen_ai.system_instructions", "Instructions"],
    ["gen_ai.input.messages", "Request items"],
    ["gen_ai.output.messages", "Response items"],
    ["gen_ai.output.text", "Output text"]
  ]
  let captured = false
  for (const [key, title] of content) {
    const value = TraceStore.stringAttribute(step, key)
    if (value === undefined) continue
    captured = true
    parts.push(section(title, pre(pretty(value))))
  }
  if (!captured && step.kind !== "agent")
    parts.push(`<p class="note">Content was not captured (turn on <code>CaptureContent</code> to record it).</p>`)
  if (step.events.length > 0)
    parts.push(
      section(
        "Events",
        `<ul class="events">${step.events
          .map(
            (event) =>
              `<li><code>${escapeHtml(event.name)}</code> at +${duration(event.time - runStart)} ${escapeHtml(JSON.stringify(event.attributes))}</li>`
          )
          .join("")}</ul>`
      )
    )
  parts.push(
    section(
      "Attributes",
      `<dl class="attributes">${Object.entries(step.attributes)
        .map(
          ([key, value]) =>
            `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(typeof value === "string" ? value : JSON.stringify(value))}</dd>`
        )
        .join("")}</dl>`
    )
  )
  return parts.join("\n")
}

/** The waterfall and header of one run (the live-updated part of the run page). */
export const runContent = (run: Step, now: number): string => {
  const summary = TraceStore.summarise(run, now)
  const segments = TraceStore.segmentsOf(run)
  const last = segments.at(-1)!
  const runEnd = last.end ?? now
  const total = Math.max(1, runEnd - run.start)
  const percent = (ms: number) => `${Math.min(100, Math.max(0, (ms / total) * 100)).toFixed(2)}%`
  const rowHtml = (row: Row): string => {
    const { step } = row
    const id = escapeHtml(step.spanId)
    const left = percent(step.start - run.start)
    const width = `max(2px, ${percent((step.end ?? now) - step.start)})`
    const first =
      step.kind === "model" && step.firstEventTime !== undefined
        ? `<span class="ttft" style="width:${Math.min(100, ((step.firstEventTime - step.start) / Math.max(0.001, (step.end ?? now) - step.start)) * 100).toFixed(2)}%"></span>`
        : ""
    const tone = step.error !== undefined ? "error" : step.end === undefined ? "running" : step.kind
    return `<li class="row kind-${step.kind}">
<button type="button" class="step" id="s-${id}" aria-expanded="false" aria-controls="d-${id}" style="--depth:${row.depth}">
<span class="name">${escapeHtml(label(step, row.depth))}</span>
<span class="timing">${escapeHtml(timing(step, now))}</span>
<span class="badges">${badges(row)}</span>
<span class="track" aria-hidden="true"><span class="bar bar-${tone}" style="left:${left};width:${width}">${first}</span></span>
</button>
<section class="details" id="d-${id}" aria-label="Details of ${escapeHtml(label(step, row.depth))}" hidden>
${details(step, run.start, now)}
</section>
</li>`
  }
  const items: Array<string> = []
  segments.forEach((segment, index) => {
    const previous = segments[index - 1]
    if (previous?.end !== undefined)
      items.push(
        resumeGap(
          TraceStore.stopReasonOf(previous),
          previous.end,
          segment.start,
          percent(previous.end - run.start),
          percent(segment.start - previous.end)
        )
      )
    // a durable run cut off by a crash (its segment never ended) and resumed by another process
    else if (previous !== undefined) items.push(crashGap(segment))
    for (const row of flatten(segment)) items.push(rowHtml(row))
  })
  if (summary.stopReason === "ApprovalRequired" && last.end !== undefined) {
    items.push(
      `<li class="row kind-approval"><p class="approval"><span aria-hidden="true">⏸</span> Waiting for approval for ${duration(now - last.end)} (since ${timestamp(last.end)})</p></li>`
    )
  }
  const facts: ReadonlyArray<[string, string]> = [
    ["Model", summary.model],
    ["Started", timestamp(summary.start)],
    ["Duration", summary.durationMs === undefined ? "" : duration(summary.durationMs)],
    ["Turns", String(summary.turns)],
    ["Tokens in", String(summary.inputTokens)],
    ["Tokens out", String(summary.outputTokens)]
  ]
  return `<p><a href="/">← All runs</a></p>
<h1>Run of ${escapeHtml(summary.agent)} ${reasonBadge(summary.stopReason)}</h1>
<dl class="summary">${facts.map(([key, value]) => `<div><dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd></div>`).join("")}</dl>
<h2 id="waterfall-title">Waterfall</h2>
<p class="hint">Select a step (arrow keys move between steps) to see its details.</p>
<ol class="waterfall" aria-labelledby="waterfall-title">
${items.join("\n")}
</ol>`
}

/**
 * The row between a segment and its resume: how long the run waited for approval (a segment that
 * paused), or was stopped (one interrupted or failed, then resumed from its saved state).
 */
const resumeGap = (reason: string, from: number, to: number, left: string, width: string): string => {
  const what =
    reason === "ApprovalRequired"
      ? `Waited for approval for ${duration(to - from)}`
      : `Stopped (${escapeHtml(reason)}) for ${duration(to - from)}`
  return `<li class="row kind-approval"><p class="approval"><span aria-hidden="true">⏸</span> ${what} (${timestamp(from)} to ${timestamp(to)}), then resumed</p><span class="track" aria-hidden="true"><span class="bar bar-wait" style="left:${left};width:max(2px, ${width})"></span></span></li>`
}

const crashGap = (segment: Step): string => {
  const replayed = segment.children.filter((child) => child.attributes["volley.durable.replayed"] === true).length
  return `<li class="row kind-approval"><p class="approval"><span aria-hidden="true">↺</span> The process stopped mid-run; resumed at ${timestamp(segment.start)} with ${replayed} ${replayed === 1 ? "step" : "steps"} replayed from storage</p></li>`
}

/** One run's page. */
export const runPage = (run: Step, now: number): string =>
  page(`${TraceStore.summarise(run, now).agent} · Volley traces`, runContent(run, now), `run:${run.spanId}`)

/** The page for an unknown run id. */
export const notFoundPage = (id: string): string =>
  page(
    "Not found · Volley traces",
    `<h1>No such run</h1><p>No run <code>${escapeHtml(id)}</code> in the trace folder.</p><p><a href="/">All runs</a></p>`,
    "none"
  )
