/**
 * Several handled toolkits as one, so an agent can take MCP tools and its own typed tools together:
 * calls are routed by tool name (own keys only) to the toolkit that defines the tool; definitions,
 * approvals and idempotence are answered by the owner too. Unknown tools go to the first toolkit,
 * which answers them as it always does (feedback, or `ToolNotFound` under `unknownTool: "fail"`).
 * Gotcha: two toolkits defining one name is a programmer error: the effect dies with `ToolDefinitionError`.
 */
import { type Tool, Toolkit, ToolError } from "@volley/tools"
import * as Effect from "effect/Effect"

type AnyHandled = Toolkit.Handled<Record<string, Tool.Any>>

/** One handled toolkit routing to several; dies on a duplicate tool name. */
export const combineHandled = (parts: ReadonlyArray<AnyHandled>): Effect.Effect<AnyHandled> =>
  Effect.suspend(() => {
    const owner = new Map<string, AnyHandled>()
    const tools: Record<string, Tool.Any> = {}
    for (const part of parts) {
      for (const name of part.names) {
        if (owner.has(name)) {
          return Effect.die(
            new ToolError.ToolDefinitionError({
              name,
              message: `Duplicate tool name "${name}" while combining toolkits`
            })
          )
        }
        owner.set(name, part)
        const tool = part.tools[name]
        if (tool !== undefined) Object.defineProperty(tools, name, { value: tool, enumerable: true })
      }
    }
    const first = parts[0]
    if (first === undefined) return Effect.die("combine needs at least one toolkit")
    const route = (name: string): AnyHandled => owner.get(name) ?? first
    const handled: AnyHandled = {
      tools,
      names: [...owner.keys()],
      definitions: (options) => parts.flatMap((part) => part.definitions(options)),
      handle: (call, options) => route(call.name).handle(call, options),
      handleAll: (calls, options) =>
        Effect.gen(function* () {
          const concurrency = options?.concurrency ?? (yield* Toolkit.Concurrency)
          return yield* Effect.forEach(calls, (call) => route(call.name).handle(call, options), {
            concurrency: Math.max(1, concurrency)
          })
        }),
      needsApproval: (call, options) => route(call.name).needsApproval(call, options),
      isIdempotent: (name) => route(name).isIdempotent(name)
    }
    return Effect.succeed(handled)
  })
