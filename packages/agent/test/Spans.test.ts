import { assert, describe, it } from "@effect/vitest"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { ResponsesClient } from "@volley/core"
import { ResponsesServer, ScriptedModel as M } from "@volley/testing"
import * as Agent from "../src/Agent.ts"
import * as AgentKnobs from "../src/AgentKnobs.ts"
import { makeRuns, TestTools, testToolsLayer } from "./support/tools.ts"

const assistant = Agent.make({ name: "assistant", model: "m", instructions: "SECRET-INSTRUCTIONS", toolkit: TestTools })

const setup = (
  steps: ReadonlyArray<M.Turn> = [M.functionCall("echo", { text: "PROMPT-CONTENT" }), M.message("ANSWER-CONTENT")]
) => {
  const exporter = new InMemorySpanExporter()
  // OtelTracer directly: NodeSdk also loads the logs SDK, which is not installed.
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))
  const client = Layer.unwrap(
    Effect.gen(function* () {
      const server = yield* ResponsesServer.ResponsesServer
      return ResponsesClient.layerUndici({ baseUrl: server.baseUrl, apiKey: Redacted.make("sk-volley-CANARY-spans") })
    })
  )
  const layer = Layer.mergeAll(client, testToolsLayer(makeRuns())).pipe(
    Layer.provideMerge(ResponsesServer.layer(steps)),
    Layer.provideMerge(tracing)
  )
  return { exporter, layer }
}

describe("spans", () => {
  it.live(
    "invoke_agent {name} wraps the client's chat spans and the tools' execute_tool spans; G03 content is off by default",
    () =>
      Effect.gen(function* () {
        const { exporter, layer } = setup()
        yield* assistant.run("USER-CONTENT").pipe(Effect.provide(layer))
        const spans = exporter.getFinishedSpans()
        const root = spans.find((span) => span.name === "invoke_agent assistant")
        assert.isDefined(root)
        assert.strictEqual(root!.attributes["gen_ai.operation.name"], "invoke_agent")
        assert.strictEqual(root!.attributes["gen_ai.agent.name"], "assistant")
        assert.strictEqual(root!.attributes["gen_ai.request.model"], "m")
        assert.isNumber(root!.attributes["gen_ai.usage.input_tokens"])
        const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
        const descends = (span: (typeof spans)[number]): boolean => {
          let parent = span.parentSpanContext?.spanId
          while (parent !== undefined) {
            if (parent === root!.spanContext().spanId) return true
            parent = byId.get(parent)?.parentSpanContext?.spanId
          }
          return false
        }
        const chats = spans.filter((span) => span.name.startsWith("chat "))
        const tools = spans.filter((span) => span.name.startsWith("execute_tool "))
        assert.strictEqual(chats.length, 2)
        assert.strictEqual(tools.length, 1)
        assert.isTrue([...chats, ...tools].every(descends))
        const everything = JSON.stringify(spans.map((span) => [span.name, span.attributes, span.events]))
        for (const content of [
          "SECRET-INSTRUCTIONS",
          "USER-CONTENT",
          "PROMPT-CONTENT",
          "ANSWER-CONTENT",
          "sk-volley-CANARY"
        ])
          assert.notInclude(everything, content)
      })
  )

  it.live("agent.stream: the chat and execute_tool spans are inside invoke_agent too", () =>
    Effect.gen(function* () {
      const { exporter, layer } = setup()
      yield* Stream.runDrain(assistant.stream("USER-CONTENT")).pipe(Effect.provide(layer))
      const spans = exporter.getFinishedSpans()
      const root = spans.find((span) => span.name === "invoke_agent assistant")!
      const inside = spans.filter((span) => span.name.startsWith("chat ") || span.name.startsWith("execute_tool "))
      assert.strictEqual(inside.length, 3)
      const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
      for (const span of inside) {
        let parent = span.parentSpanContext?.spanId
        while (parent !== undefined && parent !== root.spanContext().spanId)
          parent = byId.get(parent)?.parentSpanContext?.spanId
        assert.strictEqual(parent, root.spanContext().spanId, span.name)
      }
    })
  )

  it.live("G03 captureContent: true records instructions and the final output on the agent span", () =>
    Effect.gen(function* () {
      const { exporter, layer } = setup()
      yield* assistant
        .run("USER-CONTENT")
        .pipe(Effect.provide(layer), Effect.provideService(AgentKnobs.CaptureContent, true))
      const root = exporter.getFinishedSpans().find((span) => span.name === "invoke_agent assistant")!
      assert.strictEqual(root.attributes["gen_ai.system_instructions"], "SECRET-INSTRUCTIONS")
      assert.strictEqual(root.attributes["gen_ai.output.text"], "ANSWER-CONTENT")
    })
  )

  it.live(
    "invoke_agent carries the run id; a resumed run names the run it resumes, so a paused run and its resume join",
    () => {
      // one server for both runs: the script continues across the pause
      const { exporter, layer } = setup([M.functionCall("delete_file", { path: "/tmp/x" }), M.message("deleted")])
      return Effect.gen(function* () {
        const paused = yield* assistant.run("delete it", { runId: "run-approval-1" })
        assert.strictEqual(paused._tag, "Paused")
        const callId = paused._tag === "Paused" ? paused.pending[0]!.callId : ""
        yield* assistant.resume(paused.state, { approvals: [assistant.approve(paused.state, callId)] })
        const runs = exporter.getFinishedSpans().filter((span) => span.name === "invoke_agent assistant")
        assert.strictEqual(runs.length, 2)
        assert.deepStrictEqual(
          runs.map((span) => [span.attributes["volley.agent.run_id"], span.attributes["volley.agent.resumed_from"]]),
          [
            ["run-approval-1", undefined],
            ["run-approval-1", "run-approval-1"]
          ]
        )
      }).pipe(Effect.provide(layer))
    }
  )

  it.live("a sub-agent (asTool) runs in its own execute_tool span, with the GenAI attributes, under the caller", () =>
    Effect.gen(function* () {
      const helper = Agent.make({ name: "helper", model: "h" })
      const lead = Agent.make({
        name: "lead",
        model: "l",
        subAgents: [helper.asTool({ name: "ask_helper", description: "Asks the helper" })]
      })
      const { exporter, layer } = setup([
        M.functionCall("ask_helper", { input: "what?" }),
        M.message("helper says hi"),
        M.message("done")
      ])
      yield* lead.run("go").pipe(Effect.provide(layer))
      const spans = exporter.getFinishedSpans()
      const tool = spans.find((span) => span.name === "execute_tool ask_helper")
      assert.isDefined(tool)
      assert.strictEqual(tool!.attributes["gen_ai.operation.name"], "execute_tool")
      assert.strictEqual(tool!.attributes["gen_ai.tool.name"], "ask_helper")
      assert.isString(tool!.attributes["gen_ai.tool.call.id"])
      const sub = spans.find((span) => span.name === "invoke_agent helper")
      assert.strictEqual(
        sub?.parentSpanContext?.spanId,
        tool!.spanContext().spanId,
        "the sub-agent nests under the call"
      )
      const root = spans.find((span) => span.name === "invoke_agent lead")
      assert.strictEqual(tool!.parentSpanContext?.spanId, root!.spanContext().spanId)
    })
  )
})
