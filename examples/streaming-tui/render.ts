/**
 * A small terminal renderer for `agent.stream` events. On a terminal (`live`: stdout and stderr are
 * TTYs and `NO_COLOR` is unset) text deltas are written as they arrive, tool calls show a spinner
 * status line while they run, and a `TurnRestarted` erases the turn's partial text with ANSI cursor
 * moves before the model call starts again. Otherwise (`plain`: pipes, files, `NO_COLOR`) each turn's
 * text is written once the turn ends and tool calls are plain lines, so a restarted turn never leaves
 * duplicated text behind. `RunEnd` prints the run's usage. Entry point: `makeRenderer(out, status)`.
 * Every string that came from the server (text, tool names and arguments, error text) goes through
 * `safeText` first, so a model cannot send escape sequences to the terminal. Gotcha: erasing counts
 * rows from the terminal width and one column per character, so double-width characters in a dropped
 * partial answer may leave a stray row on screen.
 */
import type { AgentEvent } from "@volley/agent"
import { safeText } from "../shared/terminal.ts"

/** Where the renderer writes: stdout (`out`) and stderr (`status`). */
export interface Terminal {
  readonly write: (text: string) => void
  readonly isTTY: boolean
  /** Terminal width in columns (80 when unknown). */
  readonly columns: number
}

/** The spinner's frames. */
export const spinnerFrames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"] as const

const esc = "\u001b["

/** A renderer: feed it every event; `tick` animates the spinner (call it every ~80 ms when `live`). */
export interface Renderer {
  readonly live: boolean
  readonly render: (event: AgentEvent.AgentEvent) => void
  readonly tick: () => void
}

const clip = (text: string, max = 60): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

/** Whether to render live: both streams are terminals and `NO_COLOR` is unset or empty. */
export const isLive = (out: Terminal, status: Terminal, env: Readonly<Record<string, string | undefined>>): boolean =>
  out.isTTY && status.isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === "")

/** Builds a renderer over stdout and stderr. */
export const makeRenderer = (out: Terminal, status: Terminal, live: boolean): Renderer => {
  let column = 0 // cursor column after the last write (live mode; both streams share the screen)
  let turnText = "" // this turn's text so far
  let turnStartColumn = 0
  let wroteText = false // some earlier turn wrote text
  let queued: Array<{ readonly callId: string; readonly label: string }> = [] // calls of this turn
  const running = new Map<string, string>()
  let frame = 0
  let statusShown = false

  const track = (text: string) => {
    for (const char of text) {
      if (char === "\n" || char === "\r") column = 0
      else column = (column + 1) % out.columns
    }
  }
  const writeOut = (text: string) => {
    out.write(text)
    track(text)
  }
  const clearStatus = () => {
    if (!statusShown) return
    status.write(`\r${esc}K`)
    column = 0
    statusShown = false
  }
  const drawStatus = () => {
    clearStatus()
    if (running.size === 0) return
    if (column !== 0) writeOut("\n")
    status.write(
      `${esc}2m${spinnerFrames[frame % spinnerFrames.length]} running ${[...running.values()].join(", ")}${esc}0m`
    )
    statusShown = true
  }
  const line = (text: string) => {
    if (live) {
      clearStatus()
      if (column !== 0) writeOut("\n")
    }
    status.write(`${safeText(text)}\n`)
    column = 0
  }
  /** Rows the turn's partial text occupies, counting wraps at the terminal width. */
  const partialRows = (): number => {
    let rows = 1
    let col = turnStartColumn
    for (const char of turnText) {
      if (char === "\n") {
        rows++
        col = 0
      } else if (++col >= out.columns) {
        rows++
        col = 0
      }
    }
    return rows
  }
  const startText = () => {
    if (turnText !== "") return
    if (wroteText && column !== 0) writeOut("\n")
    turnStartColumn = column
  }

  const render = (event: AgentEvent.AgentEvent): void => {
    switch (event._tag) {
      case "TurnStart":
        turnText = ""
        queued = []
        return
      case "TextDelta": {
        const delta = safeText(event.delta)
        if (live) {
          clearStatus()
          startText()
          writeOut(delta)
        }
        turnText += delta
        return
      }
      case "ToolCallEnd":
        // the label is drawn between the status line's own escapes, so it is made safe here
        queued.push({ callId: event.callId, label: safeText(`${event.name}(${clip(event.arguments)})`) })
        return
      case "TurnRestarted": {
        if (live && turnText !== "") {
          const up = partialRows() - 1
          out.write(`${up > 0 ? `${esc}${up}A` : ""}\r${turnStartColumn > 0 ? `${esc}${turnStartColumn}C` : ""}${esc}J`)
          column = turnStartColumn
        }
        turnText = ""
        queued = []
        line(`↻ the stream dropped (${event.error}); turn ${event.turn} starts again`)
        return
      }
      case "TurnEnd":
        if (turnText !== "") {
          if (!live) out.write(`${wroteText ? "\n" : ""}${turnText}`)
          wroteText = true
        }
        turnText = ""
        for (const call of queued) {
          if (live) running.set(call.callId, call.label)
          else line(`→ ${call.label}`)
        }
        queued = []
        if (live) drawStatus()
        return
      case "ToolResult": {
        const label = running.get(event.callId) ?? event.name
        running.delete(event.callId)
        const mark = event.skipped !== undefined ? `- ${event.skipped}` : event.isError ? "✗" : "✓"
        line(live ? `${mark} ${label}` : `← ${event.name}: ${event.isError ? "error" : "ok"}`)
        if (live) drawStatus()
        return
      }
      case "NeedsApproval":
        line(`? ${event.name} needs approval`)
        return
      case "RunEnd": {
        if (wroteText && (live ? column !== 0 : true)) writeOut("\n")
        const u = event.usage
        line(
          `usage: ${u.inputTokens} input + ${u.outputTokens} output = ${u.totalTokens} tokens in ${u.requests} model call${u.requests === 1 ? "" : "s"} (${event.stopReason._tag})`
        )
        return
      }
      default:
        return
    }
  }

  return {
    live,
    render,
    tick: () => {
      if (!live || running.size === 0) return
      frame++
      drawStatus()
    }
  }
}
