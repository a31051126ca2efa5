/**
 * A chat whose memory lives in a `Session`: every line is one `agent.run(line, { session })`, so the agent
 * sees the whole conversation without the program passing history around, and the conversation
 * survives a restart when the store is Postgres (`Session.layerSql`). Commands: `/history` prints
 * the stored items, `/undo` removes the last turn (`pop`), `/clear` forgets the session. Entry point:
 * `chatLine(agent, sessionId, line)`; needs a `Session` and a `ResponsesClient`.
 * Gotcha: old turns are compacted (kept under 40 items, call/output pairs intact) before each run.
 */
import { Agent, Session } from "@volley/agent"
import { Effect } from "effect"
import type { ResponsesSchema } from "@volley/core"

/** The chat agent. */
export const makeAgent = (model: string) =>
  Agent.make({ name: "chat", model, instructions: "You are a friendly assistant. Keep answers short." })

/** The compaction policy: at most 40 items, the newest 20 kept. */
export const compaction: Session.CompactionPolicy = { maxItems: 40, keepItems: 20 }

/** One line of text per stored item (role or type, then the text). */
export const describe = (items: ReadonlyArray<ResponsesSchema.InputItem>): string =>
  items
    .map((item) => {
      if (item.type === "function_call") return `call ${item.name}(${item.arguments})`
      if (item.type === "function_call_output") return `output ${String(item.output).slice(0, 80)}`
      const message = item as { readonly role?: string; readonly content?: unknown }
      const content =
        typeof message.content === "string"
          ? message.content
          : Array.isArray(message.content)
            ? message.content.map((part: { readonly text?: string }) => part.text ?? "").join("")
            : ""
      return `${message.role ?? item.type}: ${content}`
    })
    .join("\n")

/** Handles one input line: a command or a chat turn. Returns what to print. */
export const chatLine = (agent: ReturnType<typeof makeAgent>, sessionId: string, line: string) =>
  Effect.gen(function* () {
    const session = yield* Session.Session
    const text = line.trim()
    if (text === "/history") {
      const items = yield* session.history(sessionId)
      return items.length === 0 ? "(empty)" : describe(items)
    }
    if (text === "/undo") {
      const removed = yield* session.pop(sessionId)
      return `removed the last turn (${removed.length} items)`
    }
    if (text === "/clear") {
      yield* session.clear(sessionId)
      return "cleared"
    }
    const result = yield* agent.run(text, { session: { id: sessionId, compaction } })
    return result._tag === "Completed" ? result.output : "(paused)"
  })
