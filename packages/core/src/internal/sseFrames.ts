/**
 * A Server-Sent Events line parser with exactly the semantics of Effect's `Sse.makeParser` (BOM,
 * CR / LF / CRLF line ends split across chunks, `data:` lines joined with `\n`, `event:`, `id:`
 * without NUL, `retry:` digits, the size cap checked after each chunk, `reset()` from a callback
 * dropping the rest of the chunk), but finding line ends with native `indexOf` instead of a
 * character loop and handing the callback plain values instead of an event object.
 * Why hand-written: on the bench's SSE path `Sse.makeParser` (`feed` + `parseLine`) was ~5 % of the
 * client's CPU; a test checks this parser against `Sse.makeParser` on arbitrary input and splits.
 */

/** Called once per dispatched event: its name (`"message"` when none), data and last event id. */
export type OnFrame = (event: string, data: string, id: string | undefined) => void

/** The parser: `feed` returns true when the pending event exceeded the cap (the parser is then reset). */
export interface FrameParser {
  /** Parses one chunk of text; true = the event being built exceeded `maxEventSize` (state was reset). */
  readonly feed: (chunk: string) => boolean
  /** Drops all state; when called from a callback, the rest of the current chunk is skipped. */
  readonly reset: () => void
}

/** Creates a parser; `onRetry` gets the milliseconds of each valid `retry:` field. */
export const makeFrameParser = (onFrame: OnFrame, onRetry: (ms: number) => void, maxEventSize: number): FrameParser => {
  let isFirstChunk = true
  // pieces of the unterminated line, joined once when the line ends
  let pending: Array<string> = []
  let pendingLength = 0
  let discardTrailingNewline = false
  let generation = 0
  let lastEventId: string | undefined
  let eventName: string | undefined
  // the data lines joined with "\n" (Sse.makeParser keeps a trailing "\n" per line: +1 when hasData)
  let data = ""
  let hasData = false

  const reset = (): void => {
    generation++
    isFirstChunk = true
    pending = []
    pendingLength = 0
    discardTrailingNewline = false
    lastEventId = undefined
    eventName = undefined
    data = ""
    hasData = false
  }

  const parseLine = (line: string): void => {
    if (line.length === 0) {
      // end of event: clear the state first so a throwing callback cannot leak it into the next one
      const event = eventName || "message"
      const eventData = data
      const dispatch = hasData
      eventName = undefined
      data = ""
      hasData = false
      if (dispatch) onFrame(event, eventData, lastEventId)
      return
    }
    const colon = line.indexOf(":")
    if (colon === 4 && line.startsWith("data")) {
      const value = line.slice(line.charCodeAt(5) === SPACE ? 6 : 5)
      data = hasData ? `${data}\n${value}` : value
      hasData = true
      return
    }
    let field = line
    let value = ""
    if (colon >= 0) {
      field = line.slice(0, colon)
      value = line.slice(line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1)
    }
    if (field === "data") {
      data = hasData ? `${data}\n${value}` : value
      hasData = true
    } else if (field === "event") {
      eventName = value
    } else if (field === "id" && !value.includes("\u0000")) {
      lastEventId = value
    } else if (field === "retry" && /^\d+$/.test(value)) {
      onRetry(Number.parseInt(value, 10))
    }
  }

  const feed = (input: string): boolean => {
    // empty chunks must not consume the leading BOM check
    if (input.length === 0) return false
    const chunk = isFirstChunk && input.charCodeAt(0) === BOM ? input.slice(1) : input
    isFirstChunk = false
    const length = chunk.length
    const currentGeneration = generation
    let position = 0
    // next CR at or after `position` (-1: none left); found once, advanced only past it
    let cr = chunk.indexOf("\r")
    while (position < length) {
      // skip the LF of a CRLF whose CR may have ended the previous line (or chunk)
      if (discardTrailingNewline) {
        discardTrailingNewline = false
        if (chunk.charCodeAt(position) === LF) {
          position++
          continue
        }
      }
      if (cr !== -1 && cr < position) cr = chunk.indexOf("\r", position)
      const lf = chunk.indexOf("\n", position)
      const lineEnd = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
      if (lineEnd === -1) {
        pending.push(chunk.slice(position))
        pendingLength += length - position
        break
      }
      discardTrailingNewline = lineEnd === cr
      let line = chunk.slice(position, lineEnd)
      if (pending.length > 0) {
        pending.push(line)
        line = pending.join("")
        pending = []
        pendingLength = 0
      }
      parseLine(line)
      // a callback reset the parser: drop the rest of this chunk
      if (generation !== currentGeneration) return false
      position = lineEnd + 1
    }
    if (pendingLength + data.length + (hasData ? 1 : 0) > maxEventSize) {
      reset()
      return true
    }
    return false
  }

  return { feed, reset }
}

const BOM = 0xfeff
const LF = 10
const SPACE = 32
