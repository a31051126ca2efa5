/**
 * The streaming renderer against a scripted server that drops the stream mid-answer (a socket reset
 * after some text deltas): the agent restarts the turn, and the final screen shows the answer once,
 * both live (ANSI erase, checked with a small terminal emulator) and plain (per-turn text).
 */
import { assert, describe, it } from "@effect/vitest"
import { LocalModel, ResponsesServer, ScriptedModel as M, TestClient } from "@volley/testing"
import { Effect, Layer } from "effect"
import { makeAgent, WeatherHandlers, weatherFor } from "../quickstart/weather.ts"
import { isLive, makeRenderer, type Terminal } from "./render.ts"
import { streamToTerminal } from "./tui.ts"
import { examplePath, runScript } from "../shared/process.ts"

const csi = "\u001b["

/** A tiny terminal: printable characters (wrapping at `columns`), CR, LF, and CSI A / C / J / K / m. */
const makeScreen = (columns: number) => {
  const rows: Array<Array<string>> = [[]]
  let row = 0
  let col = 0
  const newline = () => {
    row++
    col = 0
    while (rows.length <= row) rows.push([])
  }
  const write = (text: string) => {
    for (let i = 0; i < text.length; ) {
      if (text.startsWith(csi, i)) {
        let end = i + csi.length
        while (end < text.length && text[end]! >= "0" && text[end]! <= "9") end++
        const digits = text.slice(i + csi.length, end)
        const n = digits === "" ? 1 : Number(digits)
        const command = text[end]
        const line = rows[row]!
        if (command === "A") row = Math.max(0, row - n)
        else if (command === "C") col = Math.min(columns - 1, col + n)
        else if (command === "K") line.length = Math.min(line.length, col)
        else if (command === "J") {
          line.length = Math.min(line.length, col)
          rows.length = row + 1
        }
        i = end + 1
        continue
      }
      const char = String.fromCodePoint(text.codePointAt(i)!)
      i += char.length
      if (char === "\r") col = 0
      else if (char === "\n") newline()
      else {
        const line = rows[row]!
        while (line.length < col) line.push(" ")
        line[col] = char
        if (++col >= columns) newline()
      }
    }
  }
  return {
    write,
    /** The screen, one line per row. */
    text: () => rows.map((line) => line.join("").trimEnd()).join("\n"),
    /** The screen's rows joined without separators (wrapped text reads as it was written). */
    flat: () => rows.map((line) => line.join("")).join("")
  }
}

/** stdout and stderr on one screen (live), or captured apart (plain). */
const terminals = (live: boolean, columns = 80) => {
  const screen = makeScreen(columns)
  const captured = { out: "", status: "" }
  const out: Terminal = {
    isTTY: live,
    columns,
    write: (text) => {
      captured.out += text
      screen.write(text)
    }
  }
  const status: Terminal = {
    isTTY: live,
    columns,
    write: (text) => {
      captured.status += text
      screen.write(text)
    }
  }
  return { out, status, screen, captured }
}

const answer = "The weather in Paris is mild today. Tokyo is windy, so bring a light jacket and an umbrella."
const dropped = (text: string) => M.withFault(M.message(text), { dropAfterEvents: 8, drop: "reset" as const })

const run = (script: ReadonlyArray<M.Step>, live: boolean, columns = 80) =>
  Effect.gen(function* () {
    const term = terminals(live, columns)
    yield* streamToTerminal(makeAgent("test/model"), "Weather in Paris and Tokyo?", term.out, term.status, {})
    const server = yield* ResponsesServer.ResponsesServer
    yield* server.assertComplete
    return term
  }).pipe(Effect.provide(Layer.mergeAll(WeatherHandlers, TestClient.layerServer(script))))

const count = (haystack: string, needle: string) => haystack.split(needle).length - 1

