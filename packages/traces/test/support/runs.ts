/**
 * Real agent runs on the scripted Responses server (127.0.0.1, real undici client), traced into a
 * folder by `TraceSink`: `planner` (a restarted turn, two parallel tool calls, a failing tool and a
 * `researcher` sub-agent), `checker` (a model error) and `watcher` (a tool that waits for the test's
 * signal, for the live view) and `approver` (a 503 retried by the client, then a pause for approval). Every run uses a canary API key, and the planner's prompt and a tool's
 * output carry it too, so tests can check it never reaches a file or a page.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent, AgentKnobs } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import { Tool, Toolkit } from "@volley/tools"
import * as TraceSink from "../../src/TraceSink.ts"

/** The canary key (the suite's `VOLLEY_CANARY_KEY` under `npm test`): given to the client, put in the prompt and a tool's output. */
export const canary: string =
  process.env.VOLLEY_CANARY_KEY ?? `sk-volley-CANARY-${Math.random().toString(36).slice(2, 12)}`

/** Hands what a test produced (trace files, pages) to the suite-wide canary sweep; a no-op outside `npm test`. */
export const dropArtefact = (label: string, text: string): void => {
  const dir = process.env.VOLLEY_CANARY_DIR
  if (dir === undefined) return
  fs.mkdirSync(dir, { recursive: true })
  fs.appendFileSync(path.join(dir, `artefacts-traces-${process.pid}.jsonl`), `${JSON.stringify({ label, text })}\n`)
}

const GetWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, tempC: Schema.Number, note: Schema.String })
})
const LookupFlights = Tool.make("lookup_flights", {
  description: "Flights to a city",
  parameters: Schema.Struct({ to: Schema.String }),
  success: Schema.String,
  failure: Schema.Struct({ reason: Schema.String })
})
const WaitForSignal = Tool.make("wait_for_signal", {
  description: "Waits until the operator says go",
  parameters: Schema.Struct({}),
  success: Schema.String
})

const DeleteFile = Tool.make("delete_file", {
  description: "Deletes a file",
  parameters: Schema.Struct({ path: Schema.String }),
  success: Schema.String,
  needsApproval: true
})

const Tools = Toolkit.make(GetWeather, LookupFlights, WaitForSignal, DeleteFile)

const toolsLayer = (signal: Deferred.Deferred<string>) =>
  Tools.toLayer({
    get_weather: ({ city }) =>
      Effect.sleep(Duration.millis(120)).pipe(
        Effect.as({ city, tempC: city.length * 3, note: `fetched with ${canary}` })
      ),
    lookup_flights: () =>
      Effect.sleep(Duration.millis(40)).pipe(Effect.andThen(Effect.fail({ reason: "no flights today" }))),
    wait_for_signal: () => Deferred.await(signal),
    delete_file: ({ path }) => Effect.succeed(`deleted ${path}`)
  })

const researcher = Agent.make({ name: "researcher", model: "small-model", instructions: "Research briefly" })
const planner = Agent.make({
  name: "planner",
  model: "big-model",
  instructions: "Plan trips",
  toolkit: Tools,
  subAgents: [researcher.asTool({ description: "Researches a question" })]
})
const checker = Agent.make({ name: "checker", model: "big-model", instructions: "Check things" })
const watcher = Agent.make({ name: "watcher", model: "big-model", toolkit: Tools })
const approver = Agent.make({ name: "approver", model: "big-model", toolkit: Tools })

const slow = (turn: M.Turn, latencyMs: number): M.Turn =>
  M.withFault(turn, { latency: Duration.millis(latencyMs), chunkDelay: Duration.millis(4) })
const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output
})

const client = (script: ReadonlyArray<M.Step>) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layerUndici({
        baseUrl: server.baseUrl,
        apiKey: Redacted.make(canary),
        captureContent: true
      })
    })
  ).pipe(Layer.provide(ResponsesServer.layer(script)))

/** The sink options every run uses (with a folder for `TraceSink.layer`, or as is for `layerSql`). */
export const sinkOptions: TraceSink.Options = { secrets: [canary], flushInterval: Duration.millis(50) }

/** A trace folder, or a sink layer of its own (e.g. `TraceSink.layerSql(sinkOptions)`). */
export type Target<E2, R2> = string | Layer.Layer<TraceSink.TraceSink, E2, R2>

