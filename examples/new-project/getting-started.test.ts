/**
 * docs/getting-started.md's two paths quote their programs: `apps/hello/main.ts` (a program inside the
 * repository) in full below its header, and this folder's `main.ts` (a new project) as an excerpt,
 * which scripts/doc-blocks.mjs checks. Both programs are run by their own tests (apps/hello's test and
 * new-project.test.ts), so the page shows code that runs.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = join(import.meta.dirname, "..", "..")
const body = (file: string) => {
  const source = readFileSync(join(root, file), "utf8")
  return source.slice(source.indexOf("*/\n") + 3)
}
const doc = readFileSync(join(root, "docs", "getting-started.md"), "utf8")

describe("docs/getting-started.md", () => {
  it("quotes apps/hello/main.ts verbatim below its header, as one ts block", () => {
    assert.include(doc, `\`\`\`ts\n${body("apps/hello/main.ts")}\`\`\``)
  })

  it("quotes examples/new-project/main.ts verbatim below its header, marked as an excerpt", () => {
    assert.include(
      doc,
      `<!-- excerpt: examples/new-project/main.ts -->\n\`\`\`ts\n${body("examples/new-project/main.ts")}\`\`\``
    )
  })
})
