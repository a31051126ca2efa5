/**
 * Every recorded response body and SSE stream of `test/fixtures/conformance/` served through the client
 * (in-memory HttpClient): JSON bodies decode through `create` (or give the typed error their status
 * calls for), and SSE streams run through `stream` to their terminal event; never a defect.
 */
import { readdirSync, readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { clientOver, makeFake, request } from "./support/fakeHttp.ts"
import { corpusRoot } from "./support/sse.ts"

const files = (folder: string) => readdirSync(new URL(`${folder}/`, corpusRoot)).sort()
const read = (folder: string, name: string) => readFileSync(new URL(`${folder}/${name}`, corpusRoot))

describe("ResponsesClient over the recorded corpus", () => {
  it.effect("A13 every recorded JSON response decodes through create(), or fails typed by its status", () =>
    Effect.gen(function* () {
      const names = files("json")
      assert.isAbove(names.length, 50)
      for (const name of names) {
        const body = read("json", name)
        const fake = makeFake(
          () => new Response(body, { status: 200, headers: { "content-type": "application/json" } })
        )
        const client = yield* clientOver(fake, { retryPolicy: { maxRetries: 0 } })
        const exit = yield* Effect.exit(client.create(request))
        const status = JSON.parse(body.toString("utf8")).status
        if (status === "completed" || status === "incomplete") {
          assert.isTrue(Exit.isSuccess(exit), `${name}: ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""}`)
        } else {
          assert.isTrue(Exit.isFailure(exit), name)
          const error = Cause.findErrorOption((exit as Exit.Failure<unknown, { readonly _tag: string }>).cause)
          assert.strictEqual(error._tag, "Some", `${name}: not a typed failure`)
        }
      }
    })
  )

  it.effect("B12 every recorded SSE stream runs through stream() to its terminal event, or fails typed", () =>
    Effect.gen(function* () {
      const names = files("sse")
      assert.isAbove(names.length, 50)
      for (const name of names) {
        const body = read("sse", name)
        const fake = makeFake(
          () => new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } })
        )
        const client = yield* clientOver(fake, { retryPolicy: { maxRetries: 0 } })
        const exit = yield* Effect.exit(Stream.runCollect(client.stream(request)))
        if (Exit.isSuccess(exit)) {
          assert.include(["response.completed", "response.incomplete"], exit.value.at(-1)?.type, name)
        } else {
          const error = Cause.findErrorOption(exit.cause)
          assert.strictEqual(error._tag, "Some", `${name}: ${Cause.pretty(exit.cause)}`)
          assert.strictEqual(
            (error as { readonly value: { readonly _tag: string } }).value._tag,
            "ResponseFailed",
            name
          )
        }
        assert.strictEqual(fake.seen.length, 1)
      }
    })
  )
  it.effect("A12 every recorded error body maps to a typed error with a bounded message and its code", () =>
    Effect.gen(function* () {
      const sources = JSON.parse(readFileSync(new URL("sources.json", corpusRoot), "utf8")) as ReadonlyArray<{
        readonly file: string
        readonly origin?: { readonly httpStatus?: number | null }
      }>
      const names = files("errors")
      assert.isAbove(names.length, 10)
      let withRecordedStatus = 0
      for (const name of names) {
        const body = read("errors", name)
        const recorded = sources.find((source) => source.file === `errors/${name}`)?.origin?.httpStatus
        const status = typeof recorded === "number" && recorded >= 400 ? recorded : 400
        if (typeof recorded === "number") withRecordedStatus++
        const fake = makeFake(() => new Response(body, { status, headers: { "content-type": "application/json" } }))
        const client = yield* clientOver(fake, { retryPolicy: { maxRetries: 0 } })
        const exit = yield* Effect.exit(client.create(request))
        assert.isTrue(Exit.isFailure(exit), name)
        const found = Cause.findErrorOption(
          (exit as Exit.Failure<unknown, { readonly _tag: string; readonly message: string }>).cause
        )
        assert.strictEqual(found._tag, "Some", name)
        const error = (
          found as { readonly value: { readonly _tag: string; readonly message: string; readonly code?: string } }
        ).value
        assert.isAtMost(Buffer.byteLength(error.message, "utf8"), 1024, name)
        const code = JSON.parse(body.toString("utf8"))?.error?.code
        if (error._tag === "InvalidRequestError" && typeof code === "string") assert.strictEqual(error.code, code, name)
      }
      assert.isAbove(withRecordedStatus, 0, "recorded statuses were used where the source has them")
    })
  )
})
