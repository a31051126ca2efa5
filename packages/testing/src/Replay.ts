/**
 * Replay mode: the local server answers from fixtures written by record mode, matching each request
 * to the first unused fixture whose normalised body is equal (ids and timestamps ignored, see
 * `Fixture.normalise`). A request matching nothing gets a 400 `volley_replay_mismatch` error whose
 * message holds a unified diff against the next unused fixture, and `assertComplete` fails with it.
 * Entry points: `handler(fixtures)`, `layer(dir)`, `layerHttpClient(dir)`. Gotcha: replay writes the
 * recorded bytes with no delays at all, so it is safe under `TestClock`.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TextDiff from "effect/TextDiff"
import type * as HttpClient from "effect/http/HttpClient"
import * as Fixture from "./Fixture.ts"
import { type Action, type Handler, jsonActions, plan, ScriptIncomplete, write } from "./Handler.ts"
import * as ResponsesServer from "./ResponsesServer.ts"

/** Options of a replay handler. */
export interface Options {
  /** Called with the readable message of each mismatch (the CLI prints it on stderr). */
  readonly onMismatch?: ((message: string) => void) | undefined
}

/** A handler serving `fixtures` in order of first match. */
export const handler = (fixtures: ReadonlyArray<Fixture.Loaded>, options?: Options): Handler => {
  const used = new Set<number>()
  const mismatches: Array<string> = []
  const keys = fixtures.map((loaded) => pretty(Fixture.normalise(loaded.fixture.request.body)))
  return {
    handle: (_body, request) =>
      Effect.sync(() => {
        const received = pretty(Fixture.normalise(parse(request.rawBody)))
        const index = keys.findIndex((key, i) => !used.has(i) && key === received)
        if (index !== -1) {
          used.add(index)
          return plan(answer(fixtures[index]!.fixture))
        }
        const next = fixtures.findIndex((_, i) => !used.has(i))
        const against = next === -1 ? undefined : fixtures[next]!
        const diff =
          against === undefined ? "(no unused fixture left)" : TextDiff.unified(TextDiff.lines(keys[next]!, received))
        const message =
          `volley-testing replay: request #${request.index} matches no fixture. ` +
          (against === undefined ? diff : `Diff against ${against.file} (- recorded, + received):\n${diff}`)
        mismatches.push(message)
        options?.onMismatch?.(message)
        return plan(jsonActions(400, { error: { message, type: "volley_replay_mismatch", param: null, code: null } }))
      }),
    check: Effect.sync(() => {
      const unused = fixtures.filter((_, i) => !used.has(i)).map((loaded) => loaded.file)
      const problems = [...mismatches]
      if (unused.length > 0) problems.push(`${unused.length} fixture(s) never requested: ${unused.join(", ")}`)
      return problems.length === 0
        ? undefined
        : new ScriptIncomplete({
            message: problems.join("\n"),
            unusedTurns: unused.length,
            extraRequests: mismatches.length,
            problems
          })
    })
  }
}

/** A local server replaying the fixtures of `dir`. */
export const layer = (
  dir: string,
  options?: Options & Omit<ResponsesServer.Options, "script" | "fallback" | "handler">
): Layer.Layer<ResponsesServer.ResponsesServer, Fixture.FixtureError> =>
  Layer.unwrap(
    Effect.map(Fixture.readAll(dir), (fixtures) =>
      ResponsesServer.layer({ ...options, handler: handler(fixtures, options) })
    )
  )

/** An in-memory `HttpClient` replaying the fixtures of `dir` (no socket). */
export const layerHttpClient = (
  dir: string,
  options?: Options
): Layer.Layer<HttpClient.HttpClient | ResponsesServer.ResponsesServer, Fixture.FixtureError> =>
  Layer.unwrap(
    Effect.map(Fixture.readAll(dir), (fixtures) =>
      ResponsesServer.layerHttpClient({ handler: handler(fixtures, options) })
    )
  )

const answer = (fixture: Fixture.Fixture): ReadonlyArray<Action> => {
  const { status, headers, body, sse, text } = fixture.response
  if (sse !== undefined) {
    const frames = sse.match(/[\s\S]*?(?:\r\n\r\n|\n\n|\r\r|$)/g)?.filter((frame) => frame.length > 0) ?? [sse]
    return [{ _tag: "Head", status, headers }, ...frames.map((frame) => write(frame)), { _tag: "End" }]
  }
  if (body !== undefined) return jsonActions(status, body, headers)
  return [{ _tag: "Head", status, headers }, write(text ?? ""), { _tag: "End" }]
}

const pretty = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`

const parse = (text: string): unknown => {
  try {
    // boundary: the server already validated the body; this only re-reads it for comparison
    return JSON.parse(text)
  } catch {
    return text
  }
}
