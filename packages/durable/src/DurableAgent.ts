/**
 * `DurableAgent`: one agent run as one workflow execution of Effect's `effect/workflow`, keyed by a
 * caller-supplied `runId`. `layer(agent)` registers the agent's workflow on the current
 * `WorkflowEngine` (memory for tests, `DurableEngine.layerPostgres` for one machine);
 * `run(agent, input, { runId })` starts the run or joins it when that id was already submitted.
 * Each model call is an activity `model/<turn>` storing the decoded response, each tool call an
 * activity `tool/<turn>/<call_id>` storing its output item; on a restart the loop replays from the
 * stored steps and only the step that was cut off runs again. The step key (`StepKey`, a hash of
 * execution id and step name) is sent as `Idempotency-Key` and handed to tools. A run paused for
 * approval awaits a `DurableDeferred` per call (`approve/<call_id>`), decided by `approve`/`reject`.
 * Gotcha: the loop between steps must stay deterministic: an agent whose tools, instructions or
 * model settings change while runs are in flight replays against the new definition (docs/durable.md).
 */
import type { Agent } from "@volley/agent"
import type { AgentEvent, RunState } from "@volley/agent"
import { AgentError, AgentKnobs, ApprovalLedger, RunHistory, StopReason } from "@volley/agent"
import { ResponsesClient, ResponsesSchema } from "@volley/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import * as Activity from "effect/workflow/Activity"
import * as DurableDeferred from "effect/workflow/DurableDeferred"
import * as Workflow from "effect/workflow/Workflow"
import type { WorkflowEngine, WorkflowInstance } from "effect/workflow/WorkflowEngine"
import * as StepStore from "./internal/stepStore.ts"
import * as RunEvents from "./RunEvents.ts"

/** The step key of the step running now: hash(execution id, step name); `undefined` outside a durable step. */
export const StepKey = Context.Reference<string | undefined>("@volley/durable/StepKey", {
  defaultValue: () => undefined
})

/** Whether the current fiber already runs inside a durable step (nested steps, e.g. a sub-agent's, run as plain code). */
const InsideStep = Context.Reference<boolean>("@volley/durable/InsideStep", { defaultValue: () => false })

/** What a finished durable run stores and returns. */
export const DurableResult = Schema.Struct({
  runId: Schema.String,
  agent: Schema.String,
  /** The final text. */
  output: Schema.String,
  history: RunHistory.RunHistory,
  usage: StopReason.RunUsage,
  turns: Schema.Number
})
/** What a finished durable run stores and returns. */
export type DurableResult = typeof DurableResult.Type

/** Every error a durable run ends with: the agent's own (`toLayer` checks that none is missing). */
export const DurableRunError = Schema.Union([
  AgentError.MaxTurnsExceeded,
  AgentError.BudgetExceeded,
  AgentError.LoopDetected,
  AgentError.Truncated,
  AgentError.Refused,
  AgentError.RequestTimeout,
  AgentError.ModelBehavior,
  AgentError.InvalidHistory,
  AgentError.ContextTooLarge,
  AgentError.InvalidApproval,
  AgentError.ApprovalAlreadyUsed,
  AgentError.ToolArgumentsInvalid,
  AgentError.ToolNotFound,
  AgentError.ToolRunFailed,
  AgentError.StructuredOutputInvalid,
  AgentError.ModelError,
  AgentError.GuardrailTripped,
  AgentError.HookFailed
])
/** Every error a durable run ends with. */
export type DurableRunError = typeof DurableRunError.Type

/** The payload of a run: its id and its input. */
export const Payload = {
  runId: Schema.String,
  input: Schema.Union([Schema.String, Schema.Array(ResponsesSchema.InputItem)])
}

/** A step that finished (or was read back from storage), for progress reports. */
export interface StepReport {
  readonly runId: string
  /** `model/<turn>` or `tool/<turn>/<call_id>`. */
  readonly name: string
  readonly key: string
  /** True when the result came from storage and the step did not run in this process. */
  readonly replayed: boolean
}

