/**
 * `DurableAgent`: one agent run as one workflow execution of Effect's `effect/workflow`, keyed by a
 * caller-supplied `runId`. `layer(agent)` registers the agent's workflow on the current
 * `WorkflowEngine` (memory for tests, `DurableEngine.layerPostgres` for one machine);
 * `run(agent, input, { runId })` starts the run or joins it when that id was already submitted.
 * Each model call is an activity `model/<turn>` storing the decoded response, each tool call an
 * activity `tool/<turn>/<call_id>` storing its output item; on a restart the loop replays from the
 * stored steps and only the step that was cut off runs again. The step key (`StepKey`, a hash of
 * execution id and step name) is sent as `Idempotency-Key` and handed to tools.
 * Gotcha: the loop between steps must stay deterministic: an agent whose tools, instructions or
 * model settings change while runs are in flight replays against the new definition (docs/durable.md).
 */
import type { Agent } from "@volley/agent"
import { AgentError, AgentKnobs, RunHistory, StopReason } from "@volley/agent"
import { ResponsesClient, type ResponsesClientShape } from "@volley/core/ResponsesClient"
import { InputItem } from "@volley/core/ResponsesSchema"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Activity from "effect/workflow/Activity"
import * as Workflow from "effect/workflow/Workflow"
import type { WorkflowEngine, WorkflowInstance } from "effect/workflow/WorkflowEngine"

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

/** The run stopped for a human decision; durable approvals are not supported yet, so the run ends here. */
export class RunPaused extends Schema.TaggedError<RunPaused>()("RunPaused", {
  runId: Schema.String,
  message: Schema.String,
  pending: Schema.Array(Schema.String)
}) {}

/** Every error a durable run ends with: the agent's own errors, or `RunPaused`. */
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
  RunPaused
])
/** Every error a durable run ends with. */
export type DurableRunError = typeof DurableRunError.Type

/** The payload of a run: its id and its input. */
export const Payload = {
  runId: Schema.String,
  input: Schema.Union([Schema.String, Schema.Array(InputItem)])
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

/** Options of `layer`. */
export interface LayerOptions {
  /** Called after each step's result is stored (or read back): progress, tests. */
  readonly onStep?: ((report: StepReport) => Effect.Effect<void>) | undefined
}

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
const keyedClient = (client: ResponsesClientShape): ResponsesClientShape => {
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

/** The step wrapper of one execution: each step with a schema becomes an activity of that execution. */
const makeWrapper = (
  services: Context.Context<WorkflowEngine | WorkflowInstance>,
  runId: string,
  onStep: LayerOptions["onStep"]
): AgentKnobs.StepWrapperShape => ({
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
      return Effect.flatMap(Effect.provideContext(Activity.idempotencyKey(name), services), (key) => {
        const activity = Activity.make({
          name,
          success: schema.success,
          error: schema.error,
          execute: Effect.suspend(() => {
            ran = true
            return step
          }).pipe(Effect.provideService(InsideStep, true), Effect.provideService(StepKey, key))
        })
        const stored = Effect.provideContext(activity, services)
        return onStep === undefined ? stored : Effect.tap(stored, () => onStep({ runId, name, key, replayed: !ran }))
      })
    })
    // the engine's services come from `services`; what is left is the step's own `R`
    return durable as unknown as Effect.Effect<A, E, R>
  }
})

/**
 * Registers the agent's workflow on the current `WorkflowEngine`: each execution runs the agent
 * with every model and tool call as a stored step.
 */
export const layer = <A, R>(
  agent: Agent.Agent<A, R>,
  options?: LayerOptions
): Layer.Layer<never, never, WorkflowEngine | R | ResponsesClient> =>
  workflow(agent).toLayer((payload, executionId) =>
    Effect.gen(function* () {
      const services = yield* Effect.context<WorkflowEngine | WorkflowInstance>()
      const wrapper = makeWrapper(services, payload.runId, options?.onStep)
      const result = yield* agent
        .run(payload.input, { runId: payload.runId })
        .pipe(
          Effect.provideService(AgentKnobs.StepWrapper, wrapper),
          Effect.updateService(ResponsesClient, keyedClient)
        )
      if ("pending" in result)
        return yield* new RunPaused({
          runId: payload.runId,
          message: `the run ${executionId} paused for approval; durable approvals are not supported yet`,
          pending: result.pending.map((pending) => pending.callId)
        })
      return {
        runId: result.runId,
        agent: result.agent,
        output: result.output,
        history: result.history,
        usage: result.usage,
        turns: result.turns
      }
    })
  )

/** Options of `run`. */
export interface RunOptions {
  /** The run's id: submitting the same id again joins the same run (and its stored result). */
  readonly runId: string
}

/** Runs the agent durably (its workflow must be registered with `layer`); joins the run when `runId` was seen. */
export const run = <A, R>(
  agent: Agent.Agent<A, R>,
  input: string | ReadonlyArray<InputItem>,
  options: RunOptions
): Effect.Effect<DurableResult, DurableRunError, WorkflowEngine> =>
  workflow(agent).execute({ runId: options.runId, input })

/** Starts the run without waiting for it; returns its execution id. */
export const start = <A, R>(
  agent: Agent.Agent<A, R>,
  input: string | ReadonlyArray<InputItem>,
  options: RunOptions
): Effect.Effect<string, never, WorkflowEngine> =>
  workflow(agent).execute({ runId: options.runId, input }, { discard: true })