describe("streaming TUI", () => {
  it.live("plain: a turn restarted after a mid-answer reset prints its text once", () =>
    Effect.gen(function* () {
      const { captured } = yield* run([dropped(answer), M.message(answer)], false)
      assert.strictEqual(captured.out, `${answer}\n`)
      assert.include(captured.status, "↻ the stream dropped")
      assert.match(captured.status, /usage: .* in 1 model call \(Completed\)\n$/)
      assert.notInclude(captured.out + captured.status, csi)
    })
  )

  it.live("live: the partial text is erased (over several wrapped rows) and the screen shows the answer once", () =>
    Effect.gen(function* () {
      const { captured, screen } = yield* run([dropped(answer), M.message(answer)], true, 12)
      assert.isAbove(count(captured.out, "The weather"), 1, "the partial answer did reach the terminal")
      assert.include(captured.out, `${csi}1A\r${csi}J`, "moved up over the wrapped row, then erased")
      assert.strictEqual(count(screen.flat(), "The weather"), 1, screen.text())
      assert.include(screen.flat(), answer)
      assert.include(screen.flat(), "↻ the stream dropped")
    })
  )

  it.live("live: tool calls get status lines, and a drop in the answer after them still leaves one answer", () =>
    Effect.gen(function* () {
      const final = `Paris is ${weatherFor("Paris").temperatureC}°C and Tokyo ${weatherFor("Tokyo").temperatureC}°C.`
      const { captured, screen } = yield* run(
        [
          M.turn(
            M.message("Let me check."),
            M.functionCall("get_weather", { city: "Paris" }),
            M.functionCall("get_weather", { city: "Tokyo" })
          ),
          dropped(final),
          M.message(final)
        ],
        true
      )
      assert.isAbove(count(captured.out, "Paris is"), 1, "the partial answer did reach the terminal")
      const lines = screen.text().split("\n")
      assert.deepStrictEqual(lines.slice(0, 3), [
        "Let me check.",
        '✓ get_weather({"city":"Paris"})',
        '✓ get_weather({"city":"Tokyo"})'
      ])
      assert.match(lines[3] ?? "", /^↻ the stream dropped \(\w+\); turn 2 starts again$/)
      assert.strictEqual(count(screen.text(), final), 1, screen.text())
      assert.notInclude(screen.text(), "running", "the spinner line is gone at the end")
    })
  )

  it.effect("volley-local streams through the same renderer (plain)", () =>
    Effect.gen(function* () {
      const term = terminals(false)
      yield* streamToTerminal(makeAgent(LocalModel.modelName), "Weather in Oslo?", term.out, term.status, {}).pipe(
        Effect.provide(Layer.mergeAll(WeatherHandlers, TestClient.layerLocal()))
      )
      assert.match(term.captured.out, /^Oslo: .*\n$/)
      assert.include(term.captured.status, '→ get_weather({"city":"Oslo"})')
      assert.include(term.captured.status, "usage:")
    })
  )

  // An OSC title change ending in BEL, a clear-screen CSI, a colour, a C1 CSI and a bidi override.
  const hostile = "\u001b]0;pwned\u0007Let me\u001b[2J check\u001b[31m.\u009b2J\u202e"
  const hostileSeen = (text: string) =>
    ["\u001b]", "\u0007", `${csi}2J`, `${csi}31m`, "\u009b", "\u202e"].filter((bad) => text.includes(bad))
  const hostileScript = [
    M.turn(M.message(hostile), M.functionCall("get_weather\u001b]0;x\u0007", { city: "Paris" })),
    M.message(`Done${hostile}`)
  ]

  it.live("plain: server text, tool names and arguments reach the terminal without control characters", () =>
    Effect.gen(function* () {
      const { captured } = yield* run(hostileScript, false)
      assert.deepStrictEqual(hostileSeen(captured.out + captured.status), [])
      assert.notInclude(captured.out + captured.status, "\u001b")
      // what is left is printable and inert (see safeText's gotcha)
      assert.include(captured.out, "]0;pwnedLet me[2J check[31m.2J")
      assert.include(captured.status, "→ get_weather]0;x(")
    })
  )

  it.live("live: only the renderer's own escapes reach the terminal, never the server's", () =>
    Effect.gen(function* () {
      const { captured, screen } = yield* run(hostileScript, true)
      assert.deepStrictEqual(hostileSeen(captured.out + captured.status), [])
      assert.include(screen.text(), "]0;pwnedLet me[2J check[31m.2J")
      assert.include(screen.text(), "get_weather]0;x(")
    })
  )

  it("is live only on two terminals without NO_COLOR", () => {
    const tty = terminals(true).out
    const pipe = terminals(false).out
    assert.isTrue(isLive(tty, tty, {}))
    assert.isFalse(isLive(tty, tty, { NO_COLOR: "1" }))
    assert.isFalse(isLive(pipe, tty, {}))
    assert.isTrue(makeRenderer(tty, tty, true).live)
  })
})

it.live("as a program with piped output: plain text on stdout, tool lines and usage on stderr, no escapes", () =>
  Effect.gen(function* () {
    const ran = yield* runScript(examplePath("streaming-tui/main.ts"), ["Weather in Paris and Tokyo?"])
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.match(ran.stdout, /^Paris: .*Tokyo: .*\n$/)
    assert.include(ran.stderr, '→ get_weather({"city":"Tokyo"})')
    assert.match(ran.stderr, /usage: .* in 2 model calls \(Completed\)\n$/)
    assert.notInclude(ran.stdout + ran.stderr, csi)
  })
)
