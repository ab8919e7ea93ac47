import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// The host matrix (host-matrix.test.ts), apart from the suite: `pnpm matrix`.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/matrix/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
})
