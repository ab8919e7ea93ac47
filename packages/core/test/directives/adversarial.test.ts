import { describe, expect, it } from 'vitest'
import {
  parseDirective,
  type ScanResult,
  scanAstro,
  scanCode,
  scanFrontmatter,
  scanHtml,
  scanMarkdown,
  scanSource,
} from '../../src/directives/index.js'
import { INPUTS, SIZE, YAML_INPUTS } from './adversarial-inputs.js'
import { checkLocations } from './helpers.js'

const SCANNERS: [string, (text: string) => ScanResult | undefined][] = [
  ['scanMarkdown', (t) => scanMarkdown(t, 'a.md')],
  ['scanMarkdown (MDX)', (t) => scanMarkdown(t, 'a.mdx')],
  ['scanHtml', (t) => scanHtml(t, 'a.html')],
  ['scanCode', (t) => scanCode(t, 'a.ts')],
  ['scanAstro', (t) => scanAstro(t, 'a.astro')],
  ['scanSource (svelte)', (t) => scanSource('a.svelte', t)],
  [
    'parseDirective',
    (t) => {
      parseDirective(`flux:${t}`)
      return undefined
    },
  ],
]

// How long each takes is measured by `pnpm bench scanners` (BENCHMARKS.md), not here: a test
// that fails on a busy machine is a bug.
describe('adversarial 100 KB inputs', () => {
  it.each(SCANNERS)('%s finishes on every one without throwing', (_, scan) => {
    for (const [label, text] of INPUTS) expect(() => scan(text), label).not.toThrow()
  })

  it('keeps the location invariant on the inputs that contain directives', () => {
    for (const [label, text] of INPUTS) {
      const result = scanMarkdown(text, 'a.md')
      expect(checkLocations(text, 'a.md', result), label).toBeUndefined()
    }
  })

  it('reads the 100k-character typed directive whole', () => {
    const text = `![x](flux:${'a '.repeat(SIZE / 2)})`
    expect(scanMarkdown(text, 'a.md').directives[0]?.prompt).toHaveLength(SIZE - 1)
  })
})

describe('adversarial frontmatter', () => {
  it('never throws, and reports problems as FLUX_FRONTMATTER', () => {
    for (const [label, yaml] of YAML_INPUTS) {
      const text = `---\n${yaml}\n---\n`
      const result = scanFrontmatter(text, 'a.md')
      expect(checkLocations(text, 'a.md', result), label).toBeUndefined()
      expect(
        result.errors.every((e) => e.code === 'FLUX_FRONTMATTER'),
        label,
      ).toBe(true)
    }
  })

  it('finds every directive of a large valid frontmatter', () => {
    const yaml = Array.from({ length: 500 }, (_, n) => `k${n}: "flux: prompt ${n}?seed=${n}"`).join('\n')
    const result = scanFrontmatter(`---\n${yaml}\n---\n`, 'a.md')
    expect(result.directives).toHaveLength(500)
    expect(result.directives[499]).toMatchObject({
      prompt: 'prompt 499',
      params: { seed: '499' },
      location: { line: 501 },
    })
  })
})
