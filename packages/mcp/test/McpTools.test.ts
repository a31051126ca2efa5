/**
 * MCP servers' tools as a Volley toolkit, against real servers started by the tests: the fixture built
 * with Effect's `McpServer` (stdio child process, and Streamable HTTP on 127.0.0.1), including the
 * failure paths (a server that dies mid-call, hangs, sends bad JSON-RPC, returns huge content).
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { McpProtocol, McpServer } from "effect/ai"
import { HttpRouter, HttpServer } from "effect/http"
import { McpTools } from "../src/index.ts"
import { registrations } from "./fixtures/FixtureServer.ts"
import { alive, call, fixtureServer, node, rawServer, recordingTracer } from "./support.ts"

const fixture = (options: Partial<McpTools.StdioOptions<"fixture">> = {}) =>
  McpTools.stdio({ name: "fixture", command: node, args: [fixtureServer], prefix: "fx_", ...options })

// generous: a call after a crash includes restarting the server, slow on a loaded machine
const Fixture = fixture({ timeout: "15 seconds", maxOutputBytes: 4096, maxMessageBytes: 200_000 })

const pidOf = (tools: Effect.Success<typeof Fixture>) =>
  Effect.map(tools.handle(call("fx_pid")), (result) => Number(result.output.output))

describe("McpTools.stdio (Effect McpServer fixture)", () => {
  it.live("lists the tools prefixed, with their JSON Schemas, strict only where the schema allows (no $schema)", () =>
    Effect.gen(function* () {
      const tools = yield* Fixture
      assert.includeMembers([...tools.names], ["fx_echo", "fx_add", "fx_search", "fx_shout", "fx_media", "fx_crash"])
      const byName = new Map(tools.definitions().map((d) => [d.name, d]))
      const shout = byName.get("fx_shout")!
      assert.isTrue(shout.strict)
      assert.deepStrictEqual(shout.parameters, {
        type: "object",
        properties: { text: { type: "string", description: "What to shout" } },
        required: ["text"],
        additionalProperties: false
      })
      // Effect's toolkits leave objects open: passed through as they are, not strict
      const echo = byName.get("fx_echo")!
      assert.isFalse(echo.strict)
      assert.deepStrictEqual(echo.parameters, {
        type: "object",
        properties: { text: { type: "string" } },
        required: ["text"],
        additionalProperties: true
      })
      assert.strictEqual(echo.description, "Echo a text back")
    }).pipe(Effect.provide(Fixture.layer))
  )

  it.live("a schema that cannot be strict is logged at debug level with the reason", () => {
    const lines: Array<string> = []
    const capture = Logger.make(({ message, fiber }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      const notes = fiber.getRef(References.CurrentLogAnnotations)
      lines.push(`${text} ${String(notes["gen_ai.tool.name"])} ${String(notes.reason)}`)
    })
    return Effect.gen(function* () {
      yield* Fixture
      assert.include(lines, "mcp.tool.not_strict fx_echo root is not closed (additionalProperties)")
      assert.include(lines, "mcp.tool.not_strict fx_search root is not closed (additionalProperties)")
      assert.isFalse(lines.some((line) => line.includes("fx_shout")))
    }).pipe(
      Effect.provide(Fixture.layer),
      Effect.provide(Layer.mergeAll(Logger.layer([capture]), Layer.succeed(References.MinimumLogLevel, "Debug")))
    )
  })

  it.live("calls tools; strict arguments are validated before the server sees them", () =>
    Effect.gen(function* () {
      const tools = yield* Fixture
      const echo = yield* tools.handle(call("fx_echo", { text: "hi" }))
      assert.strictEqual(echo.output.output, "echo: hi")
      const shout = yield* tools.handle(call("fx_shout", { text: "hi" }))
      assert.strictEqual(shout.output.output, "HI")
      const bad = yield* tools.handle(call("fx_shout", { text: "hi", extra: 1 }))
      assert.isTrue(bad.isArgumentError)
      const loose = yield* tools.handle(call("fx_search", { query: "q" }))
      assert.strictEqual(loose.output.output, "results for q (limit none)")
    }).pipe(Effect.provide(Fixture.layer))
  )

  it.live("maps text, image, embedded resource, resource link and structured content to one string", () =>
    Effect.gen(function* () {
      const tools = yield* Fixture
      const media = yield* tools.handle(call("fx_media"))
      assert.strictEqual(
        media.output.output,
        [
          "a picture:",
          "[image: image/png, 8 bytes, not shown]",
          "[resource file:///notes.txt (text/plain)]\nthe notes",
          "[resource link: big.bin <file:///big.bin>]",
          '{"answer":42}'
        ].join("\n")
      )
    }).pipe(Effect.provide(Fixture.layer))
  )

  it.live("an isError result and a server-side validation error go back to the model", () =>
    Effect.gen(function* () {
      const tools = yield* Fixture
      const failed = yield* tools.handle(call("fx_fail"))
      assert.strictEqual(failed.outcome._tag, "Failure")
      assert.include(failed.output.output as string, "the widget is broken")
      assert.include(failed.output.output as string, "ToolError")
      const invalid = yield* tools.handle(call("fx_echo", { nope: 1 }))
      assert.strictEqual(invalid.outcome._tag, "Failure")
      assert.include(invalid.output.output as string, "Invalid parameters")
    }).pipe(Effect.provide(Fixture.layer))
  )

  it.live("a hung server times out, the model is told, and the connection stays usable", () => {
    const Short = fixture({ timeout: "1 second" })
    return Effect.gen(function* () {
      const tools = yield* Short
      const hung = yield* tools.handle(call("fx_sleep", { ms: 60_000 }))
      assert.strictEqual(hung.outcome._tag === "Failure" && hung.outcome.error._tag, "ToolTimeout")
      assert.include(hung.output.output as string, "timed out after 1000 ms")
      const echo = yield* tools.handle(call("fx_echo", { text: "still here" }))
      assert.strictEqual(echo.output.output, "echo: still here")
    }).pipe(Effect.provide(Short.layer))
  })

  it.live("a server that dies mid-call is a typed error for the model, and the next call restarts it", () =>
    Effect.gen(function* () {
      const tools = yield* Fixture
      const before = yield* pidOf(tools)
      const crashed = yield* tools.handle(call("fx_crash"))
      assert.strictEqual(crashed.outcome._tag, "Failure")
      if (crashed.outcome._tag === "Failure" && crashed.outcome.error._tag === "ToolFailed") {
        const error = crashed.outcome.error.error as McpTools.McpToolsError
        assert.instanceOf(error, McpTools.McpToolsError)
        assert.strictEqual(error.reason, "ServerExited")
        assert.isTrue(error.reconnects)
      } else assert.fail("expected ToolFailed")
      const after = yield* pidOf(tools)
      assert.notStrictEqual(after, before)
      assert.isFalse(alive(before))
    }).pipe(Effect.provide(Fixture.layer))
  )

  it.live("a call that times out while the server restarts does not cancel the restart", () => {
    // a call timeout shorter than the server's start: each call restarting it would never succeed
    const Quick = fixture({ timeout: "300 millis" })
    return Effect.gen(function* () {
      const tools = yield* Quick
      yield* tools.handle(call("fx_crash"))
      const during = yield* tools.handle(call("fx_echo", { text: "during" }))
      assert.strictEqual(during.outcome._tag === "Failure" && during.outcome.error._tag, "ToolTimeout")
      // the restart goes on in the background: a later call finds it done (polled, for a loaded machine)
      const after = yield* tools.handle(call("fx_echo", { text: "after" })).pipe(
        Effect.filterOrFail((result) => result.outcome._tag === "Success"),
        Effect.retry({ times: 40, schedule: Schedule.spaced("500 millis") })
      )
      assert.strictEqual(after.output.output, "echo: after")
    }).pipe(Effect.provide(Quick.layer))
  })

  it.live("a line that is not JSON-RPC drops the connection; the next call reconnects", () =>
    Effect.gen(function* () {
      const tools = yield* Fixture
      const before = yield* pidOf(tools)
      const garbage = yield* tools.handle(call("fx_garbage"))
      assert.strictEqual(garbage.outcome._tag, "Failure")
      assert.match(garbage.output.output as string, /Protocol|ServerExited/)
      const after = yield* pidOf(tools)
      assert.notStrictEqual(after, before)
    }).pipe(Effect.provide(Fixture.layer))
  )

  it.live("huge content is capped: cut to the output cap, or refused past the message limit", () =>
    Effect.gen(function* () {
      const tools = yield* Fixture
      const big = yield* tools.handle(call("fx_huge", { bytes: 150_000 }))
      assert.strictEqual(big.outcome._tag, "Success")
      const text = big.output.output as string
      assert.isAtMost(Buffer.byteLength(text), 4096 + 200)
      assert.isTrue(big.outcome._tag === "Success" && big.outcome.truncated)
      const tooBig = yield* tools.handle(call("fx_huge", { bytes: 1_000_000 }))
      assert.strictEqual(tooBig.outcome._tag, "Failure")
      assert.include(tooBig.output.output as string, "TooLarge")
      const echo = yield* tools.handle(call("fx_echo", { text: "after" }))
      assert.strictEqual(echo.output.output, "echo: after")
    }).pipe(Effect.provide(Fixture.layer))
  )

  it.live("a per-tool needsApproval predicate sees the server tool name and the arguments", () => {
    const Guarded = fixture({
      needsApproval: (tool, args) => tool === "echo" && (args as { text?: string }).text === "rm -rf"
    })
    return Effect.gen(function* () {
      const tools = yield* Guarded
      assert.isTrue(yield* tools.needsApproval(call("fx_echo", { text: "rm -rf" })))
      assert.isFalse(yield* tools.needsApproval(call("fx_echo", { text: "ls" })))
      assert.isFalse(yield* tools.needsApproval(call("fx_add", { a: 1, b: 2 })))
    }).pipe(Effect.provide(Guarded.layer))
  })

  it.live("calls are execute_tool spans with mcp.server attributes", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function* () {
      const tools = yield* Fixture
      yield* tools.handle(call("fx_echo", { text: "traced" }))
      const span = spans.find((s) => s.name === "execute_tool fx_echo")
      assert.isDefined(span)
      assert.strictEqual(span!.attributes.get("mcp.server.name"), "fixture")
      assert.strictEqual(span!.attributes.get("mcp.tool.name"), "echo")
      assert.strictEqual(span!.attributes.get("mcp.transport"), "stdio")
    }).pipe(Effect.provide(Fixture.layer), Effect.withTracer(tracer))
  })

  it.live("the server process ends with the layer's scope", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Fixture.layer, scope)
      const tools = yield* Effect.provide(Fixture.asEffect(), context)
      const pid = yield* pidOf(tools)
      assert.isTrue(alive(pid))
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(alive(pid))
    })
  )

  it.live("a dropped server and its replacement both end with the layer's scope", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const tools = yield* Effect.provide(Fixture.asEffect(), yield* Layer.buildWithScope(Fixture.layer, scope))
      const first = yield* pidOf(tools)
      // the first server hangs after a bad line: it is being ended in the background when the scope closes
      yield* tools.handle(call("fx_garbage"))
      const second = yield* pidOf(tools)
      assert.notStrictEqual(first, second)
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(alive(first))
      assert.isFalse(alive(second))
    })
  )

  it.live("a server that cannot start fails the layer with a Connect error", () =>
    Effect.gen(function* () {
      const Broken = McpTools.stdio({
        name: "broken",
        command: node,
        args: ["-e", "process.exit(2)"],
        connectTimeout: "5 seconds"
      })
      const exit = yield* Effect.exit(Effect.provide(Broken.asEffect(), Broken.layer))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      assert.strictEqual((error as { error: McpTools.McpToolsError } | undefined)?.error.reason, "Connect")
    })
  )
})

describe("McpTools.stdio (protocol failures from a hand-written server)", () => {
  const raw = (mode: string) =>
    McpTools.stdio({
      name: "raw",
      command: node,
      args: [rawServer, mode],
      timeout: "3 seconds",
      connectTimeout: "1 second"
    })

  it.live("names are made valid; duplicates, empty names and oversized schemas are skipped", () => {
    const Raw = raw("rpc-error")
    return Effect.gen(function* () {
      const tools = yield* Raw
      assert.deepStrictEqual([...tools.names], ["lookup", "a_b"])
      assert.strictEqual(tools.definitions()[1]!.description, "Tool 'a.b' of MCP server 'raw'")
    }).pipe(Effect.provide(Raw.layer))
  })

  it.live("a JSON-RPC error answer goes back to the model; the connection is kept", () => {
    const Raw = raw("rpc-error")
    return Effect.gen(function* () {
      const tools = yield* Raw
      const first = yield* tools.handle(call("lookup"))
      assert.strictEqual(first.outcome._tag, "Failure")
      const text = first.output.output as string
      assert.include(text, "RemoteError")
      assert.include(text, "-32000")
      assert.include(text, "database offline")
      const second = yield* tools.handle(call("lookup"))
      assert.include(second.output.output as string, "database offline")
    }).pipe(Effect.provide(Raw.layer))
  })

  it.live("a result that is not a CallToolResult is a protocol error for the model, not a crash", () => {
    const Raw = raw("bad-result")
    return Effect.gen(function* () {
      const tools = yield* Raw
      const result = yield* tools.handle(call("lookup"))
      assert.strictEqual(result.outcome._tag, "Failure")
      assert.include(result.output.output as string, "Protocol: MCP server 'raw'")
    }).pipe(Effect.provide(Raw.layer))
  })

  it.live("a server that never answers initialize fails the layer with Connect within connectTimeout", () => {
    const Raw = raw("silent")
    return Effect.gen(function* () {
      const started = Date.now()
      const exit = yield* Effect.exit(Effect.provide(Raw.asEffect(), Raw.layer))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      assert.strictEqual((error as { error: McpTools.McpToolsError } | undefined)?.error.reason, "Connect")
      assert.isBelow(Date.now() - started, 8000)
    })
  })
})

const FixtureHttp = HttpRouter.serve(
  McpServer.layerHttp({
    name: "fixture",
    version: "1.0.0",
    path: "/mcp",
    protocols: [McpProtocol.v2025_11_25],
    registrations
  }),
  { disableLogger: true, disableListenLog: true }
).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })))

describe("McpTools.http (Effect McpServer over Streamable HTTP on 127.0.0.1)", () => {
  it.live("lists and calls tools, and a JSON-RPC failure goes back to the model", () =>
    Effect.gen(function* () {
      const url = yield* HttpServer.addressFormattedWith((base) => Effect.succeed(`${base}/mcp`))
      const Remote = McpTools.http({ name: "remote", url, prefix: "r_", headers: { "x-test": "1" } })
      yield* Effect.gen(function* () {
        const tools = yield* Remote
        assert.include([...tools.names], "r_add")
        const sum = yield* tools.handle(call("r_add", { a: 2, b: 3 }))
        assert.strictEqual(sum.output.output, "5")
        const media = yield* tools.handle(call("r_media"))
        assert.include(media.output.output as string, "[image: image/png, 8 bytes, not shown]")
        const failed = yield* tools.handle(call("r_fail"))
        assert.strictEqual(failed.outcome._tag, "Failure")
      }).pipe(Effect.provide(Remote.layer))
    }).pipe(Effect.provide(FixtureHttp))
  )

  it.live("a server that goes away is a typed error; the next call after it is back opens a new session", () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const serverOn = HttpRouter.serve(
      McpServer.layerHttp({
        name: "fixture",
        version: "1.0.0",
        path: "/mcp",
        protocols: [McpProtocol.v2025_11_25],
        registrations
      }),
      { disableLogger: true, disableListenLog: true }
    ).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })))
    const Remote = McpTools.http({ name: "remote", url: `http://127.0.0.1:${port}/mcp` })
    return Effect.gen(function* () {
      const first = yield* Scope.make()
      yield* Layer.buildWithScope(serverOn, first)
      const clientScope = yield* Scope.make()
      const tools = yield* Effect.provide(Remote.asEffect(), yield* Layer.buildWithScope(Remote.layer, clientScope))
      assert.strictEqual((yield* tools.handle(call("echo", { text: "1" }))).output.output, "echo: 1")
      yield* Scope.close(first, Exit.void)
      const down = yield* tools.handle(call("echo", { text: "2" }))
      assert.strictEqual(down.outcome._tag, "Failure")
      assert.include(down.output.output as string, "ServerExited: MCP server 'remote'")
      const second = yield* Scope.make()
      yield* Layer.buildWithScope(serverOn, second)
      const back = yield* tools.handle(call("echo", { text: "3" }))
      assert.strictEqual(back.output.output, "echo: 3")
      yield* Scope.close(clientScope, Exit.void)
      yield* Scope.close(second, Exit.void)
    })
  })

  it.live("an unreachable endpoint fails the layer with a Connect error", () =>
    Effect.gen(function* () {
      const Nowhere = McpTools.http({ name: "nowhere", url: "http://127.0.0.1:9/mcp", connectTimeout: "3 seconds" })
      const exit = yield* Effect.exit(Effect.provide(Nowhere.asEffect(), Nowhere.layer))
      assert.isTrue(Exit.isFailure(exit))
    })
  )
})