const traced = <A, E, E2 = never, R2 = never>(
  target: Target<E2, R2>,
  script: ReadonlyArray<M.Step>,
  signal: Deferred.Deferred<string>,
  run: Effect.Effect<A, E, ResponsesClient.ResponsesClient | Layer.Success<ReturnType<typeof toolsLayer>>>
) =>
  run.pipe(
    Effect.provide(Layer.mergeAll(client(script), toolsLayer(signal))),
    Effect.provideService(AgentKnobs.CaptureContent, true),
    Effect.provide(typeof target === "string" ? TraceSink.layer({ ...sinkOptions, dir: target }) : target)
  )

/** The planner's run: restart, parallel tools, a failing tool, a sub-agent. */
export const plannerRun = <E2 = never, R2 = never>(dir: Target<E2, R2>) =>
  Effect.gen(function* () {
    const signal = yield* Deferred.make<string>()
    const calls = M.turn(
      M.message("Let me check both cities."),
      M.functionCall("get_weather", { city: "Paris" }),
      M.functionCall("get_weather", { city: "Rome" }),
      M.functionCall("lookup_flights", { to: "Rome" }),
      M.functionCall("researcher", { input: "Which city is warmer in spring?" })
    )
    const script: ReadonlyArray<M.Step> = [
      M.withFault(calls, { dropAfterEvents: 4, latency: Duration.millis(50), chunkDelay: Duration.millis(4) }),
      slow(M.withUsage(calls, usage(220, 64)), 90),
      slow(M.withUsage(M.message("Rome is usually warmer in spring."), usage(40, 12)), 60),
      slow(M.withUsage(M.message("Rome: 12°C, Paris: 15°C. No flights today; try tomorrow."), usage(410, 38)), 80)
    ]
    return yield* traced(
      dir,
      script,
      signal,
      Stream.runDrain(planner.stream(`Plan a weekend trip (my key is ${canary})`))
    )
  })

/** The checker's run: the model answers 400, the run fails with a typed model error. */
export const checkerRun = (dir: string) =>
  Effect.gen(function* () {
    const signal = yield* Deferred.make<string>()
    return yield* traced(dir, [slow(M.httpError(400), 30)], signal, Effect.exit(checker.run("Check the plan")))
  })

/** The watcher's run: waits in `wait_for_signal` until `signal` is completed. */
export const watcherRun = (dir: string, signal: Deferred.Deferred<string>) =>
  traced(
    dir,
    [
      slow(M.withUsage(M.functionCall("wait_for_signal", {}), usage(30, 8)), 40),
      slow(M.withUsage(M.message("Signal received, done."), usage(50, 9)), 40)
    ],
    signal,
    watcher.run("Wait for the operator")
  )

/** The approver's run: the first request gets a 503 (retried), then a call that needs approval pauses the run. */
export const approverRun = (dir: string) =>
  Effect.gen(function* () {
    const signal = yield* Deferred.make<string>()
    return yield* traced(
      dir,
      [
        M.httpError(503, { headers: { "retry-after-ms": "10" } }),
        slow(M.withUsage(M.functionCall("delete_file", { path: "/tmp/old.log" }), usage(25, 7)), 30)
      ],
      signal,
      approver.run("Clean up old logs")
    )
  })

/** The approver's run paused for approval, then resumed (approved) `waitMs` later on the same server: two segments of one run. */
export const approverResumedRun = (dir: string, waitMs: number) =>
  Effect.gen(function* () {
    const signal = yield* Deferred.make<string>()
    return yield* traced(
      dir,
      [
        slow(M.withUsage(M.functionCall("delete_file", { path: "/tmp/old.log" }), usage(25, 7)), 20),
        slow(M.withUsage(M.message("Deleted /tmp/old.log."), usage(40, 6)), 20)
      ],
      signal,
      Effect.gen(function* () {
        const paused = yield* approver.run("Clean up old logs")
        if (paused._tag !== "Paused") return paused
        yield* Effect.sleep(Duration.millis(waitMs))
        return yield* approver.resume(paused.state, {
          approvals: [approver.approve(paused.state, paused.pending[0]!.callId)]
        })
      })
    )
  })
