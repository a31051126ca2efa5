/**
 * `@volley/mcp` against other MCP implementations and the agent: the reference server
 * `@modelcontextprotocol/server-everything` over stdio; a Volley toolkit served with `McpTools.serve`
 * and called back with `McpTools.stdio` / `McpTools.http` (round trip) and with the reference SDK
 * client; and an agent run on the scripted model that calls an MCP tool end to end.
 */
import { assert, describe, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Agent } from "@volley/agent"
import { ScriptedModel, TestClient } from "@volley/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { McpTools } from "../src/index.ts"
import { WeatherHandlers, WeatherTools } from "./fixtures/WeatherTools.ts"
import { call, everything, fixtureServer, node, volleyServe } from "./support.ts"

describe("@modelcontextprotocol/server-everything over stdio", () => {
  const Everything = McpTools.stdio({ name: "everything", command: node, args: [everything, "stdio"], prefix: "ev_" })

  it.live("lists its tools with valid names and calls echo, get-sum, get-tiny-image, get-structured-content", () =>
    Effect.gen(function* () {
      const tools = yield* Everything
      for (const name of tools.names) assert.match(name, /^[a-zA-Z0-9_-]{1,64}$/)
      assert.includeMembers(
        [...tools.names],
        ["ev_echo", "ev_get-sum", "ev_get-tiny-image", "ev_get-structured-content"]
      )
      const echo = yield* tools.handle(call("ev_echo", { message: "hello" }))
      assert.strictEqual(echo.output.output, "Echo: hello")
      const sum = yield* tools.handle(call("ev_get-sum", { a: 2, b: 40 }))
      assert.include(sum.output.output as string, "42")
      const image = yield* tools.handle(call("ev_get-tiny-image"))
      assert.match(image.output.output as string, /\[image: image\/png, \d+ bytes, not shown\]/)
      const weather = yield* tools.handle(call("ev_get-structured-content", { location: "Chicago" }))
      assert.include(weather.output.output as string, "temperature")
      const invalid = yield* tools.handle(call("ev_echo", { nope: 1 }))
      assert.strictEqual(invalid.outcome._tag, "Failure")
      assert.include(invalid.output.output as string, "Input validation error")
    }).pipe(Effect.provide(Everything.layer))
  )
})

