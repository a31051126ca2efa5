/**
 * The one nesting limit for model JSON in the client: `maxJsonDepth` (256 levels, as tool arguments
 * in `@volley/tools`), checked by `exceedsDepth` where a response, an item or a structural stream
 * event is first parsed. Past it the data is refused (`ResponseDecodeError`) before any recursive
 * walk sees it: `JSON.stringify` of a 100,000-deep item, when the history goes back, would overflow
 * the stack. Gotcha: the walk is iterative (an explicit stack), so it cannot overflow itself.
 */

/** Deepest nesting of objects and arrays accepted from the server (the top-level value is level 1). */
export const maxJsonDepth = 256

/** True when `value` nests objects or arrays deeper than `max` levels. Iterative; stops at the first. */
export const exceedsDepth = (value: unknown, max: number = maxJsonDepth): boolean => {
  if (typeof value !== "object" || value === null) return false
  const values: Array<object> = [value]
  const depths: Array<number> = [1]
  while (values.length > 0) {
    const current = values.pop()!
    const depth = depths.pop()!
    if (depth > max) return true
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) {
        const item: unknown = current[i]
        if (typeof item === "object" && item !== null) {
          values.push(item)
          depths.push(depth + 1)
        }
      }
    } else {
      for (const key in current) {
        const item: unknown = (current as Record<string, unknown>)[key]
        if (typeof item === "object" && item !== null) {
          values.push(item)
          depths.push(depth + 1)
        }
      }
    }
  }
  return false
}
