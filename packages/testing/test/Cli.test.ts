import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ResponsesServer from "../src/ResponsesServer.ts"
import * as ScriptedModel from "../src/ScriptedModel.ts"
import { decodeEvents, decodeResponse, post, waitFor } from "./helpers.ts"
import { ResponsesSchema } from "@volley/core"

const serveScript = path.join(import.meta.dirname, "..", "src", "bin", "serve.ts")

interface Served {
  readonly baseUrl: string
  readonly stderr: () => string
  readonly child: ChildProcess
}

/** Spawns `node src/bin/serve.ts ...args` (this process's Node 24) and waits for the URL line. */
const serve = (args: ReadonlyArray<string>, env?: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<Served>((resolve, reject) => {
          const child = spawn(process.execPath, [serveScript, ...args], {
            env: { ...process.env, ...env },
            stdio: ["ignore", "pipe", "pipe"]
          })
          let stdout = ""
          let stderr = ""
          child.stderr.on("data", (chunk: Buffer) => {
            stderr += chunk.toString()
          })
          child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk.toString()
            const line = stdout.split("\n")[0]
            if (stdout.includes("\n") && line !== undefined)
              resolve({ baseUrl: line.trim(), stderr: () => stderr, child })
          })
          child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)))
        })
    ),
    (served) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            if (served.child.exitCode !== null) return resolve()
            served.child.once("exit", () => resolve())
            served.child.kill("SIGTERM")
          })
      )
  )

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "volley-cli-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const weather = {
  type: "function",
  name: "get_weather",
  description: "Get the current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}

describe("serve CLI", () => {
  it.live("--local: prints the base URL, says on stderr it is volley-local, answers fetch", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--local"])
      assert.match(served.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      const answer = yield* post(served.baseUrl, {
        model: "x",
        input: "What's the weather in Paris and Tokyo?",
        tools: [weather]
      })
      const response = decodeResponse(answer.text)
      assert.strictEqual(response.model, "volley-local")
      assert.deepStrictEqual(
        response.output?.map((item) => item.type),
        ["function_call", "function_call"]
      )
      const streamed = yield* post(served.baseUrl, { model: "x", input: "hello", stream: true })
      assert.strictEqual(decodeEvents(streamed.text).at(-1)?.type, "response.completed")
      yield* waitFor(
        Effect.sync(() => served.stderr().includes("volley-local")),
        "the notice on stderr"
      )
    })
  )

  it.live("--script FILE.json serves the scripted turns in order", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "script.json")
      const script = [
        { text: "first" },
        { calls: [{ name: "get_weather", arguments: { city: "Oslo" } }] },
        { fault: { status: 429, headers: { "retry-after": "2" } } }
      ]
      yield* Effect.promise(() => fs.writeFile(file, JSON.stringify(script)))
      const served = yield* serve(["--script", file])
      const a = decodeResponse((yield* post(served.baseUrl, { model: "x", input: "a" })).text)
      assert.strictEqual(ResponsesSchema.outputText(a.output ?? []), "first")
      const b = decodeResponse((yield* post(served.baseUrl, { model: "x", input: "b" })).text)
      assert.strictEqual(b.output?.[0]?.type, "function_call")
      const c = yield* post(served.baseUrl, { model: "x", input: "c" })
      assert.strictEqual(c.status, 429)
      assert.strictEqual(c.headers.get("retry-after"), "2")
      const extra = yield* post(served.baseUrl, { model: "x", input: "d" })
      assert.strictEqual(extra.status, 500)
    })
  )

  it.live("--script FILE.js: a module default-exporting turns (builders or specs)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "script.mjs")
      const builders = path.join(import.meta.dirname, "..", "src", "ScriptedModel.ts")
      yield* Effect.promise(() =>
        fs.writeFile(
          file,
          `import * as ScriptedModel from ${JSON.stringify(builders)}\n` +
            `export default [ScriptedModel.refusal("no"), { text: "spec" }]\n`
        )
      )
      const served = yield* serve(["--script", file])
      const a = decodeResponse((yield* post(served.baseUrl, { model: "x", input: "a" })).text)
      assert.strictEqual((a.output![0] as unknown as { content: Array<{ type: string }> }).content[0]?.type, "refusal")
      const b = decodeResponse((yield* post(served.baseUrl, { model: "x", input: "b" })).text)
      assert.strictEqual(ResponsesSchema.outputText(b.output ?? []), "spec")
    })
  )

  it.live("--record DIR --upstream URL, then --replay DIR", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const key = "sk-volley-CANARY-cli-recording-key"
      const recorded = yield* Effect.gen(function* () {
        const upstream = yield* ResponsesServer.ResponsesServer
        const recorder = yield* serve(["--record", dir, "--upstream", upstream.baseUrl], { HAOAI_API_KEY: key })
        const answer = yield* post(recorder.baseUrl, { model: "x", input: "hi", stream: true })
        const seen = yield* upstream.requests
        assert.strictEqual(seen[0]?.headers.authorization, `Bearer ${key}`)
        return answer.text
      }).pipe(Effect.provide(ResponsesServer.layer([ScriptedModel.message("recorded answer")])))
      const fixture = yield* Effect.promise(() => fs.readFile(path.join(dir, "0001.json"), "utf8"))
      assert.notInclude(fixture, key)
      const replayer = yield* serve(["--replay", dir])
      const replayed = yield* post(replayer.baseUrl, { model: "x", input: "hi", stream: true })
      assert.strictEqual(replayed.text, recorded)
      const mismatch = yield* post(replayer.baseUrl, { model: "x", input: "other", stream: true })
      assert.strictEqual(mismatch.status, 400)
      // the child's stderr may arrive after the HTTP answer
      yield* waitFor(
        Effect.sync(() => replayer.stderr().includes("matches no fixture")),
        "the mismatch on stderr"
      )
    })
  )
})
