/// <reference lib="dom" />
/**
 * The traces page in a real browser: Debian's `chromium` driven by `playwright-core`, on traces made
 * by real agent runs on the scripted server (see support/runs.ts). Screenshots go to
 * `.volley/artifacts/` (git-ignored); docs/images/ holds copies for docs/traces.md.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core"
import * as TraceServer from "../src/TraceServer.ts"
import { canary, checkerRun, dropArtefact, plannerRun, watcherRun } from "./support/runs.ts"

const chromiumPath = "/usr/bin/chromium"
const artifacts = fileURLToPath(new URL("../../../.volley/artifacts/", import.meta.url))
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "volley-traces-browser-"))

let context: BrowserContext
let page: Page

beforeAll(async () => {
  if (!fs.existsSync(chromiumPath))
    throw new Error(`${chromiumPath} is missing: install it with \`apt-get install -y chromium\` (.ci/run does)`)
  fs.mkdirSync(artifacts, { recursive: true })
  context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), "volley-chromium-")), {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1100, height: 640 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
  page = context.pages()[0] ?? (await context.newPage())
  page.setDefaultTimeout(10_000)
}, 60_000)

afterAll(async () => {
  await context?.close()
})

const ui = <A>(f: () => Promise<A>): Effect.Effect<A> => Effect.promise(f)

/** axe-core's WCAG 2 A/AA violations on the current page (ids and the first target of each). */
const axeViolations = ui(async () => {
  await page.addScriptTag({ path: axePath })
  return page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run: (
            context: unknown,
            options: unknown
          ) => Promise<{ violations: Array<{ id: string; nodes: Array<{ target: Array<string> }> }> }>
        }
      }
    ).axe
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"] } })
    return result.violations.map((violation) => `${violation.id}: ${violation.nodes[0]?.target.join(" ")}`)
  })
})

/** The text a person sees in `locator` (rendered: hidden parts left out, line breaks kept). */
// biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is the rendered text this test checks
const shown = (locator: Locator) => ui(() => locator.innerText())

const shot = (name: string, fullPage = false) =>
  ui(() => page.screenshot({ path: path.join(artifacts, name), fullPage }))

/** The runs table as rows of cell texts. */
const rowTexts = ui(() =>
  page
    .locator("table.runs tbody tr")
    .evaluateAll((rows) =>
      rows.map((row) => Array.from(row.querySelectorAll("td"), (cell) => (cell.textContent ?? "").trim()))
    )
)

