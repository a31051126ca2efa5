/**
 * Why a run ends with an error, as data: `Stop` gathers the failing cases of the loop's pure
 * decisions (`NextStep`, `RequestGuard`, `CallScreen`, a batch plan's `LoopDetected`, ...), and
 * `errorOf` is the one pure map from a stop to its `AgentError` (message included); `notRunMessage`
 * says what the calls of a response that stops the run are told. `AgentError.stopReasonOf` maps the
 * error on to its `StopReason`. Gotcha: the transcript is the caller's (`failWith` in `run.ts`).
 */
import { ResponsesError } from "@volley/core"
import type { Toolkit } from "@volley/tools"
import * as AgentError from "../AgentError.ts"
import * as Guardrail from "../Guardrail.ts"
import { HookFailed } from "../RunHooks.ts"
import type { RunUsage } from "../StopReason.ts"
import type { CallScreen, NextStep, RequestGuard } from "./decide.ts"
import type { MalformedCall } from "./tools.ts"

/** Every way the loop ends a run with an error. */
export type Stop =
  | Exclude<NextStep, { readonly _tag: "RunTools" | "NeedsApproval" | "Final" | "Handoff" }>
  | Exclude<RequestGuard, { readonly _tag: "Proceed" }>
  | CallScreen
  | { readonly _tag: "InvalidHistory"; readonly issue: AgentError.InvalidHistory["issue"]; readonly callId: string }
  | { readonly _tag: "ContextTooLarge"; readonly bytes: number; readonly limit: number }
  | { readonly _tag: "LoopDetected"; readonly name: string; readonly argsHash: string; readonly repeats: number }
  | { readonly _tag: "ToolArgumentsInvalid"; readonly call: MalformedCall; readonly malformedTurns: number }
  | { readonly _tag: "ToolRunError"; readonly error: Toolkit.RunnerError }
  | { readonly _tag: "StructuredOutputInvalid"; readonly text: string; readonly issue: string }
  | { readonly _tag: "WallTime"; readonly timeoutMs: number }
  | { readonly _tag: "InvalidApproval"; readonly callId: string; readonly reason: AgentError.InvalidApproval["reason"] }
  | { readonly _tag: "ApprovalAlreadyUsed"; readonly callId: string }
  | { readonly _tag: "ModelError"; readonly error: ResponsesError.ResponsesError }
  | {
      readonly _tag: "GuardrailTripped"
      readonly guardrail: string
      readonly kind: Guardrail.GuardrailKind
      readonly info: unknown
    }
  | { readonly _tag: "HookFailed"; readonly hook: string; readonly message: string }

/** The transcript of a run, but the message. */
export interface Transcript {
  readonly runId: string
  readonly history: AgentError.MaxTurnsExceeded["history"]
  readonly usage: RunUsage
  readonly turns: number
}

/** What the calls of a response that stops the run are told, for the stops that keep the response. */
export const notRunMessage = (stop: Stop): string | undefined => {
  switch (stop._tag) {
    case "LimitReached":
      return `not run: the ${stop.budget} budget is spent`
    case "Truncated":
      return "not run: the response was truncated"
    case "Refused":
      return "not run: the model refused"
    case "LoopDetected":
      return "not run: the run stopped (LoopDetected)"
    case "ToolRunError":
      return "not run: the run stopped"
    default:
      return undefined
  }
}

const modelError = (t: Transcript, error: ResponsesError.ResponsesError) =>
  new AgentError.ModelError({ ...t, message: error.message, error })

