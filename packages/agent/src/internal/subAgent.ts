/**
 * A sub-agent as a tool (`agent.asTool(...)`): a `Toolkit.Runner` of `@volley/tools` with one strict
 * `{ input: string }` parameter that runs the agent and answers with its output. Failures, a paused
 * run and invalid arguments come back to the calling model as error JSON, never as a failed run. Its
 * own `execute_tool {name}` span makes the sub-agent's `invoke_agent` nest under the call.
 */
import type { ResponsesClient, ResponsesSchema } from "@volley/core"
import type { Toolkit } from "@volley/tools"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type { Agent, AgentTool, AsToolOptions } from "../Agent.ts"
import type * as AgentError from "../AgentError.ts"

const SubAgentArgs = Schema.fromJsonString(Schema.Struct({ input: Schema.String }))
const decodeSubAgentArgs = Schema.decodeUnknownExit(SubAgentArgs)

/** An agent as a tool of another: one `{ input }` argument, its answer (or typed failure) as the output. */
export const asTool = <A, R>(
  agent: Agent<A, R>,
  options: AsToolOptions,
  defaultName: string
): AgentTool<R | ResponsesClient.ResponsesClient> => {
  const name = options.name ?? defaultName
  const definition: ResponsesSchema.FunctionTool = {
    type: "function",
    name,
    description: options.description,
    parameters: {
      type: "object",
      properties: { input: { type: "string", description: "The task for the agent" } },
      required: ["input"],
      additionalProperties: false
    },
    strict: true
  }
  const reply = (callId: string, output: string, failed: boolean, isArgumentError = false): Toolkit.RunnerResult => ({
    callId,
    name,
    output: { type: "function_call_output", call_id: callId, output },
    outcome: failed
      ? { _tag: "Failure", error: { _tag: isArgumentError ? "ToolArgumentsInvalid" : "ToolFailed" } }
      : { _tag: "Success" },
    isArgumentError
  })
  // a sub-agent is a `Toolkit.Runner` of `@volley/tools`, checked here where it is built
  return {
    name,
    names: [name],
    definitions: () => [definition],
    needsApproval: () => Effect.succeed(false),
    handle: (call) => {
      const args = decodeSubAgentArgs(call.arguments)
      if (Exit.isFailure(args))
        return Effect.succeed(
          reply(
            call.call_id,
            JSON.stringify({ error: { type: "invalid_arguments", message: 'expected {"input": string}' } }),
            true,
            true
          )
        )
      const ran: Effect.Effect<Toolkit.RunnerResult, never, R | ResponsesClient.ResponsesClient> = agent
        .run(args.value.input)
        .pipe(
          Effect.map((result) =>
            result._tag === "Completed"
              ? reply(call.call_id, result.output, false)
              : reply(
                  call.call_id,
                  JSON.stringify({
                    error: {
                      type: "approval_required",
                      message: `the sub-agent needs approval for ${result.stopReason.name}`
                    }
                  }),
                  true
                )
          ),
          Effect.catch((error: AgentError.AgentError) =>
            Effect.succeed(
              reply(
                call.call_id,
                JSON.stringify({
                  error: { type: "agent_failed", message: `${error._tag}: ${error.message}`.slice(0, 2000) }
                }),
                true
              )
            )
          )
        )
      // its own `execute_tool` span, as a toolkit's tools have, so the sub-agent's run nests under the call
      return ran.pipe(
        Effect.tap((result) =>
          result.outcome._tag === "Failure"
            ? Effect.annotateCurrentSpan({ "error.type": result.outcome.error._tag })
            : Effect.void
        ),
        Effect.withSpan(
          `execute_tool ${name}`,
          {
            kind: "internal",
            attributes: {
              "gen_ai.operation.name": "execute_tool",
              "gen_ai.tool.type": "function",
              "gen_ai.tool.name": name,
              "gen_ai.tool.call.id": call.call_id
            }
          },
          { captureStackTrace: false }
        )
      )
    }
  } satisfies AgentTool<R | ResponsesClient.ResponsesClient>
}