describe("McpTools.serve", () => {
  const Served = McpTools.stdio({ name: "weather", command: node, args: [volleyServe] })

  it.live("round trip over stdio: Volley toolkit → McpTools.serve → McpTools.stdio", () =>
    Effect.gen(function* () {
      const tools = yield* Served
      assert.deepStrictEqual([...tools.names], ["forecast", "approve_me"])
      // the served schema is strict-compatible, so the client offers it strict again
      assert.isTrue(tools.definitions()[0]!.strict)
      const ok = yield* tools.handle(call("forecast", { city: "Oslo", days: 2 }))
      assert.strictEqual(ok.output.output, '{"city":"Oslo","days":2,"sky":"clear"}')
      const typedFailure = yield* tools.handle(call("forecast", { city: "Atlantis", days: 2 }))
      assert.strictEqual(typedFailure.outcome._tag, "Failure")
      assert.include(typedFailure.output.output as string, "Atlantis")
      // arguments the server's decoder refuses (days ≤ 7) come back as an MCP error result
      const invalid = yield* tools.handle(call("forecast", { city: "Oslo", days: 20 }))
      assert.strictEqual(invalid.outcome._tag, "Failure")
      assert.include(invalid.output.output as string, "invalid_arguments")
      const refused = yield* tools.handle(call("approve_me"))
      assert.include(refused.output.output as string, "needs approval")
    }).pipe(Effect.provide(Served.layer))
  )

  it.live("round trip over Streamable HTTP on 127.0.0.1", () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const Server = McpTools.serve(WeatherTools, WeatherHandlers, { transport: { http: { port } } })
    const Remote = McpTools.http({ name: "weather", url: `http://127.0.0.1:${port}/mcp`, prefix: "w_" })
    return Effect.gen(function* () {
      const tools = yield* Remote
      const ok = yield* tools.handle(call("w_forecast", { city: "Lima", days: 1 }))
      assert.strictEqual(ok.output.output, '{"city":"Lima","days":1,"sky":"clear"}')
    }).pipe(Effect.provide(Remote.layer), Effect.provide(Server))
  })

  it.live("the reference SDK client over Streamable HTTP", () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const Server = McpTools.serve(WeatherTools, WeatherHandlers, { transport: { http: { port } } })
    return Effect.acquireRelease(
      Effect.promise(async () => {
        const client = new Client({ name: "reference", version: "1.0.0" })
        await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)))
        return client
      }),
      (client) => Effect.promise(() => client.close())
    ).pipe(
      Effect.flatMap((client) =>
        Effect.promise(() => client.callTool({ name: "forecast", arguments: { city: "Rome", days: 4 } }))
      ),
      Effect.flatMap((result) =>
        Effect.sync(() => {
          assert.deepStrictEqual(result.content, [{ type: "text", text: '{"city":"Rome","days":4,"sky":"clear"}' }])
          assert.notStrictEqual(result.isError, true)
        })
      ),
      Effect.scoped,
      Effect.provide(Server)
    )
  })

  it.live("a port already in use fails the serve layer", () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const serveOn = () => McpTools.serve(WeatherTools, WeatherHandlers, { transport: { http: { port } } })
    return Effect.gen(function* () {
      const exit = yield* Effect.exit(Layer.build(serveOn()).pipe(Effect.scoped))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.provide(serveOn()))
  })

  it.live("the reference SDK client lists and calls the served tools; invalid arguments are MCP errors", () =>
    Effect.acquireRelease(
      Effect.promise(async () => {
        const client = new Client({ name: "reference", version: "1.0.0" })
        await client.connect(new StdioClientTransport({ command: node, args: [volleyServe], stderr: "ignore" }))
        return client
      }),
      (client) => Effect.promise(() => client.close())
    ).pipe(
      Effect.flatMap((client) =>
        Effect.promise(async () => {
          const listed = await client.listTools()
          const ok = await client.callTool({ name: "forecast", arguments: { city: "Oslo", days: 3 } })
          const invalid = await client.callTool({ name: "forecast", arguments: { city: 5 } })
          return { listed, ok, invalid }
        })
      ),
      Effect.flatMap(({ listed, ok, invalid }) =>
        Effect.sync(() => {
          assert.deepStrictEqual(
            listed.tools.map((t) => t.name),
            ["forecast", "approve_me"]
          )
          assert.deepStrictEqual(listed.tools[0]!.inputSchema.required, ["city", "days"])
          assert.deepStrictEqual(ok.content, [{ type: "text", text: '{"city":"Oslo","days":3,"sky":"clear"}' }])
          assert.isTrue(invalid.isError)
          assert.include(JSON.stringify(invalid.content), "invalid_arguments")
        })
      ),
      Effect.scoped
    )
  )
})

describe("an agent run calling an MCP tool", () => {
  const Fixture = McpTools.stdio({ name: "fixture", command: node, args: [fixtureServer], prefix: "fx_" })
  const assistant = Agent.make({ name: "assistant", model: "scripted", toolkit: Fixture })

  it.live("the scripted model calls fx_echo and fx_crash; the outputs reach the model, the run completes", () =>
    Effect.gen(function* () {
      const result = yield* assistant.run("Say hi through the tool")
      assert.strictEqual(result._tag, "Completed")
      const outputs = result.history.filter((item) => item.type === "function_call_output")
      assert.strictEqual(outputs.length, 2)
      assert.strictEqual((outputs[0] as { output: string }).output, "echo: hi")
      assert.include((outputs[1] as { output: string }).output, "ServerExited")
      if (result._tag === "Completed") assert.strictEqual(result.output, "done")
    }).pipe(
      Effect.provide(
        Layer.merge(
          Fixture.layer,
          TestClient.layer([
            ScriptedModel.functionCall("fx_echo", { text: "hi" }),
            ScriptedModel.functionCall("fx_crash"),
            ScriptedModel.message("done")
          ])
        )
      )
    )
  )
})
