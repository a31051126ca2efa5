/**
 * Text analysis for volley-local: the words of a prompt (for matching tools), the places it names,
 * its quoted strings, its sentences and the noun phrase a string parameter is filled with. Every
 * function is pure and bounded by the text's length (`maxText` characters are read at most).
 * Gotcha: a "place" is a known city, or else any capitalised word group, so "Ada" in a prompt that
 * names no city counts as one; callers only use places for place-like parameters.
 */

/** At most this many characters of a prompt or tool output are analysed. */
export const maxText = 8_000

/** A piece of text found at a character offset. */
export interface Found {
  readonly at: number
  readonly text: string
}

const stopwords = new Set(
  "the a an and or of in on at for to is are was be what whats what's how who when where which can could would will please tell me my you your i it its this that with about do does give show get like today now then also there their her his them they some any".split(
    " "
  )
)

/** A word as tools and prompts are compared: lower case, a plural `s` dropped from long words. */
export const normalise = (word: string): string => {
  const lower = word.toLowerCase()
  return lower.length > 4 && lower.endsWith("s") ? lower.slice(0, -1) : lower
}

/** The content words of `text` with their offsets (camelCase and snake_case split; stopwords dropped). */
export const wordsAt = (text: string): ReadonlyArray<Found> => {
  const found: Array<Found> = []
  for (const match of text.slice(0, maxText).matchAll(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu)) {
    const at = match.index ?? 0
    for (const part of match[0].replace(/(\p{Ll})(\p{Lu})/gu, "$1 $2").split(" ")) {
      const word = normalise(part)
      if (word.length > 2 && !stopwords.has(word)) found.push({ at, text: word })
    }
  }
  return found
}

/** The set of content words of `text`. */
export const words = (text: string): ReadonlySet<string> => new Set(wordsAt(text).map((w) => w.text))

const knownPlaces = [
  "New York",
  "San Francisco",
  "Los Angeles",
  "Mexico City",
  "São Paulo",
  "Buenos Aires",
  "Cape Town",
  "Hong Kong",
  "Paris",
  "Tokyo",
  "London",
  "Berlin",
  "Beijing",
  "Madrid",
  "Rome",
  "Sydney",
  "Moscow",
  "Cairo",
  "Lisbon",
  "Amsterdam",
  "Toronto",
  "Seoul",
  "Mumbai",
  "Delhi",
  "Dubai",
  "Singapore",
  "Chicago",
  "Boston",
  "Seattle",
  "Vienna",
  "Prague",
  "Oslo",
  "Stockholm",
  "Helsinki",
  "Dublin",
  "Zurich",
  "Bangkok",
  "Nairobi",
  "Istanbul",
  "Athens",
  "Warsaw",
  "Lagos",
  "Shanghai",
  "Sofia",
  "Barcelona",
  "Munich",
  "Kyoto",
  "Osaka",
  "Vancouver",
  "Montreal",
  "North America",
  "South America",
  "Europe",
  "Asia",
  "Africa",
  "Oceania"
]

const notPlaces = new Set(
  "What Whats What's How Who When Where Which Is Are Tell Please Can Could Would Do Does Give Show Get And Or The I In For Weather Today Hi Hello Thanks Also Then Compare Check Find Search Look List Delete Research Plan Ask Use Call Run Make Create Send".split(
    " "
  )
)

/** Places named in `text` with their offsets, in order: known cities, else (unless `knownOnly`) capitalised word groups. */
export const placesAt = (text: string, knownOnly = false): ReadonlyArray<Found> => {
  const source = text.slice(0, maxText)
  const found: Array<Found> = []
  const lower = source.toLowerCase()
  for (const place of knownPlaces) {
    const pattern = new RegExp(`(?<![\\p{L}])${place.toLowerCase()}(?![\\p{L}])`, "gu") // static-scan-allow: a constant place name, no metacharacters
    for (const match of lower.matchAll(pattern)) {
      const at = match.index ?? 0
      if (!found.some((f) => f.at <= at && at < f.at + f.text.length)) found.push({ at, text: place })
    }
  }
  if (found.length === 0 && !knownOnly) {
    for (const match of source.matchAll(/\p{Lu}[\p{Ll}'’-]+(?:\s+\p{Lu}[\p{Ll}'’-]+)*/gu)) {
      const parts = match[0].split(/\s+/)
      const kept = parts.filter((w) => !notPlaces.has(w))
      const name = kept.join(" ")
      const skipped = parts.indexOf(kept[0] ?? "")
      const at = (match.index ?? 0) + parts.slice(0, skipped).join(" ").length + (skipped > 0 ? 1 : 0)
      if (name.length > 1) found.push({ at, text: name })
    }
  }
  return found.sort((a, b) => a.at - b.at)
}

/** Place names in a prompt, in order and without repeats (`knownOnly`: known places only). */
export const extractPlaces = (text: string, knownOnly = false): ReadonlyArray<string> =>
  unique(placesAt(text, knownOnly).map((f) => f.text))

