/**
 * The one scripted agent run every contender performs, shared by the bench server (which answers and
 * validates it) and by every driver (which checks its result). A run of `turns` model calls: each turn
 * before the last asks for two parallel function calls (`get_weather`, `get_time`), the last turn answers
 * with a ~200-word message. The prompt carries the turn count, so the server stays stateless.
 * Gotcha: tool outputs are compared by meaning (`sameToolOutput`), because peers encode tool results
 * slightly differently (a plain string, or a JSON-encoded string).
 */

/** The model name every driver sends (the server does not check it). */
export const model = "bench-model"

/** The two tools, as JSON Schema, declared by every driver. */
export const toolSpecs = {
  get_weather: {
    description: "Current weather for a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false
    }
  },
  get_time: {
    description: "Current local time in an IANA time zone.",
    parameters: {
      type: "object",
      properties: { timezone: { type: "string" } },
      required: ["timezone"],
      additionalProperties: false
    }
  }
} as const

/** Names of the two tools. */
export type ToolName = keyof typeof toolSpecs

/** The user prompt for a run of `turns` model calls (the server reads the count back from it). */
export const prompt = (turns: number): string =>
  `Plan my afternoon in Paris: check the weather and the local time, then write a short plan. [bench turns=${turns}]`

/** Reads the turn count back from a prompt, or undefined when the prompt is not a bench prompt. */
export const turnsOfPrompt = (text: string): number | undefined => {
  const match = /\[bench turns=(\d+)\]$/.exec(text)
  return match === null ? undefined : Number(match[1])
}

/** Arguments the model sends to `get_weather` on turn `turn` (1-based). */
export const weatherArgs = (turn: number) => ({ city: turn === 1 ? "Paris" : `Paris-${turn}` })
/** Arguments the model sends to `get_time` on turn `turn` (1-based). */
export const timeArgs = (turn: number) => ({ timezone: turn === 1 ? "Europe/Paris" : `Europe/Paris-${turn}` })

/** The `call_id` of a tool call on a turn. */
export const callId = (tool: ToolName, turn: number): string =>
  tool === "get_weather" ? `call_weather_${turn}` : `call_time_${turn}`

/** What the `get_weather` tool returns for its arguments (drivers implement the tool with this). */
export const weatherResult = (args: { readonly city: string }): string =>
  JSON.stringify({ city: args.city, temperature_c: 18, sky: "partly cloudy", wind_kph: 12 })

/** What the `get_time` tool returns for its arguments (drivers implement the tool with this). */
export const timeResult = (args: { readonly timezone: string }): string =>
  JSON.stringify({ timezone: args.timezone, local_time: "14:05", date: "2026-11-27" })

/** The expected tool output for a call on a turn. */
export const expectedOutput = (tool: ToolName, turn: number): string =>
  tool === "get_weather" ? weatherResult(weatherArgs(turn)) : timeResult(timeArgs(turn))

/** The final ~200-word answer of the last turn: the exact text each driver must return. */
export const finalText = [
  "Here is a relaxed plan for your afternoon in Paris, based on the weather and the local time.",
  "It is just after two o'clock and the sky is partly cloudy at eighteen degrees, with a light breeze,",
  "so it is a good moment to stay outside before the evening gets cooler. Start with a slow walk along",
  "the Seine from the Pont Neuf towards the Louvre, stopping at the bookstalls on the quays to browse old",
  "prints and postcards. Around three, cross the Tuileries garden and find a chair by the large fountain;",
  "the clouds should keep the light soft for photos. If you feel like a museum, the Orangerie is close",
  "and rarely crowded at this hour: Monet's water lilies take about forty minutes to enjoy properly.",
  "At half past four, head up towards the Palais Royal for a coffee under the arcades, then wander",
  "through the covered passages nearby, which stay dry if the clouds turn into a short shower. Finish",
  "around six in the Marais, where the small squares fill up with people and the bakeries still have",
  "bread. Bring a light jacket, comfortable shoes and an umbrella just in case, and enjoy the afternoon."
].join(" ")

/** The final text split into the deltas the server streams (one word with its leading space each). */
export const finalTextDeltas: ReadonlyArray<string> = finalText.split(/(?= )/)

/** Compares a `function_call_output.output` sent by a driver with the expected string, by meaning. */
export const sameToolOutput = (actual: unknown, expected: string): boolean => {
  if (Array.isArray(actual)) {
    // Structured outputs: a list of `input_text` parts whose texts concatenate to the result.
    const text = actual
      .map((part: unknown) =>
        typeof part === "object" && part !== null && "text" in part ? String((part as { text: unknown }).text) : ""
      )
      .join("")
    return sameToolOutput(text, expected)
  }
  if (typeof actual !== "string") return false
  if (actual === expected) return true
  const parsed = parseJson(actual)
  if (typeof parsed === "string") return sameToolOutput(parsed, expected)
  return parsed !== undefined && deepEqual(parsed, parseJson(expected))
}

/** Structural equality of JSON values (key order ignored). */
export const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const key of ka) {
    if (!deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false
  }
  return true
}

/** JSON.parse that returns undefined instead of throwing. */
export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
