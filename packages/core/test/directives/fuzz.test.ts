import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DIRECTIVE_KEYS,
  formatDirective,
  type ScanResult,
  scanAstro,
  scanCode,
  scanFrontmatter,
  scanHtml,
  scanMarkdown,
  scanSource,
} from '../../src/directives/index.js'
import type { DirectiveParams, ParsedDirective } from '../../src/types.js'
import { checkLocations } from './helpers.js'

type Scanner = (text: string) => ScanResult

const SCANNERS: [string, string, Scanner][] = [
  ['markdown', 'a.md', (t) => scanMarkdown(t, 'a.md')],
  ['mdx', 'a.mdx', (t) => scanMarkdown(t, 'a.mdx')],
  ['frontmatter', 'a.md', (t) => scanFrontmatter(t, 'a.md')],
  ['html', 'a.html', (t) => scanHtml(t, 'a.html')],
  ['code', 'a.ts', (t) => scanCode(t, 'a.ts')],
  ['astro', 'a.astro', (t) => scanAstro(t, 'a.astro')],
  ['svelte', 'a.svelte', (t) => scanSource('a.svelte', t)],
  ['md source', 'a.md', (t) => scanSource('a.md', t)],
]

// The grammar's own tokens, and the syntax around it, so that random text hits the edge cases.
const TOKENS = [
  '![',
  '](',
  ')',
  '(',
  '[',
  ']',
  '<',
  '>',
  '<flux:',
  'flux:',
  'flux: ',
  '?',
  '&',
  '=',
  '%',
  '%20',
  '%E9',
  'size=1',
  'alt=',
  'sise=',
  '`',
  '``',
  '```',
  '~~~',
  '\\',
  '"',
  "'",
  '---',
  '---\n',
  '...',
  '\n',
  '\r\n',
  '\r',
  '\n\n',
  ' ',
  '    ',
  '\t',
  '- ',
  '> ',
  '1. ',
  '#',
  '<!--',
  '-->',
  '<img ',
  'src=',
  'alt=',
  '/>',
  '<script>',
  '</script>',
  '<style>',
  '<div>',
  '<pre>',
  '{',
  '}',
  '{/*',
  '*/}',
  '${',
  '/*',
  '*/',
  '//',
  '/',
  'import ',
  'export ',
  ' from ',
  'import(',
  '<FluxImage ',
  'prompt=',
  'seed={1}',
  ': ',
  'a',
  'cat',
  'é',
  '😀',
  '\u2028',
  '&amp;',
  '&#x3F;',
  'flux:)',
  '[a]',
]
const tokenText = (maxLength: number) => fc.string({ unit: fc.constantFrom(...TOKENS), maxLength })
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), tokenText(300))

/** Runs a scanner and checks what must hold for any input. */
function scanChecked(name: string, file: string, scan: Scanner, text: string): ScanResult {
  const result = scan(text)
  const problem = checkLocations(text, file, result)
  if (problem !== undefined) throw new Error(`${name}: ${problem}`)
  for (const error of result.errors) {
    // FLUX_INVALID_DIRECTIVE would mean the never-throw safety net caught a bug.
    if (error.code !== 'FLUX_FRONTMATTER') throw new Error(`${name}: unexpected ${error.message}`)
  }
  return result
}

describe('every scanner on random text', () => {
  it.each(SCANNERS)('%s never throws and keeps raw text at each location', (name, file, scan) => {
    fc.assert(
      fc.property(anyText, (text) => {
        scanChecked(name, file, scan, text)
        scanChecked(name, file, scan, `---\n${text}\n---\n${text}`)
      }),
      { numRuns: 300 },
    )
  })
})

// Printable text for the end-to-end properties (YAML refuses control characters).
const printable = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 15 }),
  fc.string({ unit: fc.constantFrom(...TOKENS), maxLength: 8 }),
)
const directive: fc.Arbitrary<ParsedDirective> = fc.record({
  prompt: printable.map((s) => s.trim()),
  params: fc.record(
    Object.fromEntries(DIRECTIVE_KEYS.map((k) => [k, printable])) as Record<
      keyof DirectiveParams,
      fc.Arbitrary<string>
    >,
    { requiredKeys: [] },
  ),
})
const parsedOf = (result: ScanResult) =>
  result.directives.map((d) => ({ prompt: d.prompt, params: d.params }))
const htmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const mdEscape = (s: string) => s.replace(/[\\<>&`]/g, '\\$&')

describe('formatted directives survive every way of writing them in a file', () => {
  it('in frontmatter, code, HTML and a markdown angle destination', () => {
    fc.assert(
      fc.property(directive, (d) => {
        const text = formatDirective(d)
        const expected = [{ prompt: d.prompt, params: d.params }]
        expect(parsedOf(scanFrontmatter(`---\ncover: ${JSON.stringify(text)}\n---\n`, 'a.md'))).toEqual(
          expected,
        )
        expect(parsedOf(scanCode(`import x from ${JSON.stringify(text)}`, 'a.ts'))).toEqual(expected)
        expect(parsedOf(scanHtml(`<img src="${htmlEscape(text)}">`, 'a.html'))).toEqual(expected)
        if (!/[\r\n]/.test(text))
          expect(parsedOf(scanMarkdown(`![](<${mdEscape(text)}>)`, 'a.md'))).toEqual(expected)
      }),
      { numRuns: 500 },
    )
  })
})