/** The strings quoted in `text` ("…", '…', “…”, ‘…’, `…`), with offsets; an apostrophe in a word is not a quote. */
export const quotedAt = (text: string): ReadonlyArray<Found> => {
  const pattern =
    /"([^"\n]{1,200})"|“([^”\n]{1,200})”|‘([^’\n]{1,200})’|`([^`\n]{1,200})`|(?<![\p{L}\p{N}])'([^'\n]{1,200})'(?![\p{L}\p{N}])/gu
  return [...text.slice(0, maxText).matchAll(pattern)].flatMap((match) => {
    const inner =
      match
        .slice(1)
        .find((group) => group !== undefined)
        ?.trim() ?? ""
    return inner === "" ? [] : [{ at: match.index ?? 0, text: inner }]
  })
}

/** The sentences of `text` as [start, end) offsets (split after `.`, `?`, `!`, `;` followed by a space, and at line breaks). */
export const sentences = (text: string): ReadonlyArray<readonly [number, number]> => {
  const source = text.slice(0, maxText)
  const out: Array<readonly [number, number]> = []
  let start = 0
  for (const match of source.matchAll(/[.?!;](?=\s|$)|\n/g)) {
    const end = (match.index ?? 0) + 1
    if (source.slice(start, end).trim() !== "") out.push([start, end])
    start = end
  }
  if (source.slice(start).trim() !== "") out.push([start, source.length])
  return out
}

/** Where a prompt asks for steps in order ("…, then …", "and then", "after that"): the offsets of each step. */
export const sequenceSegments = (text: string): ReadonlyArray<readonly [number, number]> => {
  const source = text.slice(0, maxText)
  const out: Array<readonly [number, number]> = []
  let start = 0
  for (const match of source.matchAll(
    /,?\s*(?:\band then\b|\bthen\b|\bafter that\b|\bafterwards\b|\band use (?:it|that|them|the result) to\b)/gi
  )) {
    const at = match.index ?? 0
    if (source.slice(start, at).trim() !== "") out.push([start, at])
    start = at + match[0].length
  }
  if (source.slice(start).trim() !== "") out.push([start, source.length])
  return out.length === 0 ? [[0, source.length]] : out
}

const leadWords = new Set(
  "what what's whats how how's hows who which is are was can could would will you please tell me us i i'd id want need to like do does let let's lets know and also then so now find search look lookup up get give show list check fetch ask run use call make".split(
    " "
  )
)

const cue = /(?:^|\s)(?:about|regarding|named|called|titled|for)\s+|:\s*/i

/**
 * The noun phrase of a clause for a string parameter: the text after a cue (`about …`, `named …`,
 * `topic: …`, `for …`), else the clause without its leading request words ("What's", "please find")
 * and trailing punctuation; leading words in `skip` (the tool's own name words) go too. At most 120
 * characters; "" when nothing is left.
 */
export const nounPhrase = (clause: string, skip: ReadonlySet<string> = new Set()): string => {
  const cued = cue.exec(clause)
  const tail = cued === null ? clause : clause.slice(cued.index + cued[0].length)
  let phrase = tail
    .split(/[,.;?!](?:\s|$)|[?!]|\s+(?:and then|then)\s+/i)[0]!
    .trim()
    .replace(/\s+/g, " ")
  if (cued !== null && phrase === "") phrase = clause
  const parts = phrase.split(" ")
  const leading = (word: string) => leadWords.has(word.toLowerCase().replace(/’/g, "'")) || skip.has(normalise(word))
  while (parts.length > 1 && leading(parts[0]!)) parts.shift()
  // "search notes on bicycles": the tool's words are gone, and so is the preposition they left
  if (parts.length > 1 && /^(?:on|about|of|for|regarding|with)$/i.test(parts[0]!)) parts.shift()
  while (parts.length > 1 && /^(?:please|now|today)$/i.test(parts.at(-1)!)) parts.pop()
  const result = parts
    .join(" ")
    .replace(/^[\s"'“‘`(]+|[\s"'”’`).,;:?!]+$/g, "")
    .slice(0, 120)
  return leadWords.has(result.toLowerCase()) ? "" : result
}

/** The numbers in `text` with offsets. */
export const numbersAt = (text: string): ReadonlyArray<Found> =>
  [...text.slice(0, maxText).matchAll(/(?<![\p{L}\d.])-?\d+(?:\.\d+)?/gu)].map((m) => ({
    at: m.index ?? 0,
    text: m[0]
  }))

/** A math expression in `text` ("12 * (3 + 4)"), if any. */
export const mathExpression = (text: string): string | undefined =>
  text
    .slice(0, maxText)
    .match(/[-\d(][-\d\s+*/().^%]*[\d)]/)?.[0]
    .trim()

/** `values` without repeats, first occurrence kept. */
export const unique = <A>(values: ReadonlyArray<A>): ReadonlyArray<A> => [...new Set(values)]
