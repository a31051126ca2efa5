import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { OtlpReceiver, ResponsesServer, ScriptedModel as M } from "@volley/testing"
import { Effect } from "effect"
import { examplePath, type Ran, runScript, startScript, waitForStderr } from "../shared/process.ts"
import { defaultPrompt, describeError, makeStyle, parseArgs } from "./cli.ts"
import { weatherFor } from "./weather.ts"

const { metricNames, receiver, spanNames } = OtlpReceiver

// The demo contract of `npm run demo`, end to end: the CLI is spawned as a separate process against
// the embedded volley-local model, or against a scripted local server standing in for the API.
const main = examplePath("quickstart/main.ts")
const key = `sk-volley-CANARY-${Math.random().toString(36).slice(2, 12)}`

const demo = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => runScript(main, args, env)

const against = (baseUrl: string) => ({ HAOAI_BASE_URL: baseUrl, HAOAI_API_KEY: key })

const assertNoLeak = (ran: Ran) => {
  for (const text of [ran.stdout, ran.stderr]) {
    assert.notInclude(text, key)
    assert.notInclude(text, key.slice(-8))
    assert.notMatch(text, /\n\s+at .+:\d+:\d+/, "no stack trace")
  }
}

describe("demo CLI: arguments and messages", () => {
  it("parses flags and the prompt; rejects bad flags", () => {
    assert.deepStrictEqual(parseArgs([]), {
      stream: true,
      maxTurns: undefined,
      model: undefined,
      prompt: defaultPrompt
    })
    assert.deepStrictEqual(parseArgs(["--no-stream", "--max-turns", "3", "--model", "x/y", "Hi", "there"]), {
      stream: false,
      maxTurns: 3,
      model: "x/y",
      prompt: "Hi there"
    })
    assert.deepStrictEqual(parseArgs(["--max-turns=2", "--model=m", "--", "--weird"]), {
      stream: true,
      maxTurns: 2,
      model: "m",
      prompt: "--weird"
    })
    assert.isString(parseArgs(["--max-turns", "0"]))
    assert.isString(parseArgs(["--max-turns"]))
    assert.isString(parseArgs(["--model"]))
    assert.isString(parseArgs(["--colour"]))
  })

  it("uses colour only on terminals without NO_COLOR", () => {
    assert.strictEqual(makeStyle({}, true, true).dim("x"), "\u001b[2mx\u001b[0m")
    assert.strictEqual(makeStyle({ NO_COLOR: "1" }, true, true).dim("x"), "x")
    assert.strictEqual(makeStyle({}, false, true).dim("x"), "x")
  })

  it("describes a turn limit plainly", () => {
    const message = describeError({ _tag: "MaxTurnsExceeded", limit: 4 } as Parameters<typeof describeError>[0])
    assert.strictEqual(message, "turn limit of 4 reached")
  })

  it("gives deterministic, plausible weather for a city (case and spaces do not matter)", () => {
    const paris = weatherFor("Paris")
    assert.deepStrictEqual(weatherFor("Paris"), paris)
    assert.deepStrictEqual({ ...weatherFor("  paris "), city: "Paris" }, paris)
    assert.notDeepEqual(weatherFor("Tokyo"), { ...paris, city: "Tokyo" })
    for (const city of ["Paris", "Tokyo", "Oslo", "Lagos", "Lima"]) {
      const weather = weatherFor(city)
      assert.isTrue(weather.temperatureC >= -5 && weather.temperatureC <= 30)
      assert.isTrue(weather.windKmh >= 0 && weather.windKmh < 40)
    }
  })
})

