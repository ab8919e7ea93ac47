import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The host matrix installs a dozen sites from the registry: `pnpm matrix` (test/matrix/vitest.config.ts).
    exclude: ['**/node_modules/**', 'test/matrix/**'],
    // Hang guards, not time limits: a test that waits on a loaded machine must not fail for it.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // An error no test awaited fails the run (never `dangerouslyIgnoreUnhandledErrors`):
    // test/unhandled-errors.test.ts holds it.
  },
})
