/**
 * Structured output: an agent whose answer is a `TripPlan` value, not text. `Agent.make({ output })`
 * sends the schema as `text.format` (json_schema) and decodes the final answer with it, so
 * `result.value` is typed. An answer that does not decode is fed back to the model once with the
 * decoding issue; a second bad answer fails the run with `StructuredOutputInvalid` (text + issue).
 * Entry points: `TripPlan`, `makePlanner(model)`, `plan(prompt, model)`; needs a `ResponsesClient`.
 */
import { Agent } from "@volley/agent"
import { Effect, Schema } from "effect"

/** The plan the model must answer with. */
export const TripPlan = Schema.Struct({
  destination: Schema.String.annotate({ description: "The city to visit" }),
  days: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 14 })).annotate({
    description: "Length of the trip in days"
  }),
  budget: Schema.Literals(["low", "medium", "high"]),
  highlights: Schema.Array(Schema.String).check(Schema.isMinLength(1)).annotate({
    description: "Things to see, one short phrase each"
  })
})
/** The plan the model must answer with. */
export type TripPlan = typeof TripPlan.Type

/** The trip planner for a model id. */
export const makePlanner = (model: string) =>
  Agent.make({
    name: "trip-planner",
    model,
    instructions: "Plan the trip the user asks for. Answer with the JSON object only.",
    output: TripPlan,
    outputName: "trip_plan"
  })

/** Plans one trip: the decoded value and the number of model calls it took. */
export const plan = (prompt: string, model: string) =>
  makePlanner(model)
    .run(prompt)
    .pipe(
      Effect.flatMap((result) =>
        result._tag === "Completed"
          ? Effect.succeed({ plan: result.value, turns: result.turns, usage: result.usage })
          : Effect.die("the planner has no tools, so it cannot pause")
      )
    )

/** The plan as a few lines of text. */
export const render = (trip: TripPlan): string =>
  [
    `${trip.days} day${trip.days === 1 ? "" : "s"} in ${trip.destination} (${trip.budget} budget)`,
    ...trip.highlights.map((highlight) => `- ${highlight}`)
  ].join("\n")
