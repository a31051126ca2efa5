/**
 * The shipped `fetch` tool (docs/reliability.md G07): fetches an http(s) URL for the model, refusing loopback,
 * private, link-local, CGNAT, metadata and other special-purpose destinations. The check runs on the
 * *resolved* IP at every redirect hop, and the connection is pinned to the checked IP (no DNS rebinding).
 * Responses are capped at 1 MiB and 10 s by default; an allowlist (opt-in) opens specific hosts.
 * Entry points: `make(options)` (the tool), `handler(options)` (its handler; needs a `Resolver`),
 * `toolkit` / `layer(options)` for a ready toolkit, `Resolver.layerSystem` / `Resolver.layerStatic(map)`.
 * Gotcha: a blocked destination is a typed failure fed back as "blocked destination", never a connection.
 */
import * as dns from "node:dns/promises"
import * as http from "node:http"
import * as https from "node:https"
import type { LookupFunction } from "node:net"
import * as net from "node:net"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Tool from "./Tool.ts"
import * as Toolkit from "./Toolkit.ts"

/** Why a fetch did not produce a response. */
export class FetchError extends Schema.TaggedError<FetchError>()("FetchError", {
  reason: Schema.Literals([
    "blocked",
    "invalid_url",
    "unsupported_protocol",
    "dns",
    "timeout",
    "network",
    "too_many_redirects"
  ]),
  message: Schema.String
}) {}

/** A resolved address. */
export interface Address {
  readonly address: string
  readonly family: 4 | 6
}

/** Resolves host names; swap it in tests (`layerStatic`) so nothing reaches real DNS. */
export class Resolver extends Context.Service<
  Resolver,
  { readonly resolve: (hostname: string) => Effect.Effect<ReadonlyArray<Address>, FetchError> }
>()("@volley/tools/FetchTool/Resolver") {}

/** The system resolver (`dns.lookup` with `all: true`). */
export const layerSystemResolver: Layer.Layer<Resolver> = Layer.succeed(Resolver, {
  resolve: (hostname) =>
    Effect.tryPromise({
      try: () => dns.lookup(hostname, { all: true, verbatim: true }),
      catch: () => new FetchError({ reason: "dns", message: `could not resolve ${hostname}` })
    }).pipe(Effect.map((all) => all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }) as const)))
})

/** A fixed resolver for tests: names not in the map do not resolve. */
export const layerStaticResolver = (table: Readonly<Record<string, ReadonlyArray<string>>>): Layer.Layer<Resolver> =>
  Layer.succeed(Resolver, {
    resolve: (hostname) => {
      const addresses = Object.hasOwn(table, hostname) ? table[hostname] : undefined
      return addresses === undefined || addresses.length === 0
        ? Effect.fail(new FetchError({ reason: "dns", message: `could not resolve ${hostname}` }))
        : Effect.succeed(addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }) as const))
    }
  })

/** Options of the fetch tool. */
export interface Options {
  /** Hosts (exact names or IP literals) opened even if they resolve to a blocked range. Default none. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Maximum response body in bytes; more is cut with a note. Default 1 MiB. */
  readonly maxBytes?: number | undefined
  /** Total time for all hops. Default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** Maximum redirects followed. Default 5. */
  readonly maxRedirects?: number | undefined
}

/** Default response cap. */
export const defaultMaxBytes = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// the destination check
// ---------------------------------------------------------------------------------------------

const blocked = new net.BlockList()
for (const [range, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4]
] as const) {
  blocked.addSubnet(range, prefix, "ipv4")
}
for (const [range, prefix] of [
  ["::", 96],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["64:ff9b:1::", 48],
  ["100::", 64],
  ["2001::", 32],
  ["2001:db8::", 32],
  ["2002::", 16],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8]
] as const) {
  blocked.addSubnet(range, prefix, "ipv6")
}

// IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-translated (`::ffff:0:a.b.c.d`, RFC 2765) addresses reach an
// IPv4 host through an IPv6 literal, so both /96 ranges are refused whole (a URL can name the IPv4 form).
// A list of their own, checked for IPv6 only: node's `BlockList` also matches IPv4 addresses against
// IPv4-mapped rules, so in `blocked` they would block every IPv4 address.
const viaIPv4 = new net.BlockList()
viaIPv4.addSubnet("::ffff:0:0", 96, "ipv6")
viaIPv4.addSubnet("::ffff:0:0:0", 96, "ipv6")

/** Whether an IP address is in a blocked range (loopback, private, link-local, metadata, IPv4-mapped, ...). */
export const isBlockedAddress = (address: string): boolean => {
  if (net.isIPv4(address)) return blocked.check(address, "ipv4")
  if (net.isIPv6(address)) return viaIPv4.check(address, "ipv6") || blocked.check(address, "ipv6")
  return true
}

const normalizeHost = (hostname: string): string => {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname
  return bare.replace(/\.$/, "").toLowerCase()
}

const blockedError = (what: string) => new FetchError({ reason: "blocked", message: `blocked destination: ${what}` })

/** Check a URL and resolve its host to one vetted address to connect to. */
const vet = (url: URL, allow: ReadonlySet<string>) =>
  Effect.gen(function* () {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return yield* new FetchError({
        reason: "unsupported_protocol",
        message: `blocked destination: only http and https URLs can be fetched, not ${url.protocol}`
      })
    }
    if (url.username !== "" || url.password !== "") return yield* blockedError("URLs with credentials")
    const host = normalizeHost(url.hostname)
    const allowed = allow.has(host)
    if (!allowed && (host === "localhost" || host.endsWith(".localhost"))) return yield* blockedError(host)
    let addresses: ReadonlyArray<Address>
    if (net.isIP(host) !== 0) addresses = [{ address: host, family: net.isIPv6(host) ? 6 : 4 }]
    else addresses = yield* (yield* Resolver).resolve(host)
    if (addresses.length === 0) return yield* new FetchError({ reason: "dns", message: `could not resolve ${host}` })
    if (!allowed) {
      const bad = addresses.find((a) => isBlockedAddress(a.address))
      if (bad !== undefined)
        return yield* blockedError(host === bad.address ? host : `${host} resolves to ${bad.address}`)
    }
    return addresses[0]!
  })

