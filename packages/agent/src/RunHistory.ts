/**
 * The history of a run as a Schema: the exact input items of the next request, in order. Decoding
 * validates every item against `InputItem` but keeps the original objects (key order included), so
 * a history restored from JSON sends the same bytes as before the restart and the provider's
 * prompt cache still hits. Gotcha: treat a history as append-only; never edit an item in place.
 */
import * as Schema from "effect/Schema"
import { ResponsesSchema } from "@volley/core"

const isInputItem = Schema.is(ResponsesSchema.InputItem)

/** The input items of a run, validated but kept verbatim. */
export const RunHistory = Schema.Array(Schema.Unknown).check(
  Schema.makeFilter((items: ReadonlyArray<unknown>) => {
    for (let i = 0; i < items.length; i++) if (!isInputItem(items[i])) return `item ${i} is not a valid input item`
    return true
  })
) as unknown as Schema.Codec<ReadonlyArray<ResponsesSchema.InputItem>, ReadonlyArray<unknown>>
/** The input items of a run. */
export type RunHistory = ReadonlyArray<ResponsesSchema.InputItem>
