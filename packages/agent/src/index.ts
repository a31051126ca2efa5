/**
 * `@volley/agent`: the agent loop on top of `@volley/core` and `@volley/tools`. Import the modules
 * as namespaces: `Agent` (make, run, stream, resume, approvals, sub-agents), `AgentEvent` (the
 * event vocabulary), `AgentError` (typed failures with transcript), `AgentKnobs` (per-run
 * `Context.Reference` knobs), `RunState` (serialisable state), `ApprovalLedger` (single-use approvals), `StopReason` and
 * `RunHistory`; `Session` (stored conversations), `Guardrail`, `Handoff`, `RunHooks` and
 * `FallbackPolicy`.
 */
/** Agents: make, run, stream, resume, approve/reject, asTool. */
export * as Agent from "./Agent.ts"
/** The events of a run. */
export * as AgentEvent from "./AgentEvent.ts"
/** The typed failures of a run. */
export * as AgentError from "./AgentError.ts"
/** Per-run knobs with defaults. */
export * as AgentKnobs from "./AgentKnobs.ts"
/** The single-use record of approvals acted on. */
export * as ApprovalLedger from "./ApprovalLedger.ts"
/** The serialisable state of a run and approvals. */
export * as RunState from "./RunState.ts"
/** Stop reasons and usage. */
export * as StopReason from "./StopReason.ts"
/** The history schema. */
export * as RunHistory from "./RunHistory.ts"
/** Conversations stored between runs (memory, Postgres). */
export * as Session from "./Session.ts"
/** Input, output and tool guardrails. */
export * as Guardrail from "./Guardrail.ts"
/** Handoffs between agents and their input filters. */
export * as Handoff from "./Handoff.ts"
/** Lifecycle hooks of a run. */
export * as RunHooks from "./RunHooks.ts"
/** Client-side model fallback. */
export * as FallbackPolicy from "./FallbackPolicy.ts"
