import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The host matrix installs a dozen sites from the registry: `pnpm matrix` (test/matrix/vitest.config.ts).
    exclude: ['**/node_modules/**', 'test/matrix/**'],
    // Hang guards, not time limits: a test that waits on a loaded machine must not fail for it.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // `expect.poll` gives up after 1 s by default: on a loaded runner a right answer comes later.
    expect: { poll: { timeout: 60_000 } },
    // Two files at a time: most of a file's time is a child process (a build, an install, a
    // browser) or a mock's latency, so two share a 2-core runner; vitest's default is cores - 1.
    maxWorkers: 2,
    // An error no test awaited fails the run (never `dangerouslyIgnoreUnhandledErrors`):
    // test/unhandled-errors.test.ts holds it.
  },
})