describe("demo CLI: the embedded volley-local model (no key)", () => {
  it.live("streams by default: tool calls on stderr, the answer alone on stdout", () =>
    Effect.gen(function* () {
      const ran = yield* demo(["What's the weather in Paris and Tokyo?"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stderr, "volley-local")
      assert.include(ran.stderr, 'get_weather({"city":"Paris"})')
      assert.include(ran.stderr, 'get_weather({"city":"Tokyo"})')
      const paris = weatherFor("Paris")
      assert.include(ran.stdout, "Paris")
      assert.include(ran.stdout, String(paris.temperatureC))
      assert.include(ran.stdout, "Tokyo")
      assert.notInclude(ran.stdout, "get_weather")
      assert.notInclude(ran.stdout, "\u001b[", "no colours when stdout is not a terminal")
    })
  )

  it.live("--no-stream gives the same answer; no prompt asks the default question", () =>
    Effect.gen(function* () {
      const streamed = yield* demo([])
      const plain = yield* demo(["--no-stream"])
      assert.strictEqual(streamed.code, 0, streamed.stderr)
      assert.strictEqual(plain.code, 0, plain.stderr)
      assert.strictEqual(plain.stdout, streamed.stdout)
      assert.include(plain.stdout, "Paris")
    })
  )

  it.live("a usage error exits 2 with one line", () =>
    Effect.gen(function* () {
      const ran = yield* demo(["--max-turns", "zero"])
      assert.strictEqual(ran.code, 2)
      assert.include(ran.stderr, "--max-turns needs a positive integer")
      // the usage line names every flag, --trace too (main.ts takes it out before parseArgs)
      assert.include(ran.stderr, "[--otlp URL]")
      assert.include(ran.stderr, "[--trace]")
      assert.strictEqual(ran.stdout, "")
    })
  )
})

const answer = "It is 18 °C in Paris — 北京 is 25 °C 🌍. Ünïcødé survives."

layer(
  ResponsesServer.layer([
    // streaming run
    M.turn(M.functionCall("get_weather", { city: "Paris" }), M.functionCall("get_weather", { city: "Beijing" })),
    M.withFault(M.message(answer), { chunking: "byte" }),
    // --no-stream run
    M.functionCall("get_weather", { city: "Paris" }),
    M.message(answer)
  ]),
  { excludeTestServices: true }
)("demo CLI: a scripted server standing in for the API", (it) => {
  it.effect(
    "the answer reaches stdout byte for byte (multi-byte text split into one-byte chunks), streaming and not",
    () =>
      Effect.gen(function* () {
        const server = yield* ResponsesServer.ResponsesServer
        const streamed = yield* demo(
          ["--model", "test/model", "Weather in Paris and Beijing?"],
          against(server.baseUrl)
        )
        assert.strictEqual(streamed.code, 0, streamed.stderr)
        assert.strictEqual(streamed.stdout, answer)
        assert.include(streamed.stderr, `using ${server.baseUrl}`)
        const plain = yield* demo(
          ["--no-stream", "--model", "test/model", "Weather in Paris?"],
          against(server.baseUrl)
        )
        assert.strictEqual(plain.code, 0, plain.stderr)
        assert.strictEqual(plain.stdout, answer)
        const requests = yield* server.requests
        assert.deepStrictEqual(
          requests.map((request) => request.body?.stream),
          [true, true, false, false]
        )
        assert.strictEqual(requests[0]?.body?.model, "test/model")
        yield* server.assertComplete
        assertNoLeak(streamed)
        assertNoLeak(plain)
      })
  )
})

describe("demo CLI: failures", () => {
  const scripted = (script: ReadonlyArray<M.Step>, args: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const ran = yield* demo(args, against(server.baseUrl))
      const requests = yield* server.requests
      return { ran, requests }
    }).pipe(Effect.provide(ResponsesServer.layer(script)))

  it.live("a 429 is retried (shown on stderr) and the run completes", () =>
    Effect.gen(function* () {
      const { ran, requests } = yield* scripted(
        [M.httpError(429, { headers: { "retry-after-ms": "10" } }), M.message("Fine weather.")],
        ["Hello"]
      )
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.strictEqual(ran.stdout, "Fine weather.")
      assert.include(ran.stderr, "retrying after RateLimitError")
      assert.strictEqual(requests.length, 2)
      assertNoLeak(ran)
    })
  )

  it.live("a 401 exits non-zero with the status and the API's message, once, and never the key", () =>
    Effect.gen(function* () {
      const { ran, requests } = yield* scripted(
        [
          M.httpError(401, {
            body: {
              error: {
                message: `Incorrect API key provided: ${key}`,
                type: "invalid_request_error",
                code: "invalid_api_key"
              }
            }
          })
        ],
        ["Hello"]
      )
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(requests.length, 1, "401 is tried once")
      const lines = ran.stderr.trim().split("\n")
      const last = lines[lines.length - 1] ?? ""
      assert.match(last, /^error: authentication failed \(HTTP 401\): .*Incorrect API key provided/)
      assert.strictEqual(ran.stdout, "")
      assertNoLeak(ran)
    })
  )

  it.live("a model that never stops calling tools ends at the turn limit with a clear message", () =>
    Effect.gen(function* () {
      const always = M.responder(() => M.functionCall("get_weather", { city: "Paris" }))
      const { ran, requests } = yield* scripted([always, always, always, always], ["--max-turns", "3", "Loop"])
      assert.strictEqual(ran.code, 1)
      assert.match(ran.stderr, /error: turn limit of 3 reached\n$/)
      assert.strictEqual(requests.length, 3)
      assertNoLeak(ran)
    })
  )

  it.live("a failed response says the model failed, with its message", () =>
    Effect.gen(function* () {
      const { ran } = yield* scripted(
        [M.failed({ code: "server_error", message: "The model crashed" })],
        ["--no-stream", "Hi"]
      )
      assert.strictEqual(ran.code, 1)
      assert.match(ran.stderr, /error: the model failed: .*The model crashed/)
      assertNoLeak(ran)
    })
  )
})

