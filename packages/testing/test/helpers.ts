/**
 * Test helpers: a plain `fetch` client for the local server and a small WHATWG-style SSE parser,
 * so these tests do not depend on the core HTTP client (written concurrently).
 */
import * as Effect from "effect/Effect"
import { ResponsesSchema } from "@volley/core"

/** A canary key that must never leak into fixtures or errors. */
export const canary = process.env.VOLLEY_CANARY_KEY ?? `sk-volley-CANARY-${Math.random().toString(36).slice(2, 10)}`

/** What a test sees of an HTTP answer. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

/** POSTs a JSON body (or a raw string) to `${baseUrl}/responses` and reads the whole answer. */
export const post = (baseUrl: string, body: unknown, headers?: Record<string, string>): Effect.Effect<Answer> =>
  Effect.promise(async (signal) => {
    const response = await fetch(`${baseUrl}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${canary}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      redirect: "manual",
      signal
    })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** POSTs and returns the rejection (as a string) or the status, for faults that break the connection. */
export const postSettled = (
  baseUrl: string,
  body: unknown
): Effect.Effect<{ readonly error?: string; readonly answer?: Answer }> =>
  Effect.promise(async (signal) => {
    try {
      const response = await fetch(`${baseUrl}/responses`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal
      })
      return { answer: { status: response.status, headers: response.headers, text: await response.text() } }
    } catch (error) {
      return { error: String((error as { cause?: unknown }).cause ?? error) }
    }
  })

/** Raw SSE frames: `event` name (if any) and joined `data`. LF, CRLF and CR line ends; comments skipped. */
export const parseFrames = (text: string): Array<{ readonly event?: string; readonly data: string }> => {
  const frames: Array<{ event?: string; data: string }> = []
  let event: string | undefined
  let data: Array<string> = []
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === "") {
      if (data.length > 0)
        frames.push(event === undefined ? { data: data.join("\n") } : { event, data: data.join("\n") })
      event = undefined
      data = []
    } else if (line.startsWith(":")) {
    } else if (line.startsWith("data:")) {
      data.push(line.slice(5).replace(/^ /, ""))
    } else if (line.startsWith("event:")) {
      event = line.slice(6).replace(/^ /, "")
    }
  }
  return frames
}

/** Decodes every frame but `[DONE]` with core's stream-event schema. */
export const decodeEvents = (text: string): Array<ResponsesSchema.StreamEvent> =>
  parseFrames(text)
    .filter((f) => f.data !== "[DONE]")
    .map((f) => ResponsesSchema.decodeStreamEventUnsafe(JSON.parse(f.data)))

/** Decodes a JSON answer with core's response schema. */
export const decodeResponse = (text: string) => ResponsesSchema.decodeResponseUnsafe(JSON.parse(text))

/** A minimal request body. */
export const request = (input: unknown = "hi", extra?: Record<string, unknown>) => ({
  model: "test-model",
  input,
  ...extra
})

/** Waits (in real time, outside the Effect clock) until `check` holds; fails the test after 5 s. */
export const waitFor = (check: Effect.Effect<boolean>, what = "condition"): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      if (yield* check) return
      yield* realSleep(10)
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

/** A real-time sleep that ignores `TestClock` (for waiting on sockets). */
export const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** An open streaming answer read incrementally over a real socket. */
export interface OpenStream {
  readonly status: number
  readonly headers: Headers
  /** Reads until `done(text)` holds or `millis` of real time pass; returns all text so far and how it ended. */
  readonly readUntil: (
    done: (text: string) => boolean,
    millis?: number
  ) => Effect.Effect<{ readonly text: string; readonly ended: "match" | "eof" | "timeout" | "error" }>
  readonly abort: Effect.Effect<void>
}

/** POSTs and returns once headers arrived (or fails the test with the connection error). */
export const open = (baseUrl: string, body: unknown): Effect.Effect<OpenStream> =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(`${baseUrl}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal
    })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let text = ""
    let pending: ReturnType<typeof reader.read> | undefined
    const readUntil: OpenStream["readUntil"] = (done, millis = 2_000) =>
      Effect.promise(async () => {
        const deadline = Date.now() + millis
        while (!done(text)) {
          const remaining = deadline - Date.now()
          if (remaining <= 0) return { text, ended: "timeout" as const }
          pending ??= reader.read()
          let timer: ReturnType<typeof setTimeout> | undefined
          const result = await Promise.race([
            pending.then(
              (r) => ({ r }),
              (error: unknown) => ({ error })
            ),
            new Promise<"timeout">((resolve) => {
              timer = setTimeout(() => resolve("timeout"), remaining)
            })
          ])
          clearTimeout(timer)
          if (result === "timeout") return { text, ended: "timeout" as const }
          pending = undefined
          if ("error" in result) return { text, ended: "error" as const }
          if (result.r.done) return { text, ended: "eof" as const }
          text += decoder.decode(result.r.value, { stream: true })
        }
        return { text, ended: "match" as const }
      })
    return {
      status: response.status,
      headers: response.headers,
      readUntil,
      abort: Effect.sync(() => controller.abort())
    }
  })
