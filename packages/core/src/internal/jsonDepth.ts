/**
 * The one nesting limit for model JSON in the client: `maxJsonDepth` (256 levels, as tool arguments
 * in `@volley/tools`), checked by `exceedsDepth` where a response, an item or a structural stream
 * event is first parsed. Past it the data is refused (`ResponseDecodeError`) before any recursive
 * walk sees it: `JSON.stringify` of a 100,000-deep item, when the history goes back, would overflow
 * the stack. Gotcha: the walk is iterative (an explicit stack), so it cannot overflow itself.
 */

/** Deepest nesting of objects and arrays accepted from the server (the top-level value is level 1). */
export const maxJsonDepth = 256

/**
 * The walk's stacks, shared by every call: fresh ones per call were ~3.7 KiB per streamed run (two
 * per structural event). Safe to share: the walk is synchronous and calls nothing that could re-enter
 * it (plain data from `JSON.parse`). Every slot is cleared as it is popped, and again after an early
 * stop, so a stack never holds on to a response; one grown past `keptSlots` is cut back.
 */
const stackValues: Array<object | undefined> = []
const stackDepths: Array<number> = []
const keptSlots = 1024

/** True when `value` nests objects or arrays deeper than `max` levels. Iterative; stops at the first. */
export const exceedsDepth = (value: unknown, max: number = maxJsonDepth): boolean => {
  if (typeof value !== "object" || value === null) return false
  const values = stackValues
  const depths = stackDepths
  values[0] = value
  depths[0] = 1
  let top = 1
  let deeper = false
  while (top > 0) {
    top--
    const current = values[top]!
    values[top] = undefined
    const depth = depths[top]!
    if (depth > max) {
      deeper = true
      break
    }
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) {
        const item: unknown = current[i]
        if (typeof item === "object" && item !== null) {
          values[top] = item
          depths[top] = depth + 1
          top++
        }
      }
    } else {
      for (const key in current) {
        const item: unknown = (current as Record<string, unknown>)[key]
        if (typeof item === "object" && item !== null) {
          values[top] = item
          depths[top] = depth + 1
          top++
        }
      }
    }
  }
  for (let i = 0; i < top; i++) values[i] = undefined
  if (values.length > keptSlots) {
    values.length = keptSlots
    depths.length = keptSlots
  }
  return deeper
}

/** How many slots of the shared stacks still hold a value, and how long they are (for tests). */
export const stackHeld = (): { readonly values: number; readonly length: number } => ({
  values: stackValues.filter((slot) => slot !== undefined).length,
  length: stackValues.length
})
