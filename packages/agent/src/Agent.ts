/**
 * `Agent`: a model, instructions and tools run in a loop until the model answers. Build one with
 * `Agent.make({ name, model, instructions, toolkit, modelSettings, output })`, then
 * `agent.run(input)` for the result, `agent.stream(input)` for `AgentEvent`s, and
 * `agent.approve` / `agent.reject` + `agent.resume(state, { approvals })` to continue a run paused
 * on a `needsApproval` tool (also after a restart, from `RunState.fromJson`). Needs a
 * `ResponsesClient` and the toolkit's handler layer; knobs come from `AgentKnobs`.
 * Gotcha: `run` succeeds only with a completed or a paused result; every other stop reason fails
 * with a typed `AgentError` that still carries the history and usage. A decision is single-use: the
 * `ApprovalLedger` records its nonce when `resume` acts on it. Issue 16 options: `models` (fallback),
 * guardrails, `handoffs`, dynamic `instructions`, and per-run overrides in `run(input, { model, … })`.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as OpenAiStructuredOutput from "effect/ai/OpenAiStructuredOutput"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ResponsesClient, type ResponsesSchema, RetryPolicy } from "@volley/core"
import { Tool, type Toolkit } from "@volley/tools"
import type { AgentEvent } from "./AgentEvent.ts"
import * as AgentError from "./AgentError.ts"
import * as AgentKnobs from "./AgentKnobs.ts"
import * as ApprovalLedger from "./ApprovalLedger.ts"
import * as FallbackPolicy from "./FallbackPolicy.ts"
import type * as Guardrail from "./Guardrail.ts"
import * as Handoff from "./Handoff.ts"
import { hookStep } from "./internal/extras.ts"
import {
  activeHooks,
  type Instructions,
  type Overrides,
  restrict,
  specForRun,
  withAgentPath
} from "./internal/overrides.ts"
import * as RunHooks from "./RunHooks.ts"
import {
  type CompactionPolicy,
  type OnBusy,
  run as runOnSession,
  type Session,
  type SessionError,
  stream as streamOnSession
} from "./Session.ts"
import { sign } from "./internal/approval.ts"
import { argsHash, inputItems, nestsDeeperThan } from "./internal/history.ts"
import { loop } from "./internal/loop.ts"
import { asTool } from "./internal/subAgent.ts"
import { resumeBatch } from "./internal/resume.ts"
import type { AgentSpec, Extras, Knobs, LoopDeps, LoopOutcome } from "./internal/spec.ts"
import {
  CurrentRun,
  closeBatch,
  failWith,
  makeRun,
  type Run,
  restoreRun,
  snapshot,
  type UsageSink
} from "./internal/run.ts"
import { combine } from "./internal/tools.ts"
import type { Approval, PendingApproval, RunState } from "./RunState.ts"
import type { RunUsage, StopReason, TurnUsage } from "./StopReason.ts"

// ---------------------------------------------------------------------------------------------
// options and results
// ---------------------------------------------------------------------------------------------

/** Model settings, camelCase; each maps to the request field of the same meaning. */
export interface ModelSettings {
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly maxOutputTokens?: number | undefined
  readonly toolChoice?: ResponsesSchema.ToolChoice | undefined
  readonly parallelToolCalls?: boolean | undefined
  readonly reasoning?: { readonly effort?: string | undefined; readonly summary?: string | undefined } | undefined
  readonly truncation?: "auto" | "disabled" | undefined
  readonly store?: boolean | undefined
  readonly include?: ReadonlyArray<string> | undefined
  readonly metadata?: Readonly<Record<string, string>> | undefined
  readonly user?: string | undefined
  readonly verbosity?: string | undefined
  /** HaoAI's provider routing extension. */
  readonly provider?: ResponsesSchema.ProviderRouting | undefined
  /** Raw request fields (wire names), merged last. */
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

/**
 * What `Agent.make` takes. `R` is what the toolkit needs (its handler layer), `RS` what the
 * sub-agents and handoff targets need, `RX` what dynamic instructions and guardrails need; the agent
 * requires all three.
 */
export interface AgentOptions<A, R, RS = never, RX = never> {
  /** The agent's name (spans: `invoke_agent {name}`; sub-agent tool default name). */
  readonly name: string
  readonly model: string
  /**
   * Sent in the request's own `instructions` field (never in the history); a function computes them
   * per run from the run context as an Effect (its requirements join `RX`).
   */
  readonly instructions?: Instructions<RX> | undefined
  /** Fallback models: a turn that fails on `model` (retries spent, context too large) is retried on each in turn. */
  readonly models?: ReadonlyArray<string> | undefined
  /** Input guardrails, run alongside the first model call (also after a handoff to this agent); a tripwire fails the run with `GuardrailTripped`. */
  readonly inputGuardrails?: ReadonlyArray<Guardrail.InputGuardrail<never, RX>> | undefined
  /** Output guardrails on the final value `A`. */
  readonly outputGuardrails?: ReadonlyArray<Guardrail.OutputGuardrail<A, never, RX>> | undefined
  /** Tool guardrails around every tool execution (block a call, replace an output, or trip). */
  readonly toolGuardrails?: ReadonlyArray<Guardrail.ToolGuardrail<never, RX>> | undefined
  /** Agents the model may hand the run to (`transfer_to_<name>` tools), or `Handoff.to(agent, { inputFilter })`. */
  readonly handoffs?: ReadonlyArray<Agent<A, RS> | Handoff.Handoff<Agent<A, RS>>> | undefined
  /** A `@volley/tools` toolkit (`Toolkit.make(...)`); its handler layer becomes part of `R`. */
  readonly toolkit?: Effect.Effect<Toolkit.Runner, never, R> | undefined
  /** Other agents as tools (`agent.asTool(...)`); their usage rolls up into this run. */
  readonly subAgents?: ReadonlyArray<AgentTool<RS>> | undefined
  readonly modelSettings?: ModelSettings | undefined
  /** Structured output: sent as `text.format` json_schema; the final text is decoded into `A`. */
  readonly output?: Schema.Codec<A, unknown> | undefined
  /** The `text.format` name for structured output (default `"output"`). */
  readonly outputName?: string | undefined
  /**
   * Sends the output schema in strict mode (`strict: true`), converted by Effect's `OpenAiStructuredOutput`:
   * optional keys become required nullable ones and a `null` the model sends for them decodes as absent.
   * A schema strict mode cannot express (the root is not an object) throws `AgentDefinitionError` at `make`.
   */
  readonly outputStrict?: boolean | undefined
  /**
   * Signs approvals with HMAC-SHA256; `resume` then refuses unsigned or forged ones. An empty secret
   * throws `AgentDefinitionError` at `make`.
   */
  readonly approvalSecret?: Redacted.Redacted<string> | undefined
  /**
   * With a forced `toolChoice` (`"required"` or a named function), send `"auto"` once a tool ran,
   * so the model can answer instead of calling tools until `MaxTurns` (default true).
   */
  readonly resetToolChoice?: boolean | undefined
}

/** What a run starts from: a user message, or items (e.g. a previous result's `history` plus a new message). */
export type AgentInput = string | ReadonlyArray<ResponsesSchema.InputItem>

/** Per-run options. */
export interface RunOptions {
  /** The run id (default: a random UUID); also the step-identity prefix. */
  readonly runId?: string | undefined
  /** Called once with the final state however the run ends (completed, paused, failed, interrupted). */
  readonly checkpoint?: ((state: RunState) => Effect.Effect<void>) | undefined
}

/** Options of `run` / `stream`: the run's id and checkpoint, and overrides of the agent for this run. */
export interface RunOverrides extends RunOptions {
  /** The model of this run (the agent's `models` still follow it as fallbacks). */
  readonly model?: string | undefined
  /** The instructions of this run (a string, or an Effect from the run context with no requirements). */
  readonly instructions?: Instructions | undefined
  /** Settings merged over the agent's for this run. */
  readonly modelSettings?: ModelSettings | undefined
  /** The tool choice of this run. */
  readonly toolChoice?: ResponsesSchema.ToolChoice | undefined
  /** Offer only these tools (by name) in this run; a call to another is an unknown tool. */
  readonly tools?: ReadonlyArray<string> | undefined
}

/** The session of a run (`run(input, { session: { id } })`). */
export interface SessionRun {
  /** The session's id. */
  readonly id: string
  /** When another run holds the session (default `"wait"`). */
  readonly onBusy?: OnBusy | undefined
  /** Compacts the stored history before the run (e.g. `{ maxItems: 40, summarise: Session.summariseWith(agent) }`). */
  readonly compaction?: CompactionPolicy<AgentError.AgentError, ResponsesClient.ResponsesClient> | undefined
}

/** Options of `resume`. */
export interface ResumeOptions extends Omit<RunOptions, "runId"> {
  /** Decisions for the pending calls (from `agent.approve` / `agent.reject`). */
  readonly approvals?: ReadonlyArray<Approval> | undefined
}

interface ResultCommon {
  readonly runId: string
  readonly agent: string
  /** The agent that ended the run: `agent`, or the last one handed to. */
  readonly lastAgent: string
  /** The history after the run: pass it back (plus a new message) for the next turn of a conversation. */
  readonly history: ReadonlyArray<ResponsesSchema.InputItem>
  /** Usage over the run, sub-agents included. */
  readonly usage: RunUsage
  /** Usage per model call of this agent. */
  readonly turnUsage: ReadonlyArray<TurnUsage>
  /** Model calls made. */
  readonly turns: number
  /** The serialisable state (for `resume`, or to persist). */
  readonly state: RunState
}

/** The run finished with an answer. */
export interface CompletedResult<A> extends ResultCommon {
  readonly _tag: "Completed"
  readonly stopReason: { readonly _tag: "Completed" }
  /** The final assistant text. */
  readonly output: string
  /** The final value: the decoded structured output, or the text. */
  readonly value: A
}

/** The run paused: calls wait for a human decision. */
export interface PausedResult extends ResultCommon {
  readonly _tag: "Paused"
  readonly stopReason: Extract<StopReason, { readonly _tag: "ApprovalRequired" }>
  readonly pending: ReadonlyArray<PendingApproval>
}

/** What `run` / `resume` succeed with. */
export type AgentResult<A> = CompletedResult<A> | PausedResult

/** An agent usable as a tool of another agent: a `Toolkit.Runner` of `@volley/tools`. */
export interface AgentTool<R> extends Toolkit.Runner<R> {
  readonly name: string
}

/** Options of `asTool`. */
export interface AsToolOptions {
  /** Tool name (default: the agent's name, sanitised). */
  readonly name?: string | undefined
  readonly description: string
}

/** An agent. */
export interface Agent<A, R> {
  readonly name: string
  readonly model: string
  /** Runs to completion (or a pause). */
  readonly run: {
    /**
     * On a session: the stored history is prepended and the run's new items appended as one turn
     * (see `Session.run`); needs a `Session` store.
     */
    (
      input: AgentInput,
      options: RunOverrides & { readonly session: SessionRun }
    ): Effect.Effect<
      AgentResult<A>,
      AgentError.AgentError | SessionError,
      R | ResponsesClient.ResponsesClient | Session
    >
    (
      input: AgentInput,
      options?: RunOverrides
    ): Effect.Effect<AgentResult<A>, AgentError.AgentError, R | ResponsesClient.ResponsesClient>
  }
  /** Runs with streaming model calls and emits every event; ends after `RunEnd` (or fails). */
  readonly stream: {
    /** On a session, like `run` (see `Session.stream`): the lock is held while the stream runs. */
    (
      input: AgentInput,
      options: RunOverrides & { readonly session: SessionRun }
    ): Stream.Stream<AgentEvent, AgentError.AgentError | SessionError, R | ResponsesClient.ResponsesClient | Session>
    (
      input: AgentInput,
      options?: RunOverrides
    ): Stream.Stream<AgentEvent, AgentError.AgentError, R | ResponsesClient.ResponsesClient>
  }
  /** Continues a saved state (paused or interrupted), applying approvals. */
  readonly resume: (
    state: RunState,
    options?: ResumeOptions
  ) => Effect.Effect<AgentResult<A>, AgentError.AgentError, R | ResponsesClient.ResponsesClient>
  /** `resume`, streaming. */
  readonly resumeStream: (
    state: RunState,
    options?: ResumeOptions
  ) => Stream.Stream<AgentEvent, AgentError.AgentError, R | ResponsesClient.ResponsesClient>
  /** An approval for a pending call of a paused state (signed when the agent has a secret). */
  readonly approve: (state: RunState, callId: string) => Approval
  /** A rejection for a pending call; `message` is what the model is told. */
  readonly reject: (state: RunState, callId: string, message?: string) => Approval
  /** This agent as a tool of another agent: `{ input: string }` in, the final text out. */
  readonly asTool: (options: AsToolOptions) => AgentTool<R | ResponsesClient.ResponsesClient>
}

// ---------------------------------------------------------------------------------------------
// make
// ---------------------------------------------------------------------------------------------

const wireSettings = (settings: ModelSettings | undefined): Record<string, unknown> => {
  if (settings === undefined) return {}
  const wire: Record<string, unknown> = {}
  const set = (key: string, value: unknown) => {
    if (value !== undefined) wire[key] = value
  }
  set("temperature", settings.temperature)
  set("top_p", settings.topP)
  set("max_output_tokens", settings.maxOutputTokens)
  set("tool_choice", settings.toolChoice)
  set("parallel_tool_calls", settings.parallelToolCalls)
  set("reasoning", settings.reasoning)
  set("truncation", settings.truncation)
  set("store", settings.store)
  set("include", settings.include)
  set("metadata", settings.metadata)
  set("user", settings.user)
  set("provider", settings.provider)
  if (settings.verbosity !== undefined) wire.text = { verbosity: settings.verbosity }
  return { ...wire, ...settings.extra }
}

/**
 * The `text.format` and decoder of structured output. With `outputStrict`, Effect's
 * `OpenAiStructuredOutput.toCodecOpenAI` gives the strict-mode JSON Schema (every key required,
 * optional ones nullable, objects closed) and the codec that turns the model's `null`s back into
 * absent keys, so any schema works in strict mode; without it, the schema's own JSON Schema is sent.
 */
const outputSpec = <A>(
  agentName: string,
  options: Pick<AgentOptions<A, never>, "output" | "outputName" | "outputStrict">
): Pick<AgentSpec<A>, "textFormat" | "decodeOutput"> => {
  const schema = options.output
  if (schema === undefined) return { textFormat: undefined, decodeOutput: undefined }
  const strict = options.outputStrict ?? false
  const converted = strict ? strictOutput(agentName, schema) : { codec: schema, jsonSchema: documentOf(schema) }
  const textFormat: ResponsesSchema.TextFormat = {
    type: "json_schema",
    name: options.outputName ?? "output",
    schema: converted.jsonSchema as Record<string, unknown>,
    strict
  }
  const decode = Schema.decodeUnknownExit(Schema.fromJsonString(converted.codec))
  return {
    textFormat,
    decodeOutput: (text) => {
      // the schema's decoder is recursive: model JSON nested deeper than the one limit never reaches it
      if (nestsDeeperThan(text, Tool.maxArgumentsDepth))
        return { ok: false, issue: `the JSON nests deeper than ${Tool.maxArgumentsDepth} levels` }
      const exit = decode(text)
      if (Exit.isSuccess(exit)) return { ok: true, value: exit.value }
      const error = Cause.squash(exit.cause)
      return { ok: false, issue: error instanceof Error ? error.message : String(error) }
    }
  }
}

/** The schema's own JSON Schema document, definitions under `$defs`. */
const documentOf = (schema: Schema.Top): Record<string, unknown> => {
  const document = Schema.toJsonSchemaDocument(schema)
  const jsonSchema: Record<string, unknown> = { ...document.schema }
  if (Object.keys(document.definitions).length > 0) jsonSchema.$defs = document.definitions
  return jsonSchema
}

/** Effect's strict-mode conversion; a schema it cannot express (a non-object root) is a definition error. */
const strictOutput = <A>(agentName: string, schema: Schema.Codec<A, unknown>) => {
  const converted = Result.try({
    try: () => OpenAiStructuredOutput.toCodecOpenAI(schema),
    catch: (error) => (error instanceof Error ? error.message : String(error))
  })
  if (Result.isSuccess(converted)) return converted.success
  // Definition-time boundary, like an empty approvalSecret: reported where the agent is built.
  throw new AgentError.AgentDefinitionError({
    message: `Agent "${agentName}": the output schema cannot be sent in strict mode: ${converted.failure}`
  })
}

/** The knobs of a run, read from the fiber's references in one step. */
const knobsOf = (fiber: Fiber.Fiber<unknown, unknown>): Knobs => {
  const retryPolicy = fiber.getRef(RetryPolicy.RetryPolicy)
  return {
    maxTurns: fiber.getRef(AgentKnobs.MaxTurns),
    toolConcurrency: fiber.getRef(AgentKnobs.ToolConcurrency),
    budgets: fiber.getRef(AgentKnobs.Budgets),
    maxInputBytes: fiber.getRef(AgentKnobs.MaxInputBytes),
    retryTurnOnStreamDrop: fiber.getRef(AgentKnobs.RetryTurnOnStreamDrop),
    modelRetries: fiber.getRef(AgentKnobs.ModelRetries) ?? retryPolicy.maxRetries,
    retryPolicy,
    malformedArgumentTurns: fiber.getRef(AgentKnobs.MalformedArgumentTurns),
    repeatedCalls: fiber.getRef(AgentKnobs.RepeatedCalls),
    maxCallsPerTurn: fiber.getRef(AgentKnobs.MaxCallsPerTurn),
    unknownTool: fiber.getRef(AgentKnobs.UnknownTool),
    captureContent: fiber.getRef(AgentKnobs.CaptureContent),
    wrap: fiber.getRef(AgentKnobs.StepWrapper).wrap,
    hooks: activeHooks(fiber.getRef(RunHooks.RunHooks)),
    fallbackModels: fiber.getRef(FallbackPolicy.FallbackPolicy).models
  }
}

/** What a run starts with. */
interface StartContext {
  readonly client: ResponsesClient.Service
  readonly knobs: Knobs
  readonly ledger: ApprovalLedger.ApprovalLedgerShape
  readonly parent: UsageSink | undefined
}

/**
 * What a run reads from its fiber when it starts (one step): the client, the knobs and the parent run.
 * The requirement is declared, so the client is looked up in a context that has it.
 */
const readStart = Effect.withFiber<StartContext, never, ResponsesClient.ResponsesClient>((fiber) =>
  Exit.succeed({
    client: Context.getUnsafe(fiber.context, ResponsesClient.ResponsesClient),
    knobs: knobsOf(fiber),
    ledger: fiber.getRef(ApprovalLedger.ApprovalLedger),
    parent: fiber.getRef(CurrentRun)
  })
)

const emptyToolkit: Toolkit.Runner = {
  names: [],
  definitions: () => [],
  handle: () => Effect.die("no toolkit"),
  needsApproval: () => Effect.succeed(false)
}

const sanitiseName = (name: string): string => name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64) || "agent"

