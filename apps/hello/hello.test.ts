/**
 * Tests of the apps/hello template: the agent against scripted turns in memory (`TestClient.layer`),
 * and the program run as a user runs it (`node apps/hello/main.ts`: no key, so volley-local). Copy
 * and adapt them with the template.
 */
import { spawn } from "node:child_process"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { LocalModel, RecordedRequest, ResponsesServer, ScriptedModel, TestClient } from "@volley/testing"
import { Effect, Layer } from "effect"
import { agent, HelloHandlers } from "./main.ts"

const mainFile = join(import.meta.dirname, "main.ts")

/** Runs `node main.ts ...args` with only PATH and HOME (a developer's HAOAI_API_KEY never leaks in). */
const runMain = (args: ReadonlyArray<string>) =>
  Effect.promise(
    () =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [mainFile, ...args], {
          env: { PATH: process.env.PATH, HOME: process.env.HOME },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString("utf8")
        })
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8")
        })
        child.on("close", (code) => resolve({ code, stdout, stderr }))
      })
  )

describe("apps/hello", () => {
  it.effect("calls get_weather with the model's arguments and answers from its output", () =>
    Effect.gen(function* () {
      const result = yield* agent.run("What's the weather in Oslo?")
      assert.strictEqual(result._tag, "Completed")
      if (result._tag === "Completed") assert.strictEqual(result.output, "Oslo: 21°C, sunny.")
      const requests = yield* (yield* ResponsesServer.ResponsesServer).requests
      assert.strictEqual(requests.length, 2)
      const outputs = RecordedRequest.functionCallOutputs(requests[1]!)
      assert.deepStrictEqual(
        outputs.map((output) => (typeof output.output === "string" ? JSON.parse(output.output) : output.output)),
        [{ city: "Oslo", celsius: 21, sky: "sunny" }]
      )
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          HelloHandlers,
          TestClient.layer([
            ScriptedModel.functionCall("get_weather", { city: "Oslo" }),
            ScriptedModel.message("Oslo: 21°C, sunny.")
          ])
        )
      )
    )
  )

  it.live("node apps/hello/main.ts runs without a key on volley-local", () =>
    Effect.gen(function* () {
      const ran = yield* runMain(["What's the weather in Oslo?"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "Oslo")
      assert.include(ran.stdout, "21")
      assert.strictEqual(ran.stderr, `${LocalModel.notice}\n`)
    })
  )
})