// A hostile server: whatever it sends, the demo's output holds no control character but newline and
// tab (no escape sequence can retitle the window, clear the screen or forge a link), and the base URL
// is shown without its user info or query.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const controlCharacter = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

describe("demo CLI: a hostile server", () => {
  const scripted = (script: ReadonlyArray<M.Step>, args: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      return yield* demo(args, against(server.baseUrl))
    }).pipe(Effect.provide(ResponsesServer.layer(script)))

  it.live("escape sequences in text deltas, tool names and arguments never reach the terminal", () =>
    Effect.gen(function* () {
      const hostile =
        "Sunny\u001b]8;;http://evil.example\u0007 in\tParis\u001b[2J\n\u001b[31mred\u001b[0m \u009b2Jdone\r"
      const ran = yield* scripted(
        [
          M.turn(
            M.functionCall("get\u001b[2J_weather\u001b]0;pwned\u0007", { city: "Oslo" }),
            M.functionCall("get_weather", '{"city":"Par\u001b]0;pwned\u0007is"}')
          ),
          M.message(hostile)
        ],
        ["--model", "test/model", "Weather?"]
      )
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.strictEqual(ran.stdout, "Sunny]8;;http://evil.example in\tParis[2J\n[31mred[0m 2Jdone")
      assert.include(ran.stderr, "→ get[2J_weather]0;pwned(")
      assert.include(ran.stderr, 'get_weather({"city":"Par]0;pwnedis"})')
      assert.notMatch(ran.stdout, controlCharacter)
      assert.notMatch(ran.stderr, controlCharacter)
      assertNoLeak(ran)
    })
  )

  it.live("escape sequences in an error message are removed from the error line", () =>
    Effect.gen(function* () {
      const ran = yield* scripted(
        [M.failed({ code: "server_error", message: "The model \u001b]0;pwned\u0007crashed\u001b[2J" })],
        ["--no-stream", "Hi"]
      )
      assert.strictEqual(ran.code, 1)
      assert.match(ran.stderr, /error: the model failed: .*The model \]0;pwnedcrashed\[2J\n$/)
      assert.notMatch(ran.stderr, controlCharacter)
      assertNoLeak(ran)
    })
  )

  it.live("the base URL is shown as scheme, host and path: never its user info or query", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const url = new URL(server.baseUrl)
      const shown = `volley: using http://${url.host}${url.pathname}\n`
      const query = `QUERY-${Math.random().toString(36).slice(2, 10)}`
      const withQuery = yield* demo(["Hi"], {
        ...against(server.baseUrl),
        HAOAI_BASE_URL: `${server.baseUrl}?key=${query}`
      })
      assert.strictEqual(withQuery.code, 0, withQuery.stderr)
      assert.strictEqual(withQuery.stdout, "Fine weather.")
      assert.include(withQuery.stderr, shown)
      const password = `PASS-${Math.random().toString(36).slice(2, 10)}`
      const withUser = yield* demo(["Hi"], {
        ...against(server.baseUrl),
        HAOAI_BASE_URL: `http://alice:${password}@${url.host}${url.pathname}?key=${query}#frag`
      })
      assert.strictEqual(withUser.code, 1, "credentials in the user info are refused")
      assert.include(withUser.stderr, shown)
      for (const ran of [withQuery, withUser]) {
        for (const text of [ran.stdout, ran.stderr]) {
          assert.notInclude(text, query)
          assert.notInclude(text, password)
          assert.notInclude(text, "alice")
          assert.notInclude(text, "frag")
        }
        assertNoLeak(ran)
      }
    }).pipe(Effect.provide(ResponsesServer.layer([M.message("Fine weather.")])))
  )

  it.live("the other examples' shared backend line hides the user info and query too", () =>
    Effect.gen(function* () {
      const secret = `SECRET-${Math.random().toString(36).slice(2, 10)}`
      const ran = yield* runScript(examplePath("workflow/main.ts"), ["topic"], {
        HAOAI_API_KEY: key,
        HAOAI_BASE_URL: `http://alice:${secret}@127.0.0.1:9/v1?key=${secret}`
      })
      assert.strictEqual(ran.code, 1, "credentials in the user info are refused")
      assert.include(ran.stderr, "volley: using http://127.0.0.1:9/v1\n")
      assert.notInclude(ran.stderr + ran.stdout, secret)
      assert.notInclude(ran.stderr + ran.stdout, "alice")
      assertNoLeak(ran)
    })
  )

  it.live("Ctrl-C mid-stream prints what was streamed, says interrupted and exits 130", () =>
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      const words = "one two three four five six seven eight nine ten eleven twelve"
      const started = yield* startScript(main, ["Count"], against(server.baseUrl))
      // The server hangs after a few deltas: wait for the request, then for the deltas to arrive.
      yield* Effect.gen(function* () {
        while ((yield* server.requests).length === 0) yield* Effect.sleep("20 millis")
      }).pipe(Effect.timeout("20 seconds"))
      yield* Effect.sleep("1 second")
      yield* started.signal("SIGINT")
      const ran = yield* started.ran
      assert.strictEqual(ran.code, 130, ran.stderr)
      assert.match(ran.stdout, /^one two three/, "the deltas streamed before Ctrl-C are shown")
      assert.isTrue(words.startsWith(ran.stdout) && ran.stdout !== words, ran.stdout)
      assert.match(ran.stderr, /interrupted\n$/)
      assertNoLeak(ran)
    }).pipe(
      Effect.provide(
        ResponsesServer.layer([
          M.withFault(M.message("one two three four five six seven eight nine ten eleven twelve"), {
            stall: { afterEvents: 8 }
          })
        ])
      )
    )
  )
})