/** How a run starts: a fresh or restored run, and the approvals to apply first. */
interface Start {
  readonly run: Run
  readonly resumed: boolean
  readonly approvals: ReadonlyArray<Approval>
  /** A restored run: the agent its state was saved by (`state.agent`, the last one handed to). */
  readonly agent?: string | undefined
}

/** What `execute` runs: the agent, how the run starts, and where its events go. */
interface Execution<A, R> {
  readonly spec: AgentSpec<A>
  /** The agent's instructions when they are computed per run. */
  readonly dynamic?: Instructions<R> | undefined
  readonly toolkitOf: Effect.Effect<Toolkit.Runner<R>, never, R>
  readonly start: (parent: UsageSink | undefined) => Start
  readonly runOptions: RunOverrides | undefined
  readonly mode: "create" | "stream"
  readonly emit: (event: AgentEvent) => Effect.Effect<void>
  readonly emitAll?: ((events: ReadonlyArray<AgentEvent>) => Effect.Effect<void>) | undefined
}

/** An agent as `execute` needs it, kept per agent object so a handoff can continue as that agent. */
interface Registered {
  readonly spec: AgentSpec<unknown>
  readonly dynamic: Instructions<unknown> | undefined
  readonly toolkitOf: Effect.Effect<Toolkit.Runner<unknown>, never, unknown>
}

