/**
 * A small, strict JSON parser for model-written tool arguments. Compared with `JSON.parse` it reports
 * errors as `{ position, line, column, message }` without echoing the input, and it drops keys that
 * could pollute prototypes (`__proto__` everywhere; `constructor` / `prototype` when their value is an
 * object) before anything else sees the value. Numbers follow JSON grammar and are read with `Number`,
 * so `1e999` becomes `Infinity` (later rejected by the schema) and `-0` stays `-0`.
 * Gotcha: it returns a `Result`, never throws.
 */
import * as Result from "effect/Result"
import { maxArgumentsDepth } from "../Tool.ts"

/** Where and why parsing stopped. */
export interface ParseError {
  readonly message: string
  readonly position: number
  readonly line: number
  readonly column: number
}

/** Whether a key is dropped from parsed objects (prototype pollution vectors). */
export const isDangerousKey = (key: string, value: unknown): boolean =>
  key === "__proto__" || ((key === "constructor" || key === "prototype") && typeof value === "object" && value !== null)

class Parser {
  pos = 0
  readonly text: string
  constructor(text: string) {
    this.text = text
  }

  fail(message: string): never {
    // Internal control flow only: caught in `parse` below and turned into a Result.
    throw new JsonSyntaxError(message, this.pos)
  }

  ws(): void {
    const t = this.text
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++
      else break
    }
  }

  value(depth: number): unknown {
    if (depth >= maxArgumentsDepth) this.fail(`nesting is deeper than ${maxArgumentsDepth} levels`)
    this.ws()
    const c = this.text[this.pos]
    switch (c) {
      case "{":
        return this.object(depth)
      case "[":
        return this.array(depth)
      case '"':
        return this.string()
      case "t":
        return this.word("true", true)
      case "f":
        return this.word("false", false)
      case "n":
        return this.word("null", null)
      case undefined:
        return this.fail("unexpected end of input")
      default:
        if (c === "-" || (c >= "0" && c <= "9")) return this.number()
        return this.fail(`unexpected character ${describe(c)}`)
    }
  }

  word<A>(word: string, value: A): A {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length
      return value
    }
    return this.fail(`unexpected character ${describe(this.text[this.pos] ?? "")}`)
  }

  number(): number {
    const match = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
    match.lastIndex = this.pos
    const m = match.exec(this.text)
    if (m === null) return this.fail("invalid number")
    this.pos += m[0].length
    return Number(m[0])
  }

  string(): string {
    const start = this.pos
    this.pos++
    const t = this.text
    let escaped = false
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos)
      if (c === 0x22) {
        this.pos++
        const raw = t.slice(start, this.pos)
        if (!escaped) return raw.slice(1, -1)
        const decoded: unknown = JSON.parse(raw)
        return typeof decoded === "string" ? decoded : this.fail("invalid string")
      }
      if (c < 0x20) return this.fail("unescaped control character in string")
      if (c === 0x5c) {
        escaped = true
        const next = t[this.pos + 1]
        if (next === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(this.pos + 2, this.pos + 6))) {
            this.pos++
            return this.fail("invalid unicode escape")
          }
          this.pos += 6
          continue
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) {
          this.pos++
          return this.fail("invalid escape sequence")
        }
        this.pos += 2
        continue
      }
      this.pos++
    }
    return this.fail("unterminated string")
  }

  array(depth: number): Array<unknown> {
    this.pos++
    const out: Array<unknown> = []
    this.ws()
    if (this.text[this.pos] === "]") {
      this.pos++
      return out
    }
    for (;;) {
      out.push(this.value(depth + 1))
      this.ws()
      const c = this.text[this.pos]
      if (c === ",") {
        this.pos++
        continue
      }
      if (c === "]") {
        this.pos++
        return out
      }
      return this.fail(c === undefined ? "unexpected end of input, expected ',' or ']'" : "expected ',' or ']'")
    }
  }

  object(depth: number): Record<string, unknown> {
    this.pos++
    const out: Record<string, unknown> = {}
    this.ws()
    if (this.text[this.pos] === "}") {
      this.pos++
      return out
    }
    for (;;) {
      this.ws()
      if (this.text[this.pos] !== '"') {
        return this.fail(
          this.text[this.pos] === undefined ? "unexpected end of input" : "expected a double-quoted property name"
        )
      }
      const key = this.string()
      this.ws()
      if (this.text[this.pos] !== ":") return this.fail("expected ':' after property name")
      this.pos++
      const value = this.value(depth + 1)
      if (!isDangerousKey(key, value)) {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
      }
      this.ws()
      const c = this.text[this.pos]
      if (c === ",") {
        this.pos++
        continue
      }
      if (c === "}") {
        this.pos++
        return out
      }
      return this.fail(c === undefined ? "unexpected end of input, expected ',' or '}'" : "expected ',' or '}'")
    }
  }
}

class JsonSyntaxError {
  readonly message: string
  readonly position: number
  constructor(message: string, position: number) {
    this.message = message
    this.position = position
  }
}

const describe = (c: string): string => (c === "'" ? `"'"` : `'${c}'`)

const locate = (text: string, position: number): { line: number; column: number } => {
  let line = 1
  let last = -1
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++
      last = i
    }
  }
  return { line, column: position - last }
}

/** Parse a JSON text; prototype-polluting keys are dropped. */
export const parse = (text: string): Result.Result<unknown, ParseError> => {
  const parser = new Parser(text)
  // Boundary: the parser uses an exception for control flow; nothing escapes this function.
  try {
    const value = parser.value(0)
    parser.ws()
    if (parser.pos < text.length) parser.fail("unexpected data after the JSON value")
    return Result.succeed(value)
  } catch (error) {
    if (error instanceof JsonSyntaxError) {
      return Result.fail({ message: error.message, position: error.position, ...locate(text, error.position) })
    }
    return Result.fail({ message: "invalid JSON", position: 0, line: 1, column: 1 })
  }
}
