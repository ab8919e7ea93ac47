import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createFlux } from '../../src/create-flux.js'
import { FluxError } from '../../src/errors.js'
import { createCounters } from '../../src/optimize/index.js'
import type { Logger } from '../../src/types.js'
import { fakeProvider } from '../fakes/providers.js'

function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) }
}

let root: string
async function write(file: string, text: string) {
  await mkdir(dirname(join(root, file)), { recursive: true })
  await writeFile(join(root, file), text)
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-engine-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

const env = { FLUX_API_KEY: 'sk-test-engine', FLUX_BASE_URL: 'http://127.0.0.1:9' }

describe('createFlux().generate()', () => {
  it('generates each distinct image once, within the concurrency bound, and nothing on the next run', async () => {
    const posts = Array.from(
      { length: 10 },
      (_, i) => `![p${i}](flux:prompt number ${i})\n![again](flux:prompt number ${i % 3})\n`,
    )
    for (const [i, body] of posts.entries()) await write(`posts/${i}.md`, body)
    const fake = fakeProvider({ latencyMs: 20 })
    const flux = createFlux({ root, concurrency: 3, progress: 'off' }, { env, provider: fake.provider })
    const first = await flux.generate()
    expect(first.failed).toEqual([])
    expect(first).toMatchObject({ total: 10, directives: 20, generated: 10, cached: 0 })
    expect(fake.total).toBe(10)
    expect([...fake.calls.values()].every((n) => n === 1)).toBe(true)
    expect(fake.maxInFlight).toBeLessThanOrEqual(3)
    expect(fake.maxInFlight).toBeGreaterThan(1)
    expect(first.estimatedCost).toBeCloseTo(0.4)

    const second = await flux.generate()
    expect(fake.total).toBe(10)
    expect(second).toMatchObject({ generated: 0, cached: 10 })
  })

  it('frozen mode generates nothing and lists every missing directive with file:line', async () => {
    await write('a.md', '# A\n\n![x](flux:a new lighthouse)\n')
    await write('b.md', '---\ncover: "flux: a new lighthouse"\n---\n')
    const fake = fakeProvider()
    const flux = createFlux({ root, mode: 'frozen', progress: 'off' }, { env, provider: fake.provider })
    const summary = await flux.generate()
    expect(fake.total).toBe(0)
    expect(summary.failed).toHaveLength(1)
    const [err] = summary.failed
    expect(err?.code).toBe('FLUX_MISSING_FROZEN')
    expect(err?.message).toContain('a.md:3:')
    expect(err?.message).toContain('b.md:2:')
  })

  it('frozen mode: two missing images are one failure that lists both, and both are skipped', async () => {
    await write('a.md', '![x](flux:first missing)\n![y](flux:second missing)\n')
    const fake = fakeProvider()
    const flux = createFlux({ root, mode: 'frozen', progress: 'off' }, { env, provider: fake.provider })
    const summary = await flux.generate()
    expect(fake.total).toBe(0)
    expect(summary).toMatchObject({ total: 2, skipped: 2, generated: 0, cached: 0 })
    expect(summary.failed.map((e) => e.code)).toEqual(['FLUX_MISSING_FROZEN'])
    expect(summary.failed[0]?.message).toMatch(/a\.md:1:\d+ +first missing[\s\S]*a\.md:2:\d+ +second missing/)
  })

  it('refuses to exceed the cap before spending anything', async () => {
    await write('a.md', '![a](flux:one)\n![b](flux:two)\n![c](flux:three)\n')
    const fake = fakeProvider()
    const flux = createFlux({ root, maxGenerations: 2, progress: 'off' }, { env, provider: fake.provider })
    const summary = await flux.generate()
    expect(fake.total).toBe(0)
    expect(summary.failed.map((e) => e.code)).toEqual(['FLUX_BUDGET'])
    expect(summary.failed[0]?.message).toContain('3 new image(s) would be generated, over the cap of 2')
  })

  it('a dry run calls nothing and prices what is missing', async () => {
    await write('a.md', '![a](flux:one?model=flux-schnell)\n![b](flux:two)\n')
    const fake = fakeProvider()
    const flux = createFlux({ root, progress: 'off' }, { env, provider: fake.provider })
    const summary = await flux.generate({ dryRun: true })
    expect(fake.total).toBe(0)
    expect(summary.wouldGenerate?.map((i) => i.request.prompt).sort()).toEqual(['one', 'two'])
    expect(summary.estimatedCost).toBeCloseTo(0.043)
  })

  it('stops the run on an auth failure, reports it located, keeps what finished', async () => {
    await write('a.md', Array.from({ length: 8 }, (_, i) => `![x](flux:image ${i})`).join('\n\n'))
    const fake = fakeProvider({
      latencyMs: 10,
      fail: (_r, n) => (n === 3 ? new FluxError('FLUX_AUTH', 'bad key (401)') : undefined),
    })
    const logger = memoryLogger()
    const flux = createFlux(
      { root, concurrency: 1, progress: 'off', logger },
      { env, provider: fake.provider },
    )
    const summary = await flux.generate()
    expect(summary.failed.map((e) => e.code)).toEqual(['FLUX_AUTH'])
    expect(summary.failed[0]?.message).toMatch(/^\[flux\] a\.md:\d+:\d+: bad key/)
    expect(summary.generated).toBe(2)
    expect(summary.skipped).toBe(5)
    expect(fake.total).toBe(3)
    const again = await createFlux(
      { root, progress: 'off' },
      { env, provider: fakeProvider().provider },
    ).generate()
    expect(again.cached).toBe(2)
  })

  it('remembers a moderation refusal: the next run does not pay again unless forced', async () => {
    await write('a.md', '![x](flux:something refused)\n')
    const refuse = fakeProvider({ fail: () => new FluxError('FLUX_MODERATED', 'content_policy_violation') })
    const first = await createFlux({ root, progress: 'off' }, { env, provider: refuse.provider }).generate()
    expect(first.failed.map((e) => e.code)).toEqual(['FLUX_MODERATED'])
    expect(refuse.total).toBe(1)
    const second = await createFlux({ root, progress: 'off' }, { env, provider: refuse.provider }).generate()
    expect(refuse.total).toBe(1)
    expect(second.failed[0]?.message).toMatch(/remembered/)
    const ok = fakeProvider()
    const forced = await createFlux({ root, progress: 'off' }, { env, provider: ok.provider }).generate({
      force: true,
    })
    expect(ok.total).toBe(1)
    expect(forced.generated).toBe(1)
  })

  it('reports bad directives and unreadable frontmatter with file:line, and still generates the rest', async () => {
    await write('a.md', '![x](flux:fine one)\n![y](flux:bad size?size=12x12)\n')
    await write('b.md', '---\ntitle: [unclosed\ncover: "flux: also fine"\n---\n![z](flux:fine two)\n')
    const fake = fakeProvider()
    const summary = await createFlux({ root, progress: 'off' }, { env, provider: fake.provider }).generate()
    const codes = summary.failed.map((e) => `${e.code} ${e.location?.file}:${e.location?.line}`)
    expect(codes).toContain('FLUX_UNKNOWN_SIZE a.md:2')
    expect(codes.some((c) => c.startsWith('FLUX_FRONTMATTER b.md:'))).toBe(true)
    expect(fake.calls.get('fine one')).toBe(1)
    expect(fake.calls.get('fine two')).toBe(1)
  })
})

describe('createFlux().resolve()', () => {
  it('shares the in-flight generation of a key with generate()', async () => {
    await write('a.md', '![x](flux:shared image)\n')
    const fake = fakeProvider({ latencyMs: 50 })
    const flux = createFlux({ root, progress: 'off' }, { env, provider: fake.provider })
    const [summary, resolved] = await Promise.all([flux.generate(), flux.resolve({ prompt: 'shared image' })])
    expect(fake.total).toBe(1)
    expect(summary.failed).toEqual([])
    expect(resolved.entry.meta.key).toBe(resolved.key)
  })

  // An image() or resolve() call (a component, a script) is one the pre-scan cannot see: frozen
  // mode must refuse it too, not pay for it.
  it.each(['resolve', 'image'] as const)(
    'frozen mode: %s() of a missing image calls nothing and fails located; a cached one is served',
    async (method) => {
      const fake = fakeProvider()
      const auto = createFlux({ root, progress: 'off' }, { env, provider: fake.provider })
      await auto.resolve({ prompt: 'cached before freezing' })
      expect(fake.total).toBe(1)

      const flux = createFlux({ root, mode: 'frozen', progress: 'off' }, { env, provider: fake.provider })
      const location = { file: 'src/page.ts', line: 7, column: 3 }
      const err = await flux[method]({ prompt: 'never scanned', location }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(FluxError.is(err, 'FLUX_MISSING_FROZEN')).toBe(true)
      expect(String((err as FluxError).message)).toContain('src/page.ts:7:3')
      const served = await flux[method]({ prompt: 'cached before freezing' })
      expect(served).toBeDefined()
      expect(fake.total).toBe(1)
    },
  )

  it('throws a located error for a bad directive', async () => {
    const flux = createFlux({ root, progress: 'off' }, { env, provider: fakeProvider().provider })
    await expect(
      flux.resolve({ prompt: 'x', params: { size: '1x1' }, location: { file: 'c.ts', line: 3, column: 9 } }),
    ).rejects.toThrow(/c\.ts:3:9: Unknown size "1x1"/)
  })
})

describe('placeholders', () => {
  it('are used without a key, stored apart, and replaced once a key is set', async () => {
    await write('a.md', '![x](flux:a harbour?size=1536x1024)\n')
    const logger = memoryLogger()
    const offline = createFlux({ root, progress: 'off', logger }, { env: {} })
    const first = await offline.generate()
    expect(first).toMatchObject({ placeholders: 1, generated: 0 })
    expect(logger.lines.some((l) => /PLACEHOLDER/.test(l))).toBe(true)
    // The warm run serves the same placeholder: counted as one, never as cached.
    const second = await createFlux({ root, progress: 'off' }, { env: {} }).generate()
    expect(second).toMatchObject({ placeholders: 1, cached: 0, placeholderReason: 'no FLUX_API_KEY set' })
    const scan = await createFlux({ root }, { env: {} }).scan()
    expect(scan.items[0]?.status).toBe('placeholder')

    const fake = fakeProvider()
    const online = await createFlux({ root, progress: 'off' }, { env, provider: fake.provider }).generate()
    expect(online.generated).toBe(1)
    expect(fake.total).toBe(1)
  })
})

describe('createFlux().image()', () => {
  it('generates, optimizes, and on the next call encodes nothing', async () => {
    const counters = createCounters()
    const fake = fakeProvider()
    const flux = createFlux(
      { root, progress: 'off', image: { widths: [480], avif: { effort: 0 } } },
      { env, provider: fake.provider, optimizeCounters: counters },
    )
    const input = { prompt: 'a wide harbour', params: { size: '1536x1024' } }
    const first = await flux.image(input)
    expect(fake.total).toBe(1)
    expect(first.alt).toBe('a wide harbour')
    expect(first.sources.map((s) => s.type)).toEqual(['image/avif', 'image/webp'])
    expect(first.files.length).toBeGreaterThan(0)
    const encodes = counters.encodes
    expect(encodes).toBeGreaterThan(0)
    const second = await flux.image(input, { alt: 'Harbour' })
    expect(counters.encodes).toBe(encodes)
    expect(fake.total).toBe(1)
    expect(second.alt).toBe('Harbour')
    expect(second.files).toEqual(first.files)
  })

  it('generate({ optimize: true }) leaves every image optimized', async () => {
    await write('a.md', '![x](flux:first)\n![y](flux:second)\n')
    const counters = createCounters()
    const flux = createFlux(
      { root, progress: 'off', image: { widths: [320], avif: { effort: 0 } } },
      { env, provider: fakeProvider().provider, optimizeCounters: counters },
    )
    const summary = await flux.generate({ optimize: true })
    expect(summary.failed).toEqual([])
    expect(counters.decodes).toBe(2)
    const encodes = counters.encodes
    await flux.image({ prompt: 'first' })
    expect(counters.encodes).toBe(encodes)
  })
})
