/**
 * Guardrails: checks that run beside an agent and can stop it. `Guardrail.input(name, check)` looks
 * at the run's input and runs alongside the first model call (`alongside`): a tripwire interrupts the
 * call and fails with `Tripwire`; `Guardrail.output(name, check)` is typed on the structured output
 * `A`; `Guardrail.tool(name, { before, after })` runs around each tool execution and can block a call
 * (the model is told why) or trip. Each check is an Effect with services (a moderation guardrail may
 * run another agent) in its own `guardrail {name}` span. Gotcha: the combinators fail with the small
 * `Tripwire`; the run turns it into `GuardrailTripped`, which carries the history.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { ResponsesSchema } from "@volley/core"
import { errorText } from "./internal/history.ts"
import { RunHistory } from "./RunHistory.ts"
import { RunUsage } from "./StopReason.ts"

// ---------------------------------------------------------------------------------------------
// definitions
// ---------------------------------------------------------------------------------------------

/** What an input or output guardrail reports: `tripwire` stops the run; `info` is kept (JSON). */
export interface GuardrailOutput {
  readonly tripwire: boolean
  readonly info?: unknown
}

/** Which kind of guardrail tripped. */
export type GuardrailKind = "input" | "output" | "tool"

/** What an input guardrail sees. */
export interface InputContext {
  readonly agent: string
  readonly input: ReadonlyArray<ResponsesSchema.InputItem>
}

/** What an output guardrail sees: the decoded final value, its text and the history. */
export interface OutputContext<A> {
  readonly agent: string
  readonly value: A
  readonly text: string
  readonly history: ReadonlyArray<ResponsesSchema.InputItem>
}

/** A guardrail on the run's input. */
export interface InputGuardrail<E = never, R = never> {
  readonly _tag: "InputGuardrail"
  readonly name: string
  readonly check: (context: InputContext) => Effect.Effect<GuardrailOutput, E, R>
}

/** A guardrail on the final answer, typed on the agent's output `A`. */
export interface OutputGuardrail<A, E = never, R = never> {
  readonly _tag: "OutputGuardrail"
  readonly name: string
  readonly check: (context: OutputContext<A>) => Effect.Effect<GuardrailOutput, E, R>
}

/** A tool guardrail's ruling: let it through, block it (the model gets `message`), or trip. */
export type ToolVerdict =
  | { readonly _tag: "Allow" }
  | { readonly _tag: "Block"; readonly message: string }
  | { readonly _tag: "Tripwire"; readonly info?: unknown }

/** A guardrail around tool execution: `before` may block a call, `after` may replace its output. */
export interface ToolGuardrail<E = never, R = never> {
  readonly _tag: "ToolGuardrail"
  readonly name: string
  readonly before?: ((call: ResponsesSchema.FunctionCall) => Effect.Effect<ToolVerdict, E, R>) | undefined
  readonly after?:
    | ((call: ResponsesSchema.FunctionCall, output: string) => Effect.Effect<ToolVerdict, E, R>)
    | undefined
}

/** An input guardrail. */
export const input = <E = never, R = never>(
  name: string,
  check: (context: InputContext) => Effect.Effect<GuardrailOutput, E, R>
): InputGuardrail<E, R> => ({ _tag: "InputGuardrail", name, check })

/** An output guardrail typed on `A`. */
export const output = <A, E = never, R = never>(
  name: string,
  check: (context: OutputContext<A>) => Effect.Effect<GuardrailOutput, E, R>
): OutputGuardrail<A, E, R> => ({ _tag: "OutputGuardrail", name, check })

/** A tool guardrail. */
export const tool = <E = never, R = never>(
  name: string,
  hooks: {
    readonly before?: ((call: ResponsesSchema.FunctionCall) => Effect.Effect<ToolVerdict, E, R>) | undefined
    readonly after?:
      | ((call: ResponsesSchema.FunctionCall, output: string) => Effect.Effect<ToolVerdict, E, R>)
      | undefined
  }
): ToolGuardrail<E, R> => ({ _tag: "ToolGuardrail", name, ...hooks })

/** Allows a tool call. */
export const allow: ToolVerdict = { _tag: "Allow" }
/** Blocks a tool call; `message` is what the model is told. */
export const block = (message: string): ToolVerdict => ({ _tag: "Block", message })
/** Trips: the run stops. */
export const trip = (info?: unknown): ToolVerdict =>
  info === undefined ? { _tag: "Tripwire" } : { _tag: "Tripwire", info }

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** A guardrail's tripwire fired (the combinators' failure; the run wraps it in `GuardrailTripped`). */
export class Tripwire extends Data.TaggedError("Tripwire")<{
  readonly guardrail: string
  readonly kind: GuardrailKind
  readonly info: unknown
}> {}

/** The run failed because a guardrail tripped; carries the history like every `AgentError`. */
export class GuardrailTripped extends Schema.TaggedError<GuardrailTripped>()("GuardrailTripped", {
  message: Schema.String,
  runId: Schema.String,
  history: RunHistory,
  usage: RunUsage,
  turns: Schema.Number,
  guardrail: Schema.String,
  kind: Schema.Literals(["input", "output", "tool"]),
  info: Schema.optionalKey(Schema.Unknown)
}) {}

// ---------------------------------------------------------------------------------------------
// running them
// ---------------------------------------------------------------------------------------------

