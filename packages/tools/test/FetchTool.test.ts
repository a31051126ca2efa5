/**
 * G07: the shipped fetch tool against a local resolver and loopback listeners. Every blocked target is
 * refused before a connection is made (the trap listener sees none), the check runs at every redirect hop,
 * an explicit allowlist opens a host, and responses are capped in size and time.
 */
import * as http from "node:http"
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as FetchTool from "../src/FetchTool.ts"
import type * as Toolkit from "../src/Toolkit.ts"
import { call, errorOf } from "./support.ts"

interface Listener {
  readonly port: number
  readonly connections: () => number
}

/** A TCP listener on 127.0.0.1 that counts connections (and answers HTTP when given a handler). */
const listen = (handler?: http.RequestListener) =>
  Effect.acquireRelease(
    Effect.callback<{ server: net.Server; listener: Listener }>((resume) => {
      let count = 0
      const server = handler === undefined ? net.createServer((socket) => socket.destroy()) : http.createServer(handler)
      server.on("connection", () => {
        count++
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(Effect.succeed({ server, listener: { port, connections: () => count } }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        if (server instanceof http.Server) server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ listener }) => listener))

const setup = Effect.gen(function* () {
  const trap = yield* listen()
  let selfPort = 0
  const site = yield* listen((req, res) => {
    switch (req.url) {
      case "/ok":
        res.writeHead(200, { "content-type": "text/plain" }).end("hello from the allowed host")
        return
      case "/big":
        res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(2 * 1024 * 1024))
        return
      case "/binary":
        res.writeHead(200, { "content-type": "image/png" }).end(Buffer.alloc(100))
        return
      case "/slow":
        return
      case "/redirect-metadata":
        res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end()
        return
      case "/redirect-trap":
        res.writeHead(302, { location: `http://127.0.0.1:${trap.port}/` }).end()
        return
      case "/redirect-name":
        res.writeHead(302, { location: `http://rebind.test:${trap.port}/` }).end()
        return
      case "/redirect-ok":
        res.writeHead(301, { location: "/ok" }).end()
        return
      case "/loop":
        res.writeHead(302, { location: `http://allowed.test:${selfPort}/loop` }).end()
        return
      default:
        res.writeHead(404).end("not found")
    }
  })
  selfPort = site.port
  const resolver = FetchTool.layerStaticResolver({
    "allowed.test": ["127.0.0.1"],
    "public.example": ["127.0.0.1"],
    "rebind.test": ["127.0.0.1"],
    "dual.example": ["93.184.216.34", "10.0.0.1"]
  })
  const tools = yield* FetchTool.toolkit
    .asEffect()
    .pipe(
      Effect.provide(
        FetchTool.layer({ allow: ["allowed.test"], timeout: "1 second", maxBytes: 1024 * 1024 }).pipe(
          Layer.provide(resolver)
        )
      )
    )
  return { trap, site, tools }
})

const fetchUrl = (tools: Toolkit.Handled<typeof FetchTool.toolkit.tools>, url: string) =>
  tools.handle(call("fetch", { url }))

describe("G07 fetch tool", () => {
  it.live("G07 blocked targets: refused before any connection, the model is told 'blocked destination'", () =>
    Effect.gen(function* () {
      const { trap, tools } = yield* setup
      const p = trap.port
      const targets = [
        `http://127.0.0.1:${p}/`,
        `http://localhost:${p}/`,
        `http://LOCALHOST.:${p}/`,
        `http://[::1]:${p}/`,
        `http://[::ffff:127.0.0.1]:${p}/`,
        `http://[::ffff:0:7f00:1]:${p}/`,
        `http://[::ffff:0:127.0.0.1]:${p}/`,
        `http://[::ffff:7f00:1]:${p}/`,
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:0:a9fe:a9fe]/",
        `http://2130706433:${p}/`,
        `http://0x7f.1:${p}/`,
        `http://127.1:${p}/`,
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://100.100.100.200/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        `http://public.example:${p}/`,
        "http://dual.example/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_x",
        `http://user:pass@allowed.test:${p}/`
      ]
      for (const url of targets) {
        const result = yield* fetchUrl(tools, url)
        const error = errorOf(result.output)
        assert.strictEqual(error?.type, "tool_error", url)
        assert.include(error?.message, "blocked destination", url)
      }
      assert.strictEqual(trap.connections(), 0)
    })
  )

  it.live("G07 the allowlist opens a specific host; redirects are followed and re-checked at every hop", () =>
    Effect.gen(function* () {
      const { trap, site, tools } = yield* setup
      const base = `http://allowed.test:${site.port}`
      const ok = yield* fetchUrl(tools, `${base}/ok`)
      assert.strictEqual(
        ok.output.output,
        `URL: ${base}/ok\nStatus: 200 OK\nContent-Type: text/plain\n\nhello from the allowed host`
      )
      const redirected = yield* fetchUrl(tools, `${base}/redirect-ok`)
      assert.include(redirected.output.output as string, "hello from the allowed host")
      for (const path of ["/redirect-metadata", "/redirect-trap", "/redirect-name"]) {
        const result = yield* fetchUrl(tools, `${base}${path}`)
        assert.include(errorOf(result.output)?.message, "blocked destination", path)
      }
      assert.strictEqual(trap.connections(), 0)
      const loop = yield* fetchUrl(tools, `${base}/loop`)
      assert.include(errorOf(loop.output)?.message, "too_many_redirects")
    })
  )

  it.live("G07 responses are capped at the byte limit and the time limit", () =>
    Effect.gen(function* () {
      const { site, tools } = yield* setup
      const base = `http://allowed.test:${site.port}`
      const big = yield* fetchUrl(tools, `${base}/big`)
      if (big.outcome._tag !== "Success") return assert.fail("expected success")
      // the response is read up to 1 MiB (the full value for the application) ...
      const value = big.outcome.value as string
      assert.match(value, /\n\[response truncated at 1048576 bytes\]$/)
      assert.isAtMost(value.length, 1024 * 1024 + 200)
      // ... and the model still gets at most the tool output cap (64 KiB)
      assert.isAtMost(Buffer.byteLength(big.output.output as string), 65_536)
      const binary = yield* fetchUrl(tools, `${base}/binary`)
      assert.include(binary.output.output as string, "[binary content (image/png) of 100 bytes omitted]")
      const slow = yield* fetchUrl(tools, `${base}/slow`)
      assert.deepStrictEqual(JSON.parse(errorOf(slow.output)!.message), {
        _tag: "FetchError",
        reason: "timeout",
        message: "no response within 1000 ms"
      })
    })
  )

  it("isBlockedAddress covers the special-purpose ranges and mapped forms", () => {
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0"
    ]) {
      assert.isTrue(FetchTool.isBlockedAddress(a), a)
    }
    for (const a of [
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:a9fe:a9fe",
      "::ffff:0:7f00:1",
      "::ffff:0:127.0.0.1",
      "::ffff:0:a9fe:a9fe",
      "::ffff:8.8.8.8",
      "::ffff:0:808:808",
      "::127.0.0.1"
    ]) {
      assert.isTrue(FetchTool.isBlockedAddress(a), a)
    }
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2001:4860:4860::8888"]) {
      assert.isFalse(FetchTool.isBlockedAddress(a), a)
    }
  })
})