/** The error a stop ends the run with. */
export const errorOf = (stop: Stop, t: Transcript): AgentError.AgentError => {
  switch (stop._tag) {
    case "GuardrailTripped":
      return Guardrail.toError(new Guardrail.Tripwire(stop), t)
    case "HookFailed":
      return new HookFailed({
        ...t,
        message: `the ${stop.hook} hook failed: ${stop.message}`.slice(0, 2000),
        hook: stop.hook
      })
    case "MaxTurns":
      return new AgentError.MaxTurnsExceeded({
        ...t,
        message: `the run made ${stop.limit} model calls (maxTurns)`,
        limit: stop.limit
      })
    case "LimitReached":
      return new AgentError.BudgetExceeded({
        ...t,
        message: `the ${stop.budget} budget is spent (${stop.used} of ${stop.limit})`,
        budget: stop.budget,
        used: stop.used,
        limit: stop.limit
      })
    case "InvalidHistory":
      return new AgentError.InvalidHistory({
        ...t,
        message: `the history is invalid (${stop.issue} for ${stop.callId}); nothing was sent`,
        issue: stop.issue,
        callId: stop.callId
      })
    case "ContextTooLarge":
      return new AgentError.ContextTooLarge({
        ...t,
        message: `the input is ${stop.bytes} bytes, over maxInputBytes ${stop.limit}`,
        bytes: stop.bytes,
        limit: stop.limit
      })
    case "TooManyCalls":
      return new AgentError.ModelBehavior({
        ...t,
        message: `the model sent ${stop.count} function calls in one response, over maxCallsPerTurn ${stop.limit}; none ran`,
        kind: "TooManyCalls",
        count: stop.count,
        limit: stop.limit
      })
    case "CallIdReused":
      return new AgentError.ModelBehavior({
        ...t,
        message: `the model reused call_id ${stop.callId.slice(0, 64)} of an earlier turn; no call of its response ran`,
        kind: "CallIdReused",
        callId: stop.callId
      })
    case "EmptyOutput":
      return new AgentError.ModelBehavior({
        ...t,
        message: "the response completed with no usable output",
        kind: "EmptyOutput"
      })
    case "Truncated":
      return new AgentError.Truncated({
        ...t,
        message: `the response is incomplete (${stop.reason})`,
        reason: stop.reason
      })
    case "Refused":
      return new AgentError.Refused({ ...t, message: "the model refused", text: stop.text })
    case "Failed":
      return modelError(
        t,
        new ResponsesError.ResponseFailed({
          message: stop.message,
          retryable: false,
          attempts: 1,
          causes: [],
          responseId: stop.responseId,
          ...(stop.code === undefined ? {} : { code: stop.code })
        })
      )
    case "ProtocolError":
      return modelError(
        t,
        new ResponsesError.StreamProtocolError({
          message:
            stop.reason === "DuplicateCallId" ? "two function calls share a call_id" : "unexpected response status",
          retryable: false,
          attempts: 1,
          causes: [],
          reason: stop.reason,
          eventIndex: -1
        })
      )
    case "ModelError":
      return modelError(t, stop.error)
    case "LoopDetected":
      return new AgentError.LoopDetected({
        ...t,
        message: `'${stop.name}' was called ${stop.repeats} times with identical arguments`,
        name: stop.name,
        argsHash: stop.argsHash,
        repeats: stop.repeats
      })
    case "ToolArgumentsInvalid":
      return new AgentError.ToolArgumentsInvalid({
        ...t,
        message: `the model sent malformed tool arguments in ${stop.malformedTurns} turns`,
        callId: stop.call.callId,
        name: stop.call.name,
        kind: stop.call.kind,
        issues: stop.call.issues,
        malformedTurns: stop.malformedTurns
      })
    case "ToolRunError": {
      const { error } = stop
      return error._tag === "ToolNotFound"
        ? new AgentError.ToolNotFound({
            ...t,
            message: error.message,
            callId: error.callId,
            name: error.name,
            available: error.available ?? []
          })
        : new AgentError.ToolRunFailed({
            ...t,
            message: error.message,
            callId: error.callId,
            name: error.name,
            reason: error._tag
          })
    }
    case "StructuredOutputInvalid":
      return new AgentError.StructuredOutputInvalid({
        ...t,
        message: "the final answer did not match the output schema",
        text: stop.text.slice(0, 8192),
        issue: stop.issue.slice(0, 2048)
      })
    case "WallTime":
      return new AgentError.RequestTimeout({
        ...t,
        message: `the run's ${stop.timeoutMs} ms deadline passed`,
        retryable: false,
        attempts: t.turns,
        causes: [],
        phase: "total",
        timeoutMs: stop.timeoutMs
      })
    case "InvalidApproval":
      return new AgentError.InvalidApproval({
        ...t,
        message:
          stop.reason === "NotPaused"
            ? "the run is not waiting for an approval"
            : `approval refused for ${stop.callId} (${stop.reason})`,
        callId: stop.callId,
        reason: stop.reason
      })
    case "ApprovalAlreadyUsed":
      return new AgentError.ApprovalAlreadyUsed({
        ...t,
        message: `the decision for ${stop.callId} was already acted on; nothing ran`,
        callId: stop.callId
      })
  }
}