/**
 * What a tool's call does to the world, and so what a crash mid-call means (docs/durable.md):
 * `readOnly` (re-run freely), `keyed` (re-run with the same `StepKey`, which the tool forwards to the
 * remote system), `transactional` (writes through `SqlClient` in the step's transaction: exactly
 * once), `unsafe` (at most once: a call cut off by a crash is not re-run and the model is told the
 * outcome is unknown; pair it with `needsApproval` or an outbox).
 */
export type ToolClass = "readOnly" | "keyed" | "transactional" | "unsafe"

/** The class of tools not listed in `LayerOptions.tools`. */
export const defaultToolClass: ToolClass = "keyed"

/** A paused run's calls awaiting a decision (`approve/<call_id>`). */
export interface PauseReport {
  readonly runId: string
  readonly pending: ReadonlyArray<{ readonly callId: string; readonly name: string; readonly arguments: string }>
}

/** Options of `layer`. */
export interface LayerOptions {
  /** Called after each step's result is stored (or read back): progress, tests. */
  readonly onStep?: ((report: StepReport) => Effect.Effect<void>) | undefined
  /** Called when a run pauses for approvals (again on every replay of the pause). */
  readonly onPause?: ((report: PauseReport) => Effect.Effect<void>) | undefined
  /** Side-effect class per tool name (default `keyed`); `transactional` and `unsafe` need a `SqlClient`. */
  readonly tools?: Readonly<Record<string, ToolClass>> | undefined
}

/** A human decision on one call, as the run's `approve/<call_id>` deferred stores it. */
export const Decision = Schema.Struct({
  decision: Schema.Literals(["approve", "reject"]),
  message: Schema.optionalKey(Schema.String)
})
/** A human decision on one call. */
export type Decision = typeof Decision.Type

/** The durable deferred a paused run awaits for one call. */
export const approval = (callId: string) => DurableDeferred.make(`approve/${callId}`, { success: Decision })

/** What `approve` / `reject` did: recorded, or nothing because the call was already decided. */
export type DecisionAnswer =
  | { readonly _tag: "Recorded"; readonly decision: "approve" | "reject" }
  | { readonly _tag: "AlreadyDecided"; readonly callId: string }

/** The workflow of an agent: one per agent name, payload `{ runId, input }`, idempotent by `runId`. */
export const workflow = <A, R>(agent: Agent.Agent<A, R>) =>
  Workflow.make(`volley/agent/${agent.name}`, {
    payload: Payload,
    idempotencyKey: (payload) => payload.runId,
    success: DurableResult,
    error: DurableRunError
  })

/** The activity name of a step: `model/<turn>` or `tool/<turn>/<call_id>`. */
export const stepName = (id: AgentKnobs.StepId): string =>
  id.kind === "model" ? `model/${id.turn}` : `tool/${id.turn}/${id.callId ?? ""}`

/** A client that sends the current `StepKey` as the idempotency key of every call made inside a step. */
const keyedClient = (client: ResponsesClient.Service): ResponsesClient.Service => {
  const withKey = <O extends { readonly headers?: Readonly<Record<string, string>> | undefined }>(
    key: string | undefined,
    options: O | undefined
  ) =>
    key === undefined
      ? options
      : { ...options, idempotencyKey: key, headers: { ...options?.headers, "idempotency-key": key } }
  return {
    create: (request, options) => Effect.flatMap(StepKey, (key) => client.create(request, withKey(key, options))),
    stream: (request, options) =>
      Stream.unwrap(Effect.map(StepKey, (key) => client.stream(request, withKey(key, options))))
  }
}

