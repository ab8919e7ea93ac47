// Regression: a misspelt option (`?sise=1536x1024`) was a warning, and the build paid for an
// image whose prompt carried the typo.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'sk-flux-directive-typos-91c4'

let gateway: MockGateway
let cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
})
afterEach(async () => {
  gateway.reset()
  for (const c of cleanups) await c()
  cleanups = []
})

const env = () => cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url })

describe('a misspelt directive option', () => {
  it('is an error at its file:line naming the nearest option, and is never sent', async () => {
    const p = await makeProject({
      'a.md': '# Harbour\n\n![x](flux:a harbour at dusk?sise=1536x1024)\n',
      'b.html': '<img src="flux:a lighthouse?qualty=hd&size=1536x1024" alt="x">\n',
    })
    cleanups.push(p.cleanup)
    const run = await runCli(['generate'], { cwd: p.root, env: env() })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      '[flux] a.md:3:6: Unknown option `sise` (did you mean `size`?). Known options: model, size, quality, seed, alt, preset, ref. Nothing was generated for this directive.',
    )
    expect(run.stderr).toContain('[flux] b.html:1:11: Unknown option `qualty` (did you mean `quality`?)')
    expect(run.stderr).toContain('0 generated, 0 cached, 0 placeholder(s), 2 failed (FLUX_UNKNOWN_OPTION 2)')
    expect(gateway.requests).toBe(0)
    const scan = await runCli(['scan'], { cwd: p.root, env: env() })
    expect(scan.code).toBe(1)
    expect(scan.stderr).toContain('a.md:3:6: Unknown option `sise` (did you mean `size`?)')
  })

  it('a prompt that really ends in `?a=b` escapes its `?`, in Markdown and in HTML, and is sent as written', async () => {
    const p = await makeProject({
      // Markdown reads `\\` as one backslash, so the directive is `flux:solve for x\?x=3`.
      'a.md': '![x](flux:solve for x\\\\?x=3)\n![y](flux:a typo kept out?sise=1)\n',
      'b.html': '<img src="flux:is it true\\?answer=yes?size=1536x1024" alt="y">\n',
    })
    cleanups.push(p.cleanup)
    const run = await runCli(['generate'], { cwd: p.root, env: env() })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('a.md:2:6: Unknown option `sise` (did you mean `size`?)')
    expect(run.stderr).toContain('2 generated, 0 cached, 0 placeholder(s), 1 failed (FLUX_UNKNOWN_OPTION 1)')
    expect(gateway.requests).toBe(2)
    expect([...gateway.requestsByPrompt]).toEqual(
      expect.arrayContaining([
        ['solve for x?x=3', 1],
        ['is it true?answer=yes', 1],
      ]),
    )
    expect([...gateway.requestsByPrompt.keys()].filter((prompt) => prompt.includes('typo'))).toEqual([])
  })
})
