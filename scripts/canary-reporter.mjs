// A vitest reporter for the suite-wide G01 canary sweep: every line any test writes to stdout or
// stderr (Effect's logger, console.*, error dumps) is appended to `$VOLLEY_CANARY_DIR/console.log`,
// which scripts/canary-sweep.mjs then searches for the canary key. Enabled by scripts/test.mjs
// (`--reporter=./scripts/canary-reporter.mjs`); does nothing when VOLLEY_CANARY_DIR is unset.
import { appendFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"

export default class CanaryReporter {
  constructor() {
    this.dir = process.env.VOLLEY_CANARY_DIR
    if (this.dir !== undefined) mkdirSync(this.dir, { recursive: true })
  }

  onUserConsoleLog(log) {
    if (this.dir === undefined) return
    appendFileSync(join(this.dir, "console.log"), `[${log.type}] ${log.content}\n`)
  }
}