/** The step under its tool's side-effect class (model steps and `readOnly`/`keyed` tools run as they are). */
const classed = <A, E, R>(
  id: AgentKnobs.StepId,
  key: string,
  step: Effect.Effect<A, E, R>,
  schema: AgentKnobs.StepSchema<A, E>,
  options: LayerOptions | undefined,
  sql: Option.Option<SqlClient.SqlClient>
): Effect.Effect<A, E, R> => {
  if (id.kind !== "tool") return step
  const name = id.name ?? ""
  const toolClass = options?.tools?.[name] ?? defaultToolClass
  if (toolClass === "readOnly" || toolClass === "keyed") return step
  if (Option.isNone(sql))
    return Effect.die(`the ${toolClass} tool ${name} needs a SqlClient (DurableEngine.layerPostgres)`)
  if (toolClass === "transactional") return StepStore.transactional(sql.value, key, step, schema.success)
  const unknown = Effect.orDie(
    Schema.decodeUnknownEffect(schema.success)(StepStore.outcomeUnknown(id.callId ?? "", name))
  )
  return StepStore.atMostOnce(sql.value, key, step, schema.success, unknown)
}

/** The step wrapper of one execution: each step with a schema becomes an activity of that execution. */
const makeWrapper = (
  services: Context.Context<WorkflowEngine | WorkflowInstance>,
  runId: string,
  options: LayerOptions | undefined,
  sql: Option.Option<SqlClient.SqlClient>,
  events: Option.Option<RunEvents.RunEvents["Service"]>
): AgentKnobs.StepWrapperShape => {
  let replayedAny = false
  return {
    wrap: <A, E, R>(
      id: AgentKnobs.StepId,
      step: Effect.Effect<A, E, R>,
      schema?: AgentKnobs.StepSchema<A, E>
    ): Effect.Effect<A, E, R> => {
      if (schema === undefined) return step
      const durable = Effect.flatMap(InsideStep, (inside) => {
        if (inside) return step
        const name = stepName(id)
        let ran = false
        const key = Effect.provideContext(Activity.idempotencyKey(name), services)
        return Effect.flatMap(Effect.all([key, Effect.option(Effect.currentParentSpan)]), ([key, parent]) => {
          // the engine may run the activity on a fiber of its own: its spans keep the run's span as parent
          const underRun = <X, E2, R2>(effect: Effect.Effect<X, E2, R2>) =>
            Option.isSome(parent) ? Effect.withParentSpan(effect, parent.value) : effect
          const activity = Activity.make({
            name,
            success: schema.success,
            error: schema.error,
            execute: Effect.suspend(() => {
              ran = true
              const run = classed(id, key, step, schema, options, sql)
              return id.kind === "model" && Option.isSome(events) && Option.isSome(sql)
                ? Effect.andThen(restartMark(sql.value, events.value, runId, id.turn, key), run)
                : run
            }).pipe(underRun, Effect.provideService(InsideStep, true), Effect.provideService(StepKey, key))
          })
          // a step read back from storage has no span of its own: it gets a marked one (docs/traces.md)
          const stored = Effect.tap(Effect.provideContext(activity, services), (value) => {
            if (ran) return Effect.void
            const first = !replayedAny
            replayedAny = true
            return replayMark(id, name, value, runId, first)
          })
          const onStep = options?.onStep
          return onStep === undefined ? stored : Effect.tap(stored, () => onStep({ runId, name, key, replayed: !ran }))
        })
      })
      // the engine's services come from `services`; what is left is the step's own `R`
      return durable as unknown as Effect.Effect<A, E, R>
    }
  }
}

/**
 * The trace of a step read back from storage: a zero-length `chat <model>` or `execute_tool <name>`
 * span marked `volley.durable.replayed`, so the traces page shows which steps a resumed run did not
 * run again. The first one also marks the run's span `volley.agent.resumed_from` (the page then joins
 * it to the run the crash cut off).
 */
const replayMark = (
  id: AgentKnobs.StepId,
  name: string,
  value: unknown,
  runId: string,
  first: boolean
): Effect.Effect<void> => {
  const model =
    typeof value === "object" && value !== null && "model" in value && typeof value.model === "string"
      ? value.model
      : undefined
  const attributes: Record<string, unknown> =
    id.kind === "model"
      ? { "gen_ai.operation.name": "chat", ...(model === undefined ? {} : { "gen_ai.request.model": model }) }
      : {
          "gen_ai.operation.name": "execute_tool",
          "gen_ai.tool.name": id.name ?? "",
          "gen_ai.tool.call.id": id.callId ?? ""
        }
  const span = Effect.withSpan(
    Effect.void,
    id.kind === "model" ? `chat ${model ?? "stored"}` : `execute_tool ${id.name ?? ""}`,
    {
      attributes: { ...attributes, "volley.durable.step": name, "volley.durable.replayed": true },
      captureStackTrace: false
    }
  )
  return first ? Effect.andThen(Effect.annotateCurrentSpan("volley.agent.resumed_from", runId), span) : span
}

