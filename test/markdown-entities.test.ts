import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { createPipelines, differences, type Pipeline, scanRequests } from './helpers/markdown-processors.js'

// The HTML5 named table as micromark ships it (a transitive dependency, in pnpm's hoisted store).
const TABLE = new URL('../node_modules/.pnpm/node_modules/character-entities/index.js', import.meta.url)

// Numeric references on every boundary of CommonMark's and micromark's rules.
const CODES = [
  0, 1, 8, 9, 10, 11, 13, 31, 32, 38, 60, 65, 127, 128, 150, 159, 160, 233, 0xd7ff, 0xd800, 0xdfff, 0xe000,
  0xfdd0, 0xfdef, 0xfffd, 0xfffe, 0xffff, 0x1f600, 0x1fffe, 0x10ffff, 0x110000, 9_999_999,
]
const NUMERIC = [
  ...CODES.flatMap((c) => [`&#${c};`, `&#x${c.toString(16)};`, `&#X${c.toString(16).toUpperCase()};`]),
  '&#0000065;',
  '&#x000041;',
  '&#12345678;',
  '&#x1234567;',
  '&#;',
  '&#x;',
  '&#65',
]
// Not references to CommonMark: kept as written by every processor.
const NOT_REFERENCES = ['&amp', '&copy 2024', '&ampx;', '&Amp;', '&nosuch;', '&;', '& amp;']

let pipelines: Pipeline[]
let names: string[]

beforeAll(async () => {
  pipelines = await createPipelines()
  const { characterEntities } = (await import(fileURLToPath(TABLE))) as { characterEntities: object }
  names = Object.keys(characterEntities)
})

// References that decode to a quote: curled by remark-smartypants in unified's text nodes.
const TYPED_GAP = new Set(['&quot;', '&QUOT;', '&apos;', '&rsquo;', '&rdquo;'])

/** One image per reference, each in its own paragraph, in every form the scanner reads. */
function page(references: readonly string[], notTyped: ReadonlySet<string> = new Set()): string {
  return references
    .map((ref, i) => {
      const form = notTyped.has(ref) && i % 3 === 1 ? 0 : i % 3
      if (form === 0) return `![x](<flux:p${i} ${ref} q>)`
      if (form === 1) return `![x](flux:p${i} ${ref} q)`
      return `![p${i} ${ref} q](flux:)`
    })
    .join('\n\n')
}

describe('character references give one key per image in scan, Sätteri, unified and MDX', () => {
  it('samples the whole HTML5 named table', () => {
    expect(names.length).toBeGreaterThan(2000)
  })

  for (const [label, pick] of [
    ['every named reference', () => names.map((name) => `&${name};`)],
    ['numeric references and non-references', () => [...NUMERIC, ...NOT_REFERENCES]],
  ] as const) {
    for (const format of ['md', 'mdx'] as const) {
      it(`${label} (.${format}): 1 request per image, the same in each processor`, async () => {
        const references = pick()
        const source = page(references)
        const scanned = scanRequests(source, format === 'mdx')
        expect(scanned).toHaveLength(references.length)
        expect(new Set(scanned).size).toBe(references.length)
        const both = pipelines.filter((p) => p.mdx === (format === 'mdx'))
        expect(both.map((p) => p.name)).toEqual([`satteri .${format}`, `unified .${format}`])
        for (const pipeline of both) {
          // Known gap, left to the unified adapter: it finds the typed form in text nodes that
          // remark has already decoded and remark-smartypants curled (`&quot;` -> `”`), so it
          // reads those three references differently. Sätteri rewrites the source instead.
          const gap = pipeline.name.startsWith('unified') && label === 'every named reference'
          const seen = await pipeline.run(gap ? page(references, TYPED_GAP) : source)
          if (gap) {
            expect(
              differences(scanRequests(page(references, TYPED_GAP), format === 'mdx'), seen ?? []),
            ).toEqual({
              onlyScan: [],
              onlyProcessor: [],
            })
            continue
          }
          expect({ pipeline: pipeline.name, ...differences(scanned, seen ?? []) }).toEqual({
            pipeline: pipeline.name,
            onlyScan: [],
            onlyProcessor: [],
          })
        }
      })
    }
  }
})