const registry = new WeakMap<object, Registered>()

/**
 * The agent named `name` among those `spec` can hand off to, directly or through other handoffs
 * (breadth first, each agent once): the agent a run paused after a handoff resumes as.
 */
const handoffTarget = (spec: AgentSpec<unknown>, name: string): Registered | undefined => {
  const seen = new Set<AgentSpec<unknown>>([spec])
  const queue: Array<AgentSpec<unknown>> = [spec]
  for (let next = queue.shift(); next !== undefined; next = queue.shift())
    for (const handoff of next.extras?.handoffs ?? []) {
      const target = registry.get(handoff.agent as object)
      if (target === undefined || seen.has(target.spec)) continue
      if (target.spec.name === name) return target
      seen.add(target.spec)
      queue.push(target.spec)
    }
  return undefined
}

/** The overrides of a run's options, `undefined` when it has none. */
const overridesOf = (options: RunOverrides | undefined): Overrides | undefined =>
  options === undefined ||
  (options.model === undefined &&
    options.instructions === undefined &&
    options.modelSettings === undefined &&
    options.toolChoice === undefined)
    ? undefined
    : {
        model: options.model,
        instructions: options.instructions,
        settings: options.modelSettings === undefined ? undefined : wireSettings(options.modelSettings),
        toolChoice: options.toolChoice
      }