/**
 * A streamed model step that an earlier process started and never stored was cut off mid-stream:
 * its partial tokens went out live, so subscribers are told to drop them (`TurnRestarted`).
 */
const restartMark = (
  sql: SqlClient.SqlClient,
  events: RunEvents.RunEvents["Service"],
  runId: string,
  turn: number,
  key: string
): Effect.Effect<void> =>
  Effect.flatMap(StepStore.markStarted(sql, key), (restarted) =>
    restarted
      ? events.publish(runId, [{ _tag: "TurnRestarted", turn, attempts: 1, error: "RunnerRestarted" }])
      : Effect.void
  )

/** The final text of a history: the text of its last assistant message. */
const finalText = (history: RunState.RunState["history"]): string => {
  for (let index = history.length - 1; index >= 0; index--) {
    const item = history[index]
    if (item === undefined || item.type !== "message" || item.role !== "assistant") continue
    if (typeof item.content === "string") return item.content
    let text = ""
    for (const part of item.content) if (part.type === "output_text") text += part.text
    return text
  }
  return ""
}

/**
 * Registers the agent's workflow on the current `WorkflowEngine`: each execution runs the agent
 * with every model and tool call as a stored step, and awaits decisions when the agent pauses.
 */
export const layer = <A, R>(
  agent: Agent.Agent<A, R>,
  options?: LayerOptions
): Layer.Layer<never, never, WorkflowEngine | R | ResponsesClient.ResponsesClient> =>
  Layer.merge(
    workflow(agent).toLayer((payload) =>
      Effect.gen(function* () {
        const services = yield* Effect.context<WorkflowEngine | WorkflowInstance>()
        const sql = yield* Effect.serviceOption(SqlClient.SqlClient)
        const events = yield* Effect.serviceOption(RunEvents.RunEvents)
        const wrapper = makeWrapper(services, payload.runId, options, sql, events)
        const durable = <X, E2, R2>(effect: Effect.Effect<X, E2, R2>) =>
          effect.pipe(
            Effect.provideService(AgentKnobs.StepWrapper, wrapper),
            Effect.updateService(ResponsesClient.ResponsesClient, keyedClient)
          )
        if (Option.isSome(events)) return yield* durable(streamed(agent, payload, events.value, options))
        let result = yield* durable(agent.run(payload.input, { runId: payload.runId }))
        // a pause holds no fiber: awaiting a decision suspends the execution until `approve`/`reject`
        while (result._tag === "Paused") {
          const { state, pending } = result
          const approvals = yield* awaitDecisions(agent, state, pending, payload.runId, options)
          result = yield* durable(agent.resume(state, { approvals }))
        }
        return {
          runId: result.runId,
          agent: result.agent,
          output: result.output,
          history: result.history,
          usage: result.usage,
          turns: result.turns
        }
      })
    ),
    Layer.effectDiscard(
      Effect.gen(function* () {
        const sql = yield* Effect.serviceOption(SqlClient.SqlClient)
        const events = yield* Effect.serviceOption(RunEvents.RunEvents)
        const needsTable =
          Option.isSome(events) ||
          Object.values(options?.tools ?? {}).some(
            (toolClass) => toolClass === "transactional" || toolClass === "unsafe"
          )
        if (Option.isSome(sql) && needsTable) yield* Effect.orDie(StepStore.migrate(sql.value))
      })
    )
  )

/**
 * The streaming body of a run (when `RunEvents` is present): model calls stream, every event is
 * published under the run id, and the result is built from the final state. A pause awaits its
 * decisions as in `run` and resumes streaming.
 */