const span = <A, E, R>(name: string, kind: GuardrailKind, effect: Effect.Effect<A, E, R>) =>
  Effect.withSpan(effect, `guardrail ${name}`, { attributes: { "volley.guardrail.kind": kind } })

const tripped = (name: string, kind: GuardrailKind, info: unknown) =>
  Effect.andThen(
    Effect.annotateCurrentSpan({ "volley.guardrail.tripped": true }),
    Effect.fail(new Tripwire({ guardrail: name, kind, info }))
  )

const runChecks = <C, E, R>(
  guardrails: ReadonlyArray<{
    readonly name: string
    readonly check: (context: C) => Effect.Effect<GuardrailOutput, E, R>
  }>,
  kind: GuardrailKind,
  context: C
): Effect.Effect<void, Tripwire | E, R> =>
  guardrails.length === 0
    ? Effect.void
    : Effect.forEach(
        guardrails,
        (guardrail) =>
          span(
            guardrail.name,
            kind,
            Effect.flatMap(guardrail.check(context), (result) =>
              result.tripwire ? tripped(guardrail.name, kind, result.info) : Effect.void
            )
          ),
        // all at once; the first tripwire interrupts the others
        { concurrency: "unbounded", discard: true }
      )

/** Runs input guardrails concurrently; fails with the first `Tripwire`. */
export const checkInput = <E, R>(
  guardrails: ReadonlyArray<InputGuardrail<E, R>>,
  context: InputContext
): Effect.Effect<void, Tripwire | E, R> => runChecks(guardrails, "input", context)

/** Runs output guardrails concurrently on the final value; fails with the first `Tripwire`. */
export const checkOutput = <A, E, R>(
  guardrails: ReadonlyArray<OutputGuardrail<A, E, R>>,
  context: OutputContext<A>
): Effect.Effect<void, Tripwire | E, R> => runChecks(guardrails, "output", context)

/**
 * Runs input guardrails alongside `call` (the first model call): a tripwire interrupts the call (a
 * stream stops mid-way) and fails with `Tripwire`; the call's value is returned only once every
 * guardrail passed.
 */
export const alongside = <A, E, R, EG, RG>(
  guardrails: ReadonlyArray<InputGuardrail<EG, RG>>,
  context: InputContext,
  call: Effect.Effect<A, E, R>
): Effect.Effect<A, E | EG | Tripwire, R | RG> =>
  guardrails.length === 0
    ? call
    : Effect.map(Effect.all([checkInput(guardrails, context), call], { concurrency: 2 }), ([, value]) => value)

/** What a blocked call sends back instead of running (or instead of its output). */
export interface Blocked {
  readonly _tag: "Blocked"
  readonly output: string
  readonly isError: true
  /** The guardrail that blocked it. */
  readonly blockedBy: string
}

/** The output a blocked call sends back to the model. */
export const blockedOutput = (message: string): string => errorText("blocked", message)

const blocked = (guardrail: string, message: string): Blocked => ({
  _tag: "Blocked",
  output: blockedOutput(message),
  isError: true,
  blockedBy: guardrail
})

/**
 * Runs a tool call under tool guardrails: every `before` in order (a `Block` skips the tool and
 * feeds its message back; a tripwire fails), then the tool, then every `after` on its output text
 * (a `Block` replaces the output). Returns the tool's own result when nothing blocked it.
 */
export const guardTool = <T, E, R, EX, RX>(
  guardrails: ReadonlyArray<ToolGuardrail<E, R>>,
  call: ResponsesSchema.FunctionCall,
  execute: Effect.Effect<T, EX, RX>,
  outputOf: (result: T) => string
): Effect.Effect<T | Blocked, E | EX | Tripwire, R | RX> =>
  guardrails.length === 0
    ? execute
    : Effect.gen(function* () {
        for (const guardrail of guardrails) {
          if (guardrail.before === undefined) continue
          const verdict = yield* span(guardrail.name, "tool", guardrail.before(call))
          if (verdict._tag === "Tripwire")
            return yield* new Tripwire({ guardrail: guardrail.name, kind: "tool", info: verdict.info })
          if (verdict._tag === "Block") return blocked(guardrail.name, verdict.message)
        }
        const result = yield* execute
        for (const guardrail of guardrails) {
          if (guardrail.after === undefined) continue
          const verdict = yield* span(guardrail.name, "tool", guardrail.after(call, outputOf(result)))
          if (verdict._tag === "Tripwire")
            return yield* new Tripwire({ guardrail: guardrail.name, kind: "tool", info: verdict.info })
          if (verdict._tag === "Block") return blocked(guardrail.name, verdict.message)
        }
        return result
      })

/** Whether a guarded result was blocked. */
export const isBlocked = (result: unknown): result is Blocked =>
  typeof result === "object" && result !== null && (result as { readonly _tag?: unknown })._tag === "Blocked"

/** The run's `GuardrailTripped` for a tripwire, with the run's transcript. */
export const toError = (
  tripwire: Tripwire,
  transcript: {
    readonly runId: string
    readonly history: ReadonlyArray<ResponsesSchema.InputItem>
    readonly usage: RunUsage
    readonly turns: number
  }
): GuardrailTripped =>
  new GuardrailTripped({
    ...transcript,
    message: `the ${tripwire.kind} guardrail ${tripwire.guardrail} tripped`,
    guardrail: tripwire.guardrail,
    kind: tripwire.kind,
    ...(tripwire.info === undefined ? {} : { info: tripwire.info })
  })