describe("demo CLI: --otlp", () => {
  it("parses --otlp URL and refuses a value that is not an http(s) URL", () => {
    const parsed = parseArgs(["--otlp", "http://127.0.0.1:4318", "hi"])
    assert.strictEqual(typeof parsed === "string" ? parsed : parsed.otlp, "http://127.0.0.1:4318")
    assert.strictEqual(typeof parsed === "string" ? parsed : parsed.prompt, "hi")
    assert.include(String(parseArgs(["--otlp"])), "--otlp needs a collector URL")
    assert.include(String(parseArgs(["--otlp=file:///etc/passwd"])), "--otlp needs a collector URL")
  })

  it.live("exports the run's spans and GenAI metrics to the collector, and the answer is unchanged", () =>
    Effect.gen(function* () {
      const collector = yield* receiver
      const ran = yield* demo(["--otlp", collector.url, "What's the weather in Paris?"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, "Paris")
      assert.include(ran.stderr, `volley: exporting traces and metrics to ${collector.url}`)
      const spans = spanNames(collector.received)
      assert.include(spans, "invoke_agent quickstart")
      assert.include(spans, "execute_tool get_weather")
      assert.isTrue(spans.some((name) => name.startsWith("chat ")))
      assert.includeMembers(metricNames(collector.received), [
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "volley.agent.runs"
      ])
      assert.notInclude(collector.received.map((r) => r.body).join("\n"), "What's the weather")
    })
  )
})

describe("demo CLI: --durable", () => {
  const parent = mkdtempSync(join(tmpdir(), "volley-demo-durable-"))
  chmodSync(parent, 0o755) // under root, Postgres runs as the `postgres` user and must reach it
  const dataDir = join(parent, "postgres")
  afterAll(() => {
    // the postmaster a killed demo leaves running (the rerun adopts it) is stopped here
    try {
      const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0])
      if (pid > 0) process.kill(pid, "SIGKILL")
    } catch {}
    rmSync(parent, { recursive: true, force: true })
  })

  it("parses --durable --run-id [--data-dir]; each needs the other", () => {
    assert.deepStrictEqual(parseArgs(["--durable", "--run-id", "r1", "Hi"]), {
      stream: true,
      maxTurns: undefined,
      model: undefined,
      prompt: "Hi",
      durable: { runId: "r1" }
    })
    assert.deepStrictEqual(parseArgs(["--durable", "--run-id=r2", "--data-dir", "/tmp/x"]), {
      stream: true,
      maxTurns: undefined,
      model: undefined,
      prompt: defaultPrompt,
      durable: { runId: "r2", dataDir: "/tmp/x" }
    })
    assert.include(String(parseArgs(["--durable"])), "--run-id")
    assert.include(String(parseArgs(["--run-id", "r3"])), "--durable")
    assert.include(String(parseArgs(["--durable", "--run-id", "bad id;"])), "--run-id")
  })

  // one weather call, then an answer the server holds back 4 s: time to kill the demo mid-run
  const model = M.responder((request) =>
    Array.isArray(request.input) && request.input.some((item) => item.type === "function_call_output")
      ? { ...M.message("Oslo is cold today."), fault: { latency: "4 seconds" } }
      : M.functionCall("get_weather", { city: "Oslo" }, { callId: "w1" })
  )

  it.live(
    "kill -9 mid-run, rerun the same command: stored steps replay (stderr says so), the run finishes",
    () =>
      Effect.gen(function* () {
        const server = yield* ResponsesServer.ResponsesServer
        const args = ["--durable", "--run-id", "demo-kill-1", "--data-dir", dataDir, "Weather in Oslo?"]
        const first = yield* startScript(main, args, against(server.baseUrl))
        yield* waitForStderr(first, "✓ tool/1/w1 stored")
        yield* first.signal("SIGKILL")
        const killed = yield* first.ran
        assert.strictEqual(killed.code, null, killed.stderr)
        assert.include(killed.stderr, "✓ model/1 stored")
        assert.notInclude(killed.stdout, "Oslo is cold")
        const second = yield* demo(args, against(server.baseUrl))
        assert.strictEqual(second.code, 0, second.stderr)
        assert.include(second.stderr, "↺ model/1 replayed from storage")
        assert.include(second.stderr, "↺ tool/1/w1 replayed from storage")
        assert.include(second.stderr, "✓ model/2 stored")
        assert.include(second.stdout, "Oslo is cold today.")
        assertNoLeak(second)
        // the first model call was answered once in all: the rerun read it back from storage
        const requests = yield* server.requests
        const firstTurns = requests.filter(
          (request) =>
            !JSON.stringify((request.body as { input?: unknown }).input ?? "").includes("function_call_output")
        )
        assert.strictEqual(firstTurns.length, 1)
        // a third run joins the finished run: the stored answer, no step runs
        const third = yield* demo(args, against(server.baseUrl))
        assert.strictEqual(third.code, 0, third.stderr)
        assert.include(third.stdout, "Oslo is cold today.")
        assert.notInclude(third.stderr, "stored")
        assert.strictEqual((yield* server.requests).length, requests.length)
      }).pipe(Effect.provide(ResponsesServer.layer({ fallback: model }))),
    120_000
  )
})