/**
 * A paused run's decisions: the pause reported to `onPause`, then each call's `approve/<call_id>`
 * awaited (the execution suspends meanwhile; no fiber is held), as the approvals `resume` takes.
 */
const awaitDecisions = <A, R>(
  agent: Agent.Agent<A, R>,
  state: RunState.RunState,
  pending: ReadonlyArray<{ readonly callId: string; readonly name: string; readonly arguments: string }>,
  runId: string,
  options: LayerOptions | undefined
) =>
  Effect.gen(function* () {
    if (options?.onPause !== undefined)
      yield* options.onPause({
        runId,
        pending: pending.map((call) => ({ callId: call.callId, name: call.name, arguments: call.arguments }))
      })
    const approvals: Array<ReturnType<typeof agent.approve>> = []
    for (const call of pending) {
      const decision = yield* DurableDeferred.await(approval(call.callId))
      approvals.push(
        decision.decision === "approve"
          ? agent.approve(state, call.callId)
          : agent.reject(state, call.callId, decision.message)
      )
    }
    return approvals
  })

const streamed = <A, R>(
  agent: Agent.Agent<A, R>,
  payload: { readonly runId: string; readonly input: string | ReadonlyArray<ResponsesSchema.InputItem> },
  events: RunEvents.RunEvents["Service"],
  options: LayerOptions | undefined
): Effect.Effect<
  DurableResult,
  AgentError.AgentError,
  R | ResponsesClient.ResponsesClient | WorkflowEngine | WorkflowInstance
> =>
  Effect.gen(function* () {
    let state: RunState.RunState | undefined
    const checkpoint = (final: RunState.RunState) =>
      Effect.sync(() => {
        state = final
      })
    const publishAll = (
      stream: Stream.Stream<AgentEvent.AgentEvent, AgentError.AgentError, R | ResponsesClient.ResponsesClient>
    ) => Stream.runForEachArray(stream, (chunk) => events.publish(payload.runId, chunk))
    yield* publishAll(agent.stream(payload.input, { runId: payload.runId, checkpoint }))
    while (state !== undefined && state.stopReason._tag === "ApprovalRequired" && state.pending !== undefined) {
      const paused: RunState.RunState = state
      const approvals = yield* awaitDecisions(agent, paused, paused.pending?.awaiting ?? [], payload.runId, options)
      state = undefined
      yield* publishAll(agent.resumeStream(paused, { approvals, checkpoint }))
    }
    if (state === undefined) return yield* Effect.die("a streamed durable run ended without its final state")
    const final: RunState.RunState = state
    return {
      runId: final.runId,
      agent: final.agent,
      output: finalText(final.history),
      history: final.history,
      usage: final.usage,
      turns: final.turns
    }
  })

/** Options of `run`. */
export interface RunOptions {
  /** The run's id: submitting the same id again joins the same run (and its stored result). */
  readonly runId: string
}

/** Runs the agent durably (its workflow must be registered with `layer`); joins the run when `runId` was seen. */
export const run = <A, R>(
  agent: Agent.Agent<A, R>,
  input: string | ReadonlyArray<ResponsesSchema.InputItem>,
  options: RunOptions
): Effect.Effect<DurableResult, DurableRunError, WorkflowEngine> =>
  workflow(agent).execute({ runId: options.runId, input })

/** Starts the run without waiting for it; returns its execution id. */
export const start = <A, R>(
  agent: Agent.Agent<A, R>,
  input: string | ReadonlyArray<ResponsesSchema.InputItem>,
  options: RunOptions
): Effect.Effect<string, never, WorkflowEngine> =>
  workflow(agent).execute({ runId: options.runId, input }, { discard: true })