layer(TraceServer.layer({ dir, pollInterval: "100 millis" }), { excludeTestServices: true })("traces page", (it) => {
  it.effect(
    "lists real runs newest first, filters them, and shows a run as a waterfall with details",
    () =>
      Effect.gen(function* () {
        const server = yield* TraceServer.TraceServer
        yield* plannerRun(dir)
        yield* checkerRun(dir)

        yield* ui(() => page.goto(server.url))
        const rows = yield* rowTexts
        assert.strictEqual(rows.length, 2)
        const [checker, planner] = [rows[0]!, rows[1]!]
        assert.deepStrictEqual([checker[0], checker[1], checker[7]], ["checker", "big-model", "✕ ModelError"])
        assert.match(checker[2]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)
        // planner: 2 turns (the restarted one counts once), tokens in/out include the sub-agent's
        assert.deepStrictEqual(
          [planner[0], planner[1], planner[4], planner[5], planner[6], planner[7]],
          ["planner", "big-model", "2", "670", "114", "✓ Completed"]
        )
        assert.match(planner[3]!, /^\d[.\d]* (ms|s)$/)
        assert.strictEqual(yield* ui(() => page.locator("tbody .tone-error").count()), 1)
        assert.strictEqual(yield* ui(() => page.locator("tbody .tone-ok").count()), 1)
        assert.deepStrictEqual(yield* axeViolations, [])
        yield* shot("traces-list.png")

        // filters: by stop reason, by agent, by text found only inside the run (a tool name)
        yield* ui(() => page.selectOption("#f-reason", "ModelError"))
        yield* ui(() => page.click("button[type=submit]"))
        assert.deepStrictEqual(
          (yield* rowTexts).map((row) => row[0]),
          ["checker"]
        )
        yield* ui(() => page.goto(`${server.url}?agent=planner`))
        assert.deepStrictEqual(
          (yield* rowTexts).map((row) => row[0]),
          ["planner"]
        )
        yield* ui(() => page.goto(server.url))
        yield* ui(() => page.fill("#f-text", "lookup_flights"))
        yield* ui(() => page.press("#f-text", "Enter"))
        assert.deepStrictEqual(
          (yield* rowTexts).map((row) => row[0]),
          ["planner"]
        )

        // the planner's waterfall
        yield* ui(() => page.click("table.runs a:has-text('planner')"))
        yield* ui(() => page.waitForSelector("ol.waterfall"))
        const names = yield* ui(() => page.locator("button.step .name").allInnerTexts())
        assert.deepStrictEqual(names, [
          "Agent planner",
          "Model call big-model",
          "Model call big-model",
          "Tool get_weather",
          "Tool get_weather",
          "Tool lookup_flights",
          "Tool researcher",
          "Sub-agent researcher",
          "Model call small-model",
          "Model call big-model"
        ])
        const steps = page.locator("button.step")
        const text = (index: number) => shown(steps.nth(index))
        assert.include(yield* text(1), "TurnRestarted")
        assert.include(yield* text(2), "first event")
        assert.notInclude(yield* text(2), "TurnRestarted")
        assert.include(yield* text(3), "parallel with 3")
        assert.include(yield* text(5), "ToolFailed")
        // the sub-agent nested under the `researcher` tool call that started it, its own model call under it
        assert.include(yield* text(6), "parallel with 3")
        assert.notInclude(yield* text(7), "tool call researcher")
        const depth = (index: number) =>
          ui(() => steps.nth(index).evaluate((el) => getComputedStyle(el).getPropertyValue("--depth")))
        assert.deepStrictEqual(
          [yield* depth(0), yield* depth(5), yield* depth(6), yield* depth(7), yield* depth(8)],
          ["0", "1", "1", "2", "3"]
        )
        // parallel tool calls are drawn side by side: their bars overlap in time
        const bar = (index: number) => ui(() => steps.nth(index).locator(".bar").boundingBox())
        const [a, b] = [(yield* bar(3))!, (yield* bar(4))!]
        assert.isBelow(b.x, a.x + a.width, "the second call starts before the first ends")

        // click a tool call: arguments, output; a failing tool: its typed error
        yield* ui(() => steps.nth(3).click())
        assert.strictEqual(yield* ui(() => steps.nth(3).getAttribute("aria-expanded")), "true")
        const details = yield* shown(page.locator(".details:not([hidden])").first())
        assert.include(details, "Arguments")
        assert.include(details, '"city": "Paris"')
        assert.include(details, "Output")
        assert.include(details, "tempC")
        // keyboard: arrow down moves to the next step, Enter opens it
        yield* ui(() => steps.nth(3).focus())
        yield* ui(() => page.keyboard.press("ArrowDown"))
        yield* ui(() => page.keyboard.press("ArrowDown"))
        assert.strictEqual(
          yield* ui(() => page.evaluate(() => document.activeElement?.textContent ?? "")),
          yield* ui(() => steps.nth(5).textContent())
        )
        yield* ui(() => page.keyboard.press("Enter"))
        const failed = yield* shown(page.locator(".details:not([hidden])").nth(1))
        assert.include(failed, "ToolFailed")
        assert.include(failed, "Error")
        // a model call: usage and the captured items
        yield* ui(() => steps.nth(9).click())
        const model = yield* shown(page.locator(".details:not([hidden])").nth(2))
        assert.include(model, "Tokens in\n410")
        assert.include(model, "Response items")
        assert.include(model, "First event")
        assert.deepStrictEqual(yield* axeViolations, [])
        // for the screenshot: the whole waterfall with the failing tool call open
        for (const index of [3, 9]) yield* ui(() => steps.nth(index).click())
        yield* shot("traces-run.png", true)

        // the canary key reached neither the files nor the pages
        const html = (yield* ui(() => page.content())) + (yield* ui(() => fetch(server.url).then((r) => r.text())))
        const files = fs
          .readdirSync(dir)
          .map((name) => fs.readFileSync(path.join(dir, name), "utf8"))
          .join("")
        dropArtefact("trace files", files)
        dropArtefact("pages", html)
        assert.include(files, "<redacted>")
        for (const needle of [canary, canary.slice(-8)]) {
          assert.notInclude(html, needle)
          assert.notInclude(files, needle)
        }
      }),
    60_000
  )

  it.effect(
    "a running run updates live over SSE, without reloading the page",
    () =>
      Effect.gen(function* () {
        const server = yield* TraceServer.TraceServer
        const signal = yield* Deferred.make<string>()
        const fiber = yield* Effect.forkChild(watcherRun(dir, signal))
        yield* ui(() => page.goto(server.url))
        yield* ui(() => page.waitForSelector("tbody tr:has-text('watcher')"))
        // the list ticks while the run is going, but never under someone typing a filter
        yield* ui(() => page.fill("#f-text", "watch"))
        yield* ui(() => page.waitForTimeout(1300))
        assert.strictEqual(yield* ui(() => page.inputValue("#f-text")), "watch")
        yield* ui(() => page.locator("#f-text").blur())
        // open the run while its tool is waiting
        yield* ui(() => page.click("table.runs a:has-text('watcher')"))
        yield* ui(() => page.waitForSelector("button.step:has-text('wait_for_signal')"))
        assert.include(yield* shown(page.locator("h1")), "Running")
        assert.include(yield* shown(page.locator("button.step:has-text('wait_for_signal')")), "running")
        yield* ui(() => page.evaluate(() => Object.assign(window, { volleyMarker: 1 })))
        // nothing is written while the tool waits, yet the page keeps moving: the run's duration grows
        const elapsed = shown(page.locator("dl.summary div:nth-child(3) dd"))
        const before = yield* elapsed
        yield* ui(() => page.waitForTimeout(1600))
        assert.notStrictEqual(yield* elapsed, before)
        yield* shot("traces-live.png")
        yield* Deferred.succeed(signal, "go")
        yield* Fiber.join(fiber)
        yield* ui(() => page.waitForSelector("h1:has-text('Completed')", { timeout: 10_000 }))
        const names = yield* ui(() => page.locator("button.step .name").allInnerTexts())
        assert.deepStrictEqual(names, [
          "Agent watcher",
          "Model call big-model",
          "Tool wait_for_signal",
          "Model call big-model"
        ])
        assert.strictEqual(
          yield* ui(() => page.evaluate(() => (window as unknown as { volleyMarker?: number }).volleyMarker)),
          1,
          "updated in place"
        )
        assert.deepStrictEqual(yield* axeViolations, [])
      }),
    60_000
  )
})