/** Replaces a run's history (a handoff's input filter); the pairing check starts over. */
const replaceHistory = (run: Run, items: ReadonlyArray<ResponsesSchema.InputItem>): void => {
  run.history.length = 0
  run.history.push(...items)
  run.historyBytes = undefined
  run.pairing.calls.clear()
  run.pairing.checked = 0
  run.pairing.open = 0
  run.toolsRan = false
}

/** One run (fresh or resumed) inside the `invoke_agent` span: knobs, deadline, interruption, handoffs, result. */
const execute = <A, R>({
  spec: agentSpec,
  dynamic,
  toolkitOf,
  start,
  runOptions,
  mode,
  emit: ownEmit,
  emitAll
}: Execution<A, R>): Effect.Effect<AgentResult<A>, AgentError.AgentError, R | ResponsesClient.ResponsesClient> =>
  Effect.gen(function* () {
    const { client, knobs, ledger, parent } = yield* readStart
    const { run, resumed, approvals, agent: savedBy } = start(parent)
    // a run paused after a handoff resumes as the agent that paused it (`state.agent`)
    const resumedAs =
      savedBy === undefined || savedBy === agentSpec.name
        ? undefined
        : handoffTarget(agentSpec as AgentSpec<unknown>, savedBy)
    // the trace page joins a paused run and its resume by these (a resume keeps the run id)
    yield* Effect.annotateCurrentSpan(
      resumed
        ? { "volley.agent.run_id": run.runId, "volley.agent.resumed_from": run.runId }
        : { "volley.agent.run_id": run.runId }
    )
    // a sub-agent of a watched run forwards its events with its name in front
    const forward = parent?.forward
    const emit = forward === undefined || mode === "stream" ? ownEmit : withAgentPath(forward, [agentSpec.name])
    const overrides = overridesOf(runOptions)
    // a plain run uses the agent's spec as it is (no step, no copy)
    let spec: AgentSpec<A> =
      resumedAs !== undefined
        ? // the target's requirements are part of this agent's `R` (its handoffs)
          yield* specForRun(resumedAs.spec, resumedAs.dynamic, overrides, {
            agent: resumedAs.spec.name,
            runId: run.runId,
            input: run.history.slice()
          }) as Effect.Effect<AgentSpec<unknown>, never, R> as Effect.Effect<AgentSpec<A>, never, R>
        : overrides === undefined && dynamic === undefined
          ? agentSpec
          : yield* specForRun(agentSpec, dynamic, overrides, {
              agent: agentSpec.name,
              runId: run.runId,
              input: run.history.slice()
            })
    const ownToolkit =
      resumedAs === undefined
        ? yield* toolkitOf
        : yield* resumedAs.toolkitOf as Effect.Effect<Toolkit.Runner<R>, never, R>
    const toolkit = runOptions?.tools === undefined ? ownToolkit : restrict(ownToolkit, runOptions.tools)
    const observeTools = mode === "stream" || forward !== undefined
    let deps: LoopDeps<R> =
      resumedAs === undefined
        ? { client, toolkit, knobs, ledger, emit, emitAll, mode, observeTools }
        : { client, toolkit, knobs, ledger, emit: withAgentPath(emit, [spec.name]), mode, observeTools }
    const hooks = knobs.hooks
    const checkpoint = (reason: StopReason) =>
      runOptions?.checkpoint === undefined ? Effect.void : runOptions.checkpoint(snapshot(spec.name, run, reason))
    yield* emit({ _tag: "RunStart", runId: run.runId, agent: spec.name, resumed })
    if (hooks !== undefined) yield* hookStep(run, hooks, "onRunStart", { agent: spec.name, runId: run.runId })
    // a fresh run has no batch to resume: straight into the loop
    const first: Effect.Effect<LoopOutcome<A>, AgentError.AgentError, R> = run.batch === undefined &&
    approvals.length === 0
      ? loop(spec, run, deps)
      : Effect.gen(function* () {
          // approvals are checked with the secret of the agent `resume` was called on (whose `approve` signed them)
          const checkedAs =
            spec.approvalSecret === agentSpec.approvalSecret
              ? spec
              : { ...spec, approvalSecret: agentSpec.approvalSecret }
          const resumedOutcome = yield* resumeBatch(checkedAs, run, deps, approvals)
          return resumedOutcome !== undefined ? resumedOutcome : yield* loop(spec, run, deps)
        })
    // a handoff continues the same run (history, turns, usage) as the target agent
    const handingOff = (start: LoopOutcome<A>): Effect.Effect<Settled<A>, AgentError.AgentError, R> =>
      Effect.gen(function* () {
        let outcome = start
        while (outcome._tag === "Handoff") {
          const target = registry.get(outcome.handoff.agent as object)
          if (target === undefined)
            return yield* Effect.die(`handoff target ${outcome.handoff.agentName} is not an agent`)
          yield* deps.emit({ _tag: "Handoff", turn: outcome.turn, from: spec.name, to: target.spec.name })
          yield* hookStep(run, hooks, "onHandoff", {
            agent: spec.name,
            runId: run.runId,
            turn: outcome.turn,
            to: target.spec.name
          })
          const filtered = Handoff.historyFor(outcome.handoff, run.history)
          if (filtered !== run.history) replaceHistory(run, filtered)
          const next = yield* specForRun(target.spec, target.dynamic, undefined, {
            agent: target.spec.name,
            runId: run.runId,
            input: run.history.slice()
          })
          spec = next as AgentSpec<A>
          const targetToolkit = (yield* target.toolkitOf) as Toolkit.Runner<R>
          // the target's input guardrails run on its first model call (`inputTurn`)
          deps = {
            ...deps,
            toolkit: targetToolkit,
            emit: withAgentPath(emit, [spec.name]),
            emitAll: undefined,
            inputTurn: run.turns
          }
          outcome = yield* loop(spec, run, deps)
        }
        return outcome
      }) as Effect.Effect<Settled<A>, AgentError.AgentError, R>
    const body =
      agentSpec.extras === undefined
        ? (first as Effect.Effect<Settled<A>, AgentError.AgentError, R>)
        : Effect.flatMap(first, handingOff)
    const wallTimeMs = knobs.budgets.wallTimeMs
    const bounded =
      wallTimeMs === undefined
        ? body
        : body.pipe(
            Effect.timeoutOrElse({
              duration: Duration.millis(wallTimeMs),
              orElse: () =>
                Effect.suspend(() => {
                  closeBatch(run, "cancelled: the run's deadline passed")
                  return failWith(run, { _tag: "WallTime", timeoutMs: wallTimeMs })
                })
            })
          )
    const outcome = yield* bounded.pipe(
      Effect.onInterrupt(() =>
        Effect.suspend(() => {
          closeBatch(run, "cancelled: the run was interrupted")
          return checkpoint({ _tag: "Interrupted" })
        })
      ),
      Effect.tapError((error) =>
        Effect.gen(function* () {
          const reason = AgentError.stopReasonOf(error)
          if (reason !== undefined) {
            yield* deps.emit({
              _tag: "RunEnd",
              runId: run.runId,
              agent: spec.name,
              stopReason: reason,
              usage: run.usage
            })
            if (hooks !== undefined)
              yield* Effect.ignore(
                RunHooks.call(hooks, "onRunEnd", {
                  agent: spec.name,
                  runId: run.runId,
                  stopReason: reason,
                  usage: run.usage
                })
              )
          }
          if (runOptions?.checkpoint !== undefined)
            yield* runOptions.checkpoint(
              snapshot(spec.name, run, reason ?? pausedReason(run) ?? { _tag: "Interrupted" })
            )
        })
      )
    )
    const result = toResult(agentSpec.name, spec.name, run, outcome)
    yield* Effect.annotateCurrentSpan({
      ...(knobs.captureContent ? contentAttributes(spec, result) : {}),
      "gen_ai.usage.input_tokens": run.usage.inputTokens,
      "gen_ai.usage.output_tokens": run.usage.outputTokens,
      "volley.agent.turns": run.turns,
      "volley.agent.stop_reason": result.stopReason._tag
    })
    yield* deps.emit({
      _tag: "RunEnd",
      runId: run.runId,
      agent: spec.name,
      stopReason: result.stopReason,
      usage: run.usage
    })
    if (hooks !== undefined)
      yield* hookStep(run, hooks, "onRunEnd", {
        agent: spec.name,
        runId: run.runId,
        stopReason: result.stopReason,
        usage: run.usage
      })
    yield* checkpoint(result.stopReason)
    return result
  }).pipe(
    Effect.withSpan(
      `invoke_agent ${agentSpec.name}`,
      {
        attributes: {
          "gen_ai.operation.name": "invoke_agent",
          "gen_ai.agent.name": agentSpec.name,
          "gen_ai.request.model": runOptions?.model ?? agentSpec.model
        }
      },
      // no stack trace per run: a captured `Error` each, only ever shown in pretty-printed causes
      { captureStackTrace: false }
    )
  )

