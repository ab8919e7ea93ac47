// Regression: changing `model` or `size` in flux.config.mjs re-keyed every image and paid for all
// of them again, with nothing said; `prune` then offered the old paid originals by key only.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'sk-flux-dry-run-costs-40d7'

let gateway: MockGateway
let cleanup: (() => Promise<void>) | undefined

beforeAll(async () => {
  gateway = await createMockGateway({
    apiKey: KEY,
    models: ['flux-1.1-pro', 'flux-dev', 'flux-schnell', 'flux-2-pro'],
  })
})
afterAll(async () => {
  await gateway?.close()
  await cleanup?.()
})

describe('generate --dry-run after a change of configuration', () => {
  it('counts the new images and their cost, and lists the orphaned originals grouped by cause, with prompts', async () => {
    const p = await makeProject({
      'a.md':
        '![x](flux:a lighthouse)\n![y](flux:a harbour?model=flux-schnell)\n![z](flux:an old mill?size=1344x768)\n',
      'b.md': '![w](flux:a kite festival)\n',
    })
    cleanup = p.cleanup
    const cwd = p.root
    const env = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url })
    const first = await runCli(['generate'], { cwd, env })
    expect(first.code, first.stderr).toBe(0)
    expect(gateway.generated).toBe(4)

    // The change: a default size, a model per directive, a prompt edited, a FLUX.2 image priced per megapixel.
    await writeFile(
      join(cwd, 'flux.config.mjs'),
      "export default { size: '1536x1024', models: ['flux-2-pro'], prices: { 'flux-2-pro': { first: 0.03, perMegapixel: 0.015 } } }\n",
    )
    await writeFile(
      join(cwd, 'a.md'),
      '![x](flux:a lighthouse)\n![y](flux:a harbour?model=flux-dev)\n![z](flux:an old mill?size=1344x768)\n',
    )
    await writeFile(join(cwd, 'b.md'), '![w](flux:a kite festival at dusk)\n')
    await writeFile(join(cwd, 'c.md'), '![v](flux:a glass city?model=flux-2-pro)\n')
    gateway.reset()
    const dry = await runCli(['generate', '--dry-run'], { cwd, env })
    expect(dry.code, dry.stderr).toBe(0)
    expect(gateway.requests).toBe(0)
    const lines = dry.stdout.trimEnd().split('\n')
    expect(lines.filter((l) => l.startsWith('would generate'))).toHaveLength(4)
    // 0.04 (flux-1.1-pro) x 2 + 0.025 (flux-dev) + 0.03 + 0.015 (flux-2-pro, 1536x1024: 2 MP begun)
    expect(lines).toContain('  flux-2-pro: 1 image(s), est. $0.045')
    expect(lines).toContain('4 image(s) would be generated, est. $0.150; 1 cached. Nothing was called.')
    const orphans = lines.slice(lines.findIndex((l) => l.includes('no directive uses any more')))
    expect(orphans.map((l) => l.replace(/ {2}[0-9a-f]{24}$/, '  KEY'))).toEqual([
      '3 cached original(s) no directive uses any more (`flux-images prune` removes them; each costs its price again to make):',
      '  re-keyed by a change of size: 1',
      '    "a lighthouse"  size 1024x1024 -> 1536x1024  (a.md:1:6)  KEY',
      '  re-keyed by a change of model and size: 1',
      '    "a harbour"  model flux-schnell -> flux-dev, size 1024x1024 -> 1536x1024  (a.md:2:6)  KEY',
      '  no directive sends their prompt any more (a prompt changed, or its directive was removed): 1',
      '    "a kite festival"  flux-1.1-pro 1024x1024  KEY',
    ])

    // prune says what each original shows, not only its key.
    const prune = await runCli(['prune', '--dry-run'], { cwd, env })
    expect(prune.code).toBe(0)
    expect(prune.stdout.replace(/[0-9a-f]{24}/g, 'KEY').split('\n')).toEqual(
      expect.arrayContaining([
        'would remove  KEY',
        '    flux-1.1-pro 1024x1024  "a lighthouse"',
        '    flux-schnell 1024x1024  "a harbour"',
        '    flux-1.1-pro 1024x1024  "a kite festival"',
        '3 unreferenced entries would be removed.',
      ]),
    )
    expect(prune.stdout.match(/^would remove {2}[0-9a-f]{24}$/gm)).toHaveLength(3)
    expect(gateway.requests).toBe(0)
  })
})
