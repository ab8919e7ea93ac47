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
import { checkLocations } from './helpers.js'

// A quadratic step on 100 KB costs seconds; linear scanners take a few milliseconds here.
const SIZE = 100_000
const BOUND_MS = 200

const fill = (unit: string, size = SIZE) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size)

// Units that each stress one part of a scanner when repeated: openers without closers,
// closers without openers, nesting, escapes, fences, tags, comments, quotes, line endings.
const UNITS = [
  '![',
  '[',
  ']',
  '(',
  ')',
  '![a](flux:(',
  '![a](<',
  '![a](<flux:x> "',
  '![a](<flux:x> (',
  '![a](flux:a',
  '](',
  '![a](flux:a)',
  '`',
  '` ',
  '<!--',
  '-->',
  '<img ',
  '<img a="',
  "<img a='x' ",
  '<img src="flux:',
  '<img src=flux:a ',
  '\\',
  '\\`',
  '- ',
  '> ',
  '1. ',
  '    ',
  '\t',
  '```\n',
  '~~~~\n',
  '- ```\n',
  '<div>\n',
  '<pre>\n',
  '{/*',
  '<FluxImage a={',
  '<FluxImage prompt="a" ',
  '/',
  '(/',
  "'",
  '"',
  '`${',
  '${`',
  'import(',
  'import ',
  "from 'flux:",
  '/*',
  '//',
  '<a ',
  '<script>',
  '</',
  '<!',
  '<a b="',
  '{',
  '}',
  'a: ',
  '- - ',
  '? ',
  '&',
  '%',
  '%E9',
  '?',
  '?a=&',
  '?size=1&',
  'flux:',
  '\r',
  '\r\n',
  '\n',
  '\n\n',
  '---\n',
  'import x from "flux:a"\n',
  '<img src="flux:a">',
  '![x](flux:a b c) ',
  '*',
  '&amp;',
]

function ladder(step: (n: number) => string): string {
  let text = ''
  for (let n = 1; text.length < SIZE; n++) text += step(n)
  return text.slice(0, SIZE)
}

const INPUTS: [string, string][] = [
  ...UNITS.map((u): [string, string] => [`${JSON.stringify(u)} repeated`, fill(u)]),
  ['one 100k-character line', 'a'.repeat(SIZE)],
  ['one 100k-character typed directive', `![x](flux:${'a '.repeat(SIZE / 2)})`],
  ['backtick runs of every length', ladder((n) => `${'`'.repeat(n)} x `)],
  ['list items indented ever deeper', ladder((n) => `${' '.repeat(n % 300)}- a\n`)],
  ['block quotes nested ever deeper', ladder((n) => `${'> '.repeat(n % 200)}a\n`)],
  ['brackets nested 50k deep', `${'['.repeat(SIZE / 2)}${']'.repeat(SIZE / 2)}`],
  ['parentheses nested 50k deep', `![a](flux:${'('.repeat(SIZE / 2 - 10)}${')'.repeat(SIZE / 2 - 10)})`],
]

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

/** Milliseconds for one scan; a slow first run is measured again so a GC pause is not a failure. */
function timed(scan: (text: string) => unknown, text: string): number {
  let best = Number.POSITIVE_INFINITY
  for (let attempt = 0; attempt < 2 && best >= BOUND_MS; attempt++) {
    const start = performance.now()
    scan(text)
    best = Math.min(best, performance.now() - start)
  }
  return best
}

describe('adversarial 100 KB inputs finish in linear time', () => {
  it.each(SCANNERS)('%s', (_, scan) => {
    scan(fill('warm up ![a](flux:b) ', 2000))
    const slow: string[] = []
    for (const [label, text] of INPUTS) {
      const ms = timed(scan, text)
      if (ms >= BOUND_MS) slow.push(`${label}: ${ms.toFixed(0)} ms`)
    }
    expect(slow).toEqual([])
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

// The yaml package parses about 1.5 µs per character, so YAML inputs are 20 KB for the same bound.
const YAML_SIZE = 20_000
const YAML_INPUTS: [string, string][] = [
  ...[
    '[',
    '{',
    ']',
    '}',
    '- ',
    '? ',
    '- [',
    'a: {',
    '"',
    "'",
    '![a]',
    'a: ',
    'a:\n',
    '&a ',
    '*a ',
    '|\n',
    '\t',
    '#',
    '- ```\n',
  ].map((u): [string, string] => [`${JSON.stringify(u)} repeated`, fill(u, YAML_SIZE)]),
  ['an indentation ladder', ladder((n) => `${' '.repeat(n % 150)}k${n}:\n`).slice(0, YAML_SIZE)],
  ['nested sequences', ladder((n) => `${'  '.repeat(n % 120)}- "flux: ${n}"\n`).slice(0, YAML_SIZE)],
  ['many directives', ladder((n) => `k${n}: "flux: prompt ${n}?seed=${n}"\n`).slice(0, YAML_SIZE)],
  ['one long line', `title: ${'a'.repeat(YAML_SIZE)}`],
]

describe('adversarial frontmatter', () => {
  it('finishes within the bound, never throws, and reports problems as FLUX_FRONTMATTER', () => {
    scanFrontmatter('---\na: "flux: b"\n---\n', 'a.md')
    const slow: string[] = []
    for (const [label, yaml] of YAML_INPUTS) {
      const text = `---\n${yaml}\n---\n`
      const ms = timed((t) => scanFrontmatter(t, 'a.md'), text)
      if (ms >= BOUND_MS) slow.push(`${label}: ${ms.toFixed(0)} ms`)
      const result = scanFrontmatter(text, 'a.md')
      expect(checkLocations(text, 'a.md', result), label).toBeUndefined()
      expect(
        result.errors.every((e) => e.code === 'FLUX_FRONTMATTER'),
        label,
      ).toBe(true)
    }
    expect(slow).toEqual([])
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