/** A run as a stream of events: the run is forked in the stream's scope and feeds a bounded queue. */
const streamOf = <A, R>(
  execution: Omit<Execution<A, R>, "mode" | "emit" | "emitAll">
): Stream.Stream<AgentEvent, AgentError.AgentError, R | ResponsesClient.ResponsesClient> =>
  Stream.callback<AgentEvent, AgentError.AgentError, R | ResponsesClient.ResponsesClient>(
    (queue) =>
      execute({
        ...execution,
        mode: "stream",
        // one step per event while the buffer has room; waits (in order) only when it is full
        emit: (event) =>
          Effect.suspend(() =>
            Queue.offerUnsafe(queue, event) ? Effect.void : Effect.asVoid(Queue.offer(queue, event))
          ),
        // one queue operation per chunk of model events (suspends until all fit, in order)
        emitAll: (events) =>
          Effect.suspend(() => {
            const rest = Queue.offerAllUnsafe(queue, events)
            return rest.length === 0 ? Effect.void : Effect.asVoid(Queue.offerAll(queue, rest))
          })
      }).pipe(
        Effect.matchEffect({
          onFailure: (error) => Queue.fail(queue, error),
          onSuccess: () => Queue.end(queue)
        })
      ),
    { bufferSize: 1024, strategy: "suspend" }
  )