// ---------------------------------------------------------------------------------------------
// one hop over node:http, pinned to the vetted address
// ---------------------------------------------------------------------------------------------

interface Hop {
  readonly status: number
  readonly statusText: string
  readonly location: string | undefined
  readonly contentType: string
  readonly body: Buffer
  readonly size: number
  readonly truncated: boolean
}

const request = (url: URL, pinned: Address, maxBytes: number) =>
  Effect.callback<Hop, FetchError>((resume, signal) => {
    // Boundary: node:http is callback-based; every path below resumes exactly once.
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if (options.all === true) callback(null, [{ address: pinned.address, family: pinned.family }])
      else callback(null, pinned.address, pinned.family)
    }
    const client = url.protocol === "https:" ? https : http
    const req = client.request(
      url,
      { method: "GET", lookup, signal, headers: { "user-agent": "volley-fetch" } },
      (res) => {
        const chunks: Array<Buffer> = []
        let size = 0
        let truncated = false
        res.on("data", (chunk: Buffer) => {
          if (truncated) return
          const room = maxBytes - size
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room))
            size += room
            truncated = true
            finish()
            res.destroy()
            return
          }
          chunks.push(chunk)
          size += chunk.length
        })
        let done = false
        const finish = () => {
          if (done) return
          done = true
          resume(
            Effect.succeed({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? "",
              location: res.headers.location,
              contentType: String(res.headers["content-type"] ?? ""),
              body: Buffer.concat(chunks),
              size,
              truncated
            })
          )
        }
        res.on("end", finish)
        res.on("error", () => {
          if (!done) {
            done = true
            resume(Effect.fail(new FetchError({ reason: "network", message: "the response was interrupted" })))
          }
        })
      }
    )
    req.on("error", (error) => {
      resume(Effect.fail(new FetchError({ reason: "network", message: `request failed: ${error.message}` })))
    })
    req.end()
  })

const render = (url: URL, hop: Hop, maxBytes: number): string => {
  const textual =
    hop.contentType === "" || /^(text\/|application\/(json|xml|xhtml|javascript|ld\+json))/i.test(hop.contentType)
  const body = textual
    ? hop.body.toString("utf8")
    : `[binary content (${hop.contentType}) of ${hop.size} bytes omitted]`
  const note = hop.truncated ? `\n[response truncated at ${maxBytes} bytes]` : ""
  return `URL: ${url.href}\nStatus: ${hop.status} ${hop.statusText}\nContent-Type: ${hop.contentType}\n\n${body}${note}`
}

// ---------------------------------------------------------------------------------------------
// the tool
// ---------------------------------------------------------------------------------------------

/** The tool definition. */
export const make = (options?: Options) =>
  Tool.make("fetch", {
    description:
      "Fetch a public http(s) URL and return its status, content type and text (at most 1 MiB). Private and local addresses are refused.",
    parameters: Schema.Struct({ url: Schema.String.annotate({ description: "An absolute http or https URL" }) }),
    success: Schema.String,
    failure: FetchError,
    timeout: Duration.sum(Duration.fromInputUnsafe(options?.timeout ?? "10 seconds"), Duration.seconds(1))
  })

/** The handler: vets and pins every hop, follows redirects, caps size and time. Needs a `Resolver`. */
export const handler = (options?: Options) =>
  Effect.gen(function* () {
    const resolver = yield* Resolver
    const allow = new Set((options?.allow ?? []).map(normalizeHost))
    const maxBytes = options?.maxBytes ?? defaultMaxBytes
    const maxRedirects = options?.maxRedirects ?? 5
    const timeout = Duration.fromInputUnsafe(options?.timeout ?? "10 seconds")
    return ({ url }: { readonly url: string }): Effect.Effect<string, FetchError> =>
      Effect.gen(function* () {
        let current: URL
        if (!URL.canParse(url)) return yield* new FetchError({ reason: "invalid_url", message: "not an absolute URL" })
        current = new URL(url)
        for (let hop = 0; hop <= maxRedirects; hop++) {
          const pinned = yield* vet(current, allow)
          const response = yield* request(current, pinned, maxBytes)
          const isRedirect = response.status >= 300 && response.status < 400 && response.location !== undefined
          if (!isRedirect) return render(current, response, maxBytes)
          if (!URL.canParse(response.location!, current.href)) {
            return yield* new FetchError({ reason: "invalid_url", message: "the redirect location is not a valid URL" })
          }
          current = new URL(response.location!, current.href)
        }
        return yield* new FetchError({ reason: "too_many_redirects", message: `more than ${maxRedirects} redirects` })
      }).pipe(
        Effect.provideService(Resolver, resolver),
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.fail(
              new FetchError({ reason: "timeout", message: `no response within ${Duration.toMillis(timeout)} ms` })
            )
        })
      )
  })

/** A toolkit holding only the fetch tool (merge it with yours: `Toolkit.merge(FetchTool.toolkit, MyTools)`). */
export const toolkit = Toolkit.make(make())

/** The handlers of `toolkit`; needs a `Resolver` (`layerSystemResolver` in programs). */
export const layer = (options?: Options) => toolkit.toLayer(Effect.map(handler(options), (fetch) => ({ fetch })))
