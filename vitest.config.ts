import { defineConfig } from "vitest/config"

// One vitest run over every workspace project, so `npm test` reports one total for the whole suite.
export default defineConfig({
  test: {
    projects: ["packages/*", "examples", "bench", "apps/*"]
  }
})