/** Builds an agent. */
export const make = <A = string, RT = never, RS = never, RX = never>(
  options: AgentOptions<A, RT, RS, RX>
): Agent<A, RT | RS | RX> => {
  type R = RT | RS | RX
  const secret = options.approvalSecret === undefined ? undefined : Redacted.value(options.approvalSecret)
  if (secret === "")
    // Definition-time boundary: an empty key would sign every approval with a key anyone knows.
    throw new AgentError.AgentDefinitionError({
      message: `Agent "${options.name}": approvalSecret is empty; pass a secret or leave the option out`
    })
  const handoffs = (options.handoffs ?? []).map((handoff) => (isHandoff(handoff) ? handoff : Handoff.to(handoff)))
  const extras: Extras | undefined =
    options.models === undefined &&
    options.inputGuardrails === undefined &&
    options.outputGuardrails === undefined &&
    options.toolGuardrails === undefined &&
    handoffs.length === 0
      ? undefined
      : {
          models: options.models ?? [],
          // their requirements are part of the agent's `R`
          inputGuardrails: (options.inputGuardrails ?? []) as unknown as Extras["inputGuardrails"],
          outputGuardrails: (options.outputGuardrails ?? []) as unknown as Extras["outputGuardrails"],
          toolGuardrails: (options.toolGuardrails ?? []) as unknown as Extras["toolGuardrails"],
          handoffs
        }
  const dynamic = typeof options.instructions === "function" ? options.instructions : undefined
  const spec: AgentSpec<A> = {
    name: options.name,
    model: options.model,
    instructions: typeof options.instructions === "string" ? options.instructions : undefined,
    settings: wireSettings(options.modelSettings),
    approvalSecret: secret,
    resetToolChoice: options.resetToolChoice ?? true,
    ...outputSpec(options.name, options),
    ...(extras === undefined ? {} : { extras })
  }

  const subAgents: ReadonlyArray<Toolkit.Runner<R>> = options.subAgents ?? []
  const baseToolkit: Effect.Effect<Toolkit.Runner<R>, never, R> = options.toolkit ?? Exit.succeed(emptyToolkit)
  // read once per run: the toolkit itself when there are no sub-agents (one step, no generator)
  const toolkitOf: Effect.Effect<Toolkit.Runner<R>, never, R> = subAgents.length === 0
    ? baseToolkit
    : Effect.map(baseToolkit, (base) => combine<R>([base, ...subAgents]))

  const fresh =
    (input: AgentInput, runOptions: RunOptions | undefined) =>
    (parent: UsageSink | undefined): Start => ({
      run: makeRun(runOptions?.runId ?? crypto.randomUUID(), inputItems(input), parent),
      resumed: false,
      approvals: []
    })
  const restored =
    (state: RunState, approvals: ReadonlyArray<Approval>) =>
    (parent: UsageSink | undefined): Start => ({
      run: restoreRun(state, parent),
      resumed: true,
      approvals,
      agent: state.agent
    })
  const noEmit = () => Effect.void

  // The decision is bound to the call that would run (its name and a hash of its arguments,
  // recomputed here), not to what the saved state claims about it.
  const decisionFor = (state: RunState, callId: string, decision: Approval["decision"], message?: string): Approval => {
    const call = state.pending?.calls.find((candidate) => candidate.call_id === callId)
    const pending = state.pending?.awaiting.find((candidate) => candidate.callId === callId)
    const bound = {
      runId: state.runId,
      callId,
      name: call?.name ?? "",
      argsHash: call === undefined ? "" : argsHash(call.arguments),
      nonce: pending?.nonce ?? "",
      decision
    }
    return {
      ...bound,
      ...(message === undefined ? {} : { message }),
      ...(secret === undefined ? {} : { signature: sign(secret, bound) })
    }
  }

  const agent: Agent<A, R> = {
    name: options.name,
    model: options.model,
    run: ((input: AgentInput, runOptions?: RunOverrides & { readonly session?: SessionRun }) => {
      if (runOptions?.session === undefined)
        return execute({
          spec,
          dynamic,
          toolkitOf,
          start: fresh(input, runOptions),
          runOptions,
          mode: "create",
          emit: noEmit
        })
      const { session, ...rest } = runOptions
      // Session.run runs this agent again without `session`, under the session's lock
      return runOnSession(agent, session.id, input, sessionOptions(session, rest))
    }) as Agent<A, R>["run"],
    stream: ((input: AgentInput, runOptions?: RunOverrides & { readonly session?: SessionRun }) => {
      if (runOptions?.session === undefined)
        return streamOf({ spec, dynamic, toolkitOf, start: fresh(input, runOptions), runOptions })
      const { session, ...rest } = runOptions
      // Session.stream streams this agent again without `session`, under the session's lock
      return streamOnSession(agent, session.id, input, sessionOptions(session, rest))
    }) as Agent<A, R>["stream"],
    resume: (state, resumeOptions) =>
      execute({
        spec,
        dynamic,
        toolkitOf,
        start: restored(state, resumeOptions?.approvals ?? []),
        runOptions: resumeOptions,
        mode: "create",
        emit: noEmit
      }),
    resumeStream: (state, resumeOptions) =>
      streamOf({
        spec,
        dynamic,
        toolkitOf,
        start: restored(state, resumeOptions?.approvals ?? []),
        runOptions: resumeOptions
      }),
    approve: (state, callId) => decisionFor(state, callId, "approve"),
    reject: (state, callId, message) => decisionFor(state, callId, "reject", message),
    asTool: (toolOptions) => asTool(agent, toolOptions, sanitiseName(agent.name))
  }
  registry.set(agent, { spec, dynamic, toolkitOf } as unknown as Registered)
  return agent
}

