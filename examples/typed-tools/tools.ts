/**
 * A tool that needs a service: `find_customer` looks a customer up in a `Database`, provided by a layer.
 * `CustomerTools.toLayer` turns the handlers into a layer whose requirements include `Database`, so the
 * program provides `DatabaseLive` and tests provide `DatabaseTest` instead, with no change to the tool.
 * Gotcha: the handler's typed failure (`CustomerNotFound`) is part of its type and is sent to the model
 * encoded with the tool's `failure` schema; a database crash is a defect, fed back redacted.
 */
import { Tool, Toolkit } from "@volley/tools"
import { Context, Effect, Layer, Schema } from "effect"

/** A customer record. */
export const Customer = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  plan: Schema.Literals(["free", "pro"])
})
/** A customer record. */
export type Customer = typeof Customer.Type

/** The customer does not exist (a failure the model can act on). */
export class CustomerNotFound extends Schema.TaggedError<CustomerNotFound>()("CustomerNotFound", {
  id: Schema.String
}) {}

/** The database handle the tool needs. */
export class Database extends Context.Service<
  Database,
  { readonly findCustomer: (id: string) => Effect.Effect<Customer | undefined> }
>()("@volley/examples/Database") {}

/** Look up a customer by id. */
export const FindCustomer = Tool.make("find_customer", {
  description: "Look up a customer by id",
  parameters: Schema.Struct({
    id: Schema.String.annotate({ description: "The customer id, like c_123" }),
    includePlan: Schema.optionalKey(Schema.Boolean)
  }),
  success: Customer,
  failure: CustomerNotFound
})

/** The toolkit. */
export const CustomerTools = Toolkit.make(FindCustomer)

/** Handlers, as a layer that needs `Database`. */
export const CustomerToolsHandlers = CustomerTools.toLayer(
  Effect.gen(function* () {
    const db = yield* Database
    return CustomerTools.of({
      find_customer: ({ id }) =>
        db
          .findCustomer(id)
          .pipe(
            Effect.flatMap((customer) =>
              customer === undefined ? Effect.fail(new CustomerNotFound({ id })) : Effect.succeed(customer)
            )
          )
    })
  })
)

/** An in-memory database (what a real program would replace with a SQL-backed layer). */
export const DatabaseLive = Layer.succeed(Database, {
  findCustomer: (id) => Effect.succeed(id === "c_1" ? { id, name: "Ada Lovelace", plan: "pro" as const } : undefined)
})

/** A test database with fixed rows. */
export const DatabaseTest = (rows: ReadonlyArray<Customer>) =>
  Layer.succeed(Database, { findCustomer: (id) => Effect.succeed(rows.find((row) => row.id === id)) })
