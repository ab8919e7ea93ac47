// A green run must mean no error escaped: an error no test awaited (a host writing to a folder a
// test deleted) fails the run as a failed test does: the suite's configuration (never
// `dangerouslyIgnoreUnhandledErrors`) and its set-up let nothing silence it.
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { startNode } from './helpers/cli.js'
import { userEnv } from './helpers/dev-server.js'

const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url))
const CONFIG = fileURLToPath(new URL('./fixtures/unhandled/vitest.config.ts', import.meta.url))

describe('unhandled errors', () => {
  it('fail a run whose every test passed', async () => {
    const run = await startNode(VITEST, ['run', '--config', CONFIG], { env: { ...userEnv(), NO_COLOR: '1' } })
      .done
    const output = run.stdout + run.stderr
    expect(output).toMatch(/Tests\s+1 passed \(1\)/)
    expect(output).toMatch(/Errors\s+1 error/)
    expect(output).toContain('ENOENT')
    expect(run.code).toBe(1)
  })
})