/** The options of `Session.run` / `Session.stream` for a run's `session` option. */
const sessionOptions = (session: SessionRun, rest: RunOverrides) => ({
  ...rest,
  ...(session.onBusy === undefined ? {} : { onBusy: session.onBusy }),
  ...(session.compaction === undefined ? {} : { compaction: session.compaction })
})

const isHandoff = <T>(value: T | Handoff.Handoff<T>): value is Handoff.Handoff<T> =>
  (value as { readonly _tag?: unknown })._tag === "Handoff"

/** The stop reason of a run still paused (e.g. after an `InvalidApproval`), if it is. */
const pausedReason = (run: Run): StopReason | undefined => {
  const first = run.batch?.awaiting[0]
  return first === undefined
    ? undefined
    : { _tag: "ApprovalRequired", callId: first.callId, name: first.name, argsHash: first.argsHash }
}

const maxContentBytes = 8 * 1024

/** G03: prompts and outputs on the agent span, only with `CaptureContent`, each ≤ 8 KiB. */
const contentAttributes = <A>(spec: AgentSpec<A>, result: AgentResult<A>): Record<string, string> => {
  const attributes: Record<string, string> = {}
  if (spec.instructions !== undefined)
    attributes["gen_ai.system_instructions"] = spec.instructions.slice(0, maxContentBytes)
  if (result._tag === "Completed") attributes["gen_ai.output.text"] = result.output.slice(0, maxContentBytes)
  return attributes
}

/** How a run ends when it does not fail, once every handoff was followed. */
type Settled<A> = Exclude<LoopOutcome<A>, { readonly _tag: "Handoff" }>

const toResult = <A>(agent: string, lastAgent: string, run: Run, outcome: Settled<A>): AgentResult<A> => {
  const common = {
    runId: run.runId,
    agent,
    lastAgent,
    history: run.history,
    usage: run.usage,
    turnUsage: run.turnUsage,
    turns: run.turns
  }
  if (outcome._tag === "Completed") {
    const stopReason = { _tag: "Completed" } as const
    return {
      _tag: "Completed",
      ...common,
      stopReason,
      output: outcome.text,
      value: outcome.value,
      state: snapshot(lastAgent, run, stopReason)
    }
  }
  const first = outcome.awaiting[0]!
  const stopReason = {
    _tag: "ApprovalRequired",
    callId: first.callId,
    name: first.name,
    argsHash: first.argsHash
  } as const
  return {
    _tag: "Paused",
    ...common,
    stopReason,
    pending: outcome.awaiting,
    state: snapshot(lastAgent, run, stopReason)
  }
}

/** The argument hash the loop binds approvals to (SHA-256 of the canonical JSON arguments). */
export const hashArguments = (args: string): string => argsHash(args)
