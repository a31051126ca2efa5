/**
 * How a run ends on a final message: `finish` decodes structured output (`AgentSpec.decodeOutput`),
 * with one correction turn that tells the model what did not match, then runs the output guardrails
 * (`checkFinal`) when the agent has any. Entry point: `finish`, called by the loop on `decide`'s
 * `Final`. Gotcha: a correction turn is a success of this step (`undefined`: call the model again),
 * and a second mismatch fails the run with `StructuredOutputInvalid`.
 */
import * as Exit from "effect/Exit"
import { checkFinal } from "./extras.ts"
import type { Next } from "./loop.ts"
import { append, failWith, type Run } from "./run.ts"
import type { AgentSpec, LoopDeps, LoopOutcome } from "./spec.ts"

/** Finishes on a final message: decodes structured output, with one correction turn. */
export const finish = <A, R>(spec: AgentSpec<A>, run: Run, deps: LoopDeps<R>, text: string): Next<A> => {
  if (spec.decodeOutput === undefined)
    return completed(spec, run, deps, { _tag: "Completed", text, value: text as unknown as A })
  const decoded = spec.decodeOutput(text)
  if (decoded.ok) return completed(spec, run, deps, { _tag: "Completed", text, value: decoded.value })
  if (run.outputRetried) return failWith(run, { _tag: "StructuredOutputInvalid", text, issue: decoded.issue })
  run.outputRetried = true
  append(run, {
    type: "message",
    role: "user",
    content: `Your answer did not match the required JSON schema: ${decoded.issue.slice(0, 1000)}. Reply again with only a JSON value that matches the schema.`
  })
  return Exit.succeed(undefined)
}

/** A completed outcome, after the output guardrails when the agent has any. */
const completed = <A, R>(spec: AgentSpec<A>, run: Run, deps: LoopDeps<R>, outcome: LoopOutcome<A>): Next<A> =>
  spec.extras === undefined ? Exit.succeed(outcome) : checkFinal(spec, run, deps, outcome)