const decide = <A, R>(
  agent: Agent.Agent<A, R>,
  runId: string,
  callId: string,
  decision: Decision
): Effect.Effect<DecisionAnswer, never, WorkflowEngine> =>
  Effect.gen(function* () {
    const ledger = yield* ApprovalLedger.ApprovalLedger
    // single use across processes when the ledger is shared (SqlApprovalLedger): the first decision wins
    const first = yield* ledger.consume({ nonce: `volley-durable/${agent.name}/${runId}/${callId}`, runId, callId })
    if (!first) return { _tag: "AlreadyDecided", callId } as const
    const flow = workflow(agent)
    const executionId = yield* flow.executionId({ runId, input: "" })
    const deferred = approval(callId)
    yield* DurableDeferred.succeed(deferred, {
      token: DurableDeferred.tokenFromExecutionId(deferred, { workflow: flow, executionId }),
      value: decision
    })
    return { _tag: "Recorded", decision: decision.decision } as const
  })

/** Approves a paused run's call (from any process); a second decision on the call answers `AlreadyDecided`. */
export const approve = <A, R>(
  agent: Agent.Agent<A, R>,
  options: { readonly runId: string; readonly callId: string }
): Effect.Effect<DecisionAnswer, never, WorkflowEngine> =>
  decide(agent, options.runId, options.callId, { decision: "approve" })

/** Rejects a paused run's call (`message` is what the model is told); a second decision answers `AlreadyDecided`. */
export const reject = <A, R>(
  agent: Agent.Agent<A, R>,
  options: { readonly runId: string; readonly callId: string; readonly message?: string | undefined }
): Effect.Effect<DecisionAnswer, never, WorkflowEngine> =>
  decide(
    agent,
    options.runId,
    options.callId,
    options.message === undefined ? { decision: "reject" } : { decision: "reject", message: options.message }
  )

/** Follows a subscription: live events until `RunEnd`, or the stored end of a run that already finished. */
const follow = <A, R>(
  agent: Agent.Agent<A, R>,
  runId: string,
  live: Stream.Stream<AgentEvent.AgentEvent>
): Effect.Effect<Stream.Stream<AgentEvent.AgentEvent>, never, WorkflowEngine> =>
  Effect.gen(function* () {
    const flow = workflow(agent)
    const executionId = yield* flow.executionId({ runId, input: "" })
    // polled after subscribing: a run that ends in between is seen by one or the other
    const done = yield* flow.poll(executionId)
    if (Option.isNone(done) || done.value._tag === "Suspended") return RunEvents.untilRunEnd(live)
    const exit = done.value.exit
    if (exit._tag === "Failure") return Stream.empty
    const end: AgentEvent.AgentEvent = {
      _tag: "RunEnd",
      runId: exit.value.runId,
      agent: exit.value.agent,
      stopReason: { _tag: "Completed" },
      usage: exit.value.usage
    }
    return Stream.make(end)
  })

/**
 * Starts (or joins) a run and streams its events live until its `RunEnd`: tokens as they arrive,
 * never stored. Needs `RunEvents` both here and where the run executes (the same Postgres for
 * `RunEvents.layerPostgres`). After a crash mid-stream the model call runs again after `TurnRestarted`.
 * A run that already finished gives one `RunEnd` built from its stored result (read it with `run`).
 */
export const stream = <A, R>(
  agent: Agent.Agent<A, R>,
  input: string | ReadonlyArray<ResponsesSchema.InputItem>,
  options: RunOptions
): Stream.Stream<AgentEvent.AgentEvent, never, WorkflowEngine | RunEvents.RunEvents> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const bus = yield* RunEvents.RunEvents
      // subscribed before the run starts, so no event of this process's run is missed
      const live = yield* bus.subscribe(options.runId)
      yield* start(agent, input, options)
      return yield* follow(agent, options.runId, live)
    })
  )

/**
 * Re-attaches to a run by id from any process on the same `RunEvents` channel: its live events from
 * now until its `RunEnd`. A run that already finished gives one synthesised `RunEnd` (`Completed`)
 * from its stored result; a failed run gives an empty stream.
 */
export const attach = <A, R>(
  agent: Agent.Agent<A, R>,
  options: RunOptions
): Stream.Stream<AgentEvent.AgentEvent, never, WorkflowEngine | RunEvents.RunEvents> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const bus = yield* RunEvents.RunEvents
      return yield* follow(agent, options.runId, yield* bus.subscribe(options.runId))
    })
  )
