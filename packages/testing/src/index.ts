/**
 * `@volley/testing`: a local Responses API for tests, examples and the demo. Import the modules as
 * namespaces: `ScriptedModel` (turns, builders, faults), `ResponsesServer` (the real and in-memory
 * servers), `RecordedRequest` (assertion helpers), `LocalModel` (volley-local), `Record` / `Replay` /
 * `Fixture` (record and replay), `Handler` (the low-level plan the server executes), `TestClient` (a
 * client pointed at a local server in one line).
 */
/** Scripted turns, builders and fault injection. */
export * as ScriptedModel from "./ScriptedModel.ts"
/** The local server (real socket) and the in-memory `HttpClient`. */
export * as ResponsesServer from "./ResponsesServer.ts"
/** Recorded requests and helpers to assert on them. */
export * as RecordedRequest from "./RecordedRequest.ts"
/** volley-local, the rule-based stand-in model. */
export * as LocalModel from "./LocalModel.ts"
/** Record mode (proxy + fixtures). */
export * as Record from "./Record.ts"
/** Replay mode (fixtures, mismatch diffs). */
export * as Replay from "./Replay.ts"
/** The fixture format. */
export * as Fixture from "./Fixture.ts"
/** Handlers, plans and actions. */
export * as Handler from "./Handler.ts"
/** A `ResponsesClient` pointed at a local server (in memory or on 127.0.0.1) in one line. */
export * as TestClient from "./TestClient.ts"
/** An in-process OTLP/HTTP collector for tests of exported spans and metrics. */
export * as OtlpReceiver from "./OtlpReceiver.ts"
