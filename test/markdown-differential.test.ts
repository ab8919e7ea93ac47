import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { createPipelines, differences, type Pipeline, scanRequests } from './helpers/markdown-processors.js'

/**
 * The pre-build scan and what each processor renders must ask for the same images: an image
 * found by one and missed or changed by the other is paid twice, or shown unresolved. Generated
 * `.md` and `.mdx` bodies put directives in the awkward places of CommonMark and MDX.
 */

let pipelines: Pipeline[]
beforeAll(async () => {
  pipelines = await createPipelines()
})

/** One processor's two pipelines, `.md` then `.mdx`: a renamed one must not leave a test looping over nothing. */
function processor(name: 'satteri' | 'unified'): Pipeline[] {
  const found = pipelines.filter((p) => p.name.startsWith(`${name} `))
  expect(found.map((p) => p.name)).toEqual([`${name} .md`, `${name} .mdx`])
  return found
}

/** The scan and `pipeline` ask for the same `images` requests (a processor refusing the source fails). */
async function expectSame(source: string, pipeline: Pipeline, images: number): Promise<void> {
  const scanned = scanRequests(source, pipeline.mdx)
  expect(scanned, `${pipeline.name}: the scan of ${JSON.stringify(source)}`).toHaveLength(images)
  const seen = await pipeline.run(source)
  expect(seen, `${pipeline.name} renders ${JSON.stringify(source)}`).toBeDefined()
  expect(differences(scanned, seen ?? [])).toEqual({ onlyScan: [], onlyProcessor: [] })
}

// Pieces of prompts and alt texts; `mdx` leaves out `<`, `>`, `{` (MDX syntax, checked apart).
const piece = (mdx: boolean) =>
  fc.constantFrom(
    'lighthouse',
    'at dawn',
    'Café',
    'What if?',
    '&amp;',
    '&eacute;',
    '&frac12;',
    '&#233;',
    '&#x27;',
    '&amp',
    '\\)',
    '\\]',
    '\\*',
    '\\&amp;',
    '[b]',
    '(c)',
    '50%',
    '%20',
    '"q"',
    '?size=1536x1024',
    '?model=flux-schnell&size=1344x768',
    ...(mdx ? [] : ['<x>', '&lt;']),
  )

const text = (mdx: boolean, max: number) =>
  fc.array(piece(mdx), { minLength: 1, maxLength: max }).map((pieces) => pieces.join(' '))

const image = (mdx: boolean) =>
  fc
    .tuple(
      text(mdx, 3),
      text(mdx, 4),
      fc.constantFrom('angle', 'encoded', 'empty', 'plain', 'typed'),
      fc.constantFrom('', ' "title"', " 'title'", ' (title)'),
    )
    .map(([alt, prompt, form, title]) => {
      if (form === 'angle') return `![${alt}](<flux:${prompt}>${title})`
      if (form === 'encoded') return `![${alt}](flux:${encodeURIComponent(prompt)}${title})`
      // Typed form: no inline HTML in it (a known gap of the unified adapter, below).
      if (form === 'typed')
        return `![${alt.replace(/<x>|\\\]/g, 'x')}](flux:${prompt.replace(/[()]|<x>|\\[\])]/g, '')})`
      if (form === 'empty') return `![${alt.replace(/\?/g, '')}](flux:${title})`
      // One word, no space: what CommonMark itself reads as a destination.
      return `![${alt}](flux:${prompt.replace(/[\s()<>\\]/g, '-')}${title})`
    })

/** A block holding an image (or two) in one of the places markdown treats specially. */
const block = (mdx: boolean) =>
  fc
    .tuple(
      image(mdx),
      image(mdx),
      fc.constantFrom(
        'paragraph',
        'two',
        'list',
        'ordered',
        'quote',
        'heading',
        'table',
        'fence',
        'tilde',
        'span',
        'reference',
        'emphasis',
        'link',
        ...(mdx ? ['expression', 'comment', 'esm'] : ['indented', 'html', 'htmlcomment']),
      ),
    )
    .map(([a, b, place]) => {
      switch (place) {
        case 'two':
          return `${a} and ${b}`
        case 'list':
          return `- ${a}\n- ${b}`
        case 'ordered':
          return `1. ${a}\n\n   ${b}`
        case 'quote':
          return `> ${a}\n> ${b}`
        case 'heading':
          return `## ${a}`
        case 'table':
          return `| h |\n| --- |\n| ${a} |`
        case 'fence':
          return `\`\`\`md\n${a}\n\`\`\``
        case 'tilde':
          return `~~~\n${a}\n~~~\n\n${b}`
        case 'span':
          return `\`${a}\` ${b}`
        case 'reference':
          // An unused definition; images that use one are a known gap (below).
          return `[r]: <flux:a reference>\n\n${a} [r]`
        case 'emphasis':
          return `*${a}* **${b}**`
        case 'link':
          return `[${a}](https://example.com "t")`
        case 'expression':
          return `{1 + 1} ${a}`
        case 'comment':
          return `{/* ${a} */} ${b}`
        case 'esm':
          return `export const x = 1\n\n${a}`
        case 'indented':
          return `    ${a}\n\n${b}`
        case 'html':
          return `<div>\n${a}\n</div>\n\n${b}`
        case 'htmlcomment':
          return `<!-- ${a} -->\n\n${b}`
        default:
          return a
      }
    })

const document = (mdx: boolean) =>
  fc.array(block(mdx), { minLength: 1, maxLength: 4 }).map((b) => b.join('\n\n'))

// Each run renders one document through two processors; 60 runs per format keep the file near 10 s.
const RUNS = 60

describe('the pre-build scan asks for what each processor renders (fast-check)', () => {
  for (const mdx of [false, true]) {
    it(`.${mdx ? 'mdx' : 'md'}: the same requests from the scan and from Sätteri and unified`, async () => {
      let compared = 0
      await fc.assert(
        fc.asyncProperty(document(mdx), async (source) => {
          const scanned = scanRequests(source, mdx)
          const both = pipelines.filter((p) => p.mdx === mdx)
          expect(both.map((p) => p.name)).toEqual([
            `satteri .${mdx ? 'mdx' : 'md'}`,
            `unified .${mdx ? 'mdx' : 'md'}`,
          ])
          for (const pipeline of both) {
            const seen = await pipeline.run(source)
            // An MDX source the processor refuses fails the build: nothing to compare.
            if (seen === undefined) continue
            compared++
            expect({ pipeline: pipeline.name, source, ...differences(scanned, seen) }).toEqual({
              pipeline: pipeline.name,
              source,
              onlyScan: [],
              onlyProcessor: [],
            })
          }
        }),
        { numRuns: RUNS },
      )
      // Most generated documents are valid for both processors: the comparison did happen.
      expect(compared).toBeGreaterThan(RUNS)
    })
  }
})

describe('gaps found by the differential test, closed', () => {
  // Was a known gap: Sätteri's adapter rewrote the typed form in paragraphs only. A heading's
  // source (its `#` marks or its underline) parses back as the heading.
  it('Sätteri: the typed form in a heading', async () => {
    for (const source of ['## ![x](flux:a lighthouse at dawn)', 'A ![x](flux:a lighthouse at dawn)\n===\n']) {
      for (const pipeline of processor('satteri')) await expectSame(source, pipeline, 1)
    }
  })

  // Were known gaps: the unescaped text shows other images than the source (`flux:\\)` reads
  // `flux:)`, `\\]` closes the alt early), so the adapter could not pair them and left the text
  // node alone, typed image included. The source's images are used then, the text around them
  // decoded from the source.
  it('unified: a typed image after an escaped parenthesis in the same text', async () => {
    const source = '![x](flux:\\) and ![x](flux:a lighthouse at dawn)'
    for (const pipeline of processor('unified')) await expectSame(source, pipeline, 1)
  })

  // Was a known gap: inline markup inside the typed form (an HTML tag) split it over several nodes
  // and the unified adapter, which looked in one text node, missed it. Core's markdownImages
  // replaces the nodes the image spans, whatever they are.
  it('unified: the typed form holding inline HTML, in .md (MDX refuses the tag: nothing paid)', async () => {
    const source = '![<x>](flux:a lighthouse at dawn)'
    const [md, mdx] = processor('unified') as [Pipeline, Pipeline]
    await expectSame(source, md, 1)
    expect(await mdx.run(source)).toBeUndefined()
    await expectSame(source, processor('satteri')[0] as Pipeline, 1)
  })

  it('unified: the typed form with an escaped bracket in its alt', async () => {
    const source = '![\\]](flux:a lighthouse at dawn)'
    for (const pipeline of processor('unified')) await expectSame(source, pipeline, 1)
  })
})

// Each pins the difference as it is today: fixing a gap (or any other change) fails its test, which
// then moves to the closed gaps above.
describe('known gaps, found by the differential test and left to the adapters', () => {
  // Reference-style images: every processor renders `![x][r]` with `[r]: <flux:...>` as an
  // unresolved `<img src="flux:...">`, and neither core's scanner nor the adapters' image hooks
  // (Sätteri's `image`, remark's `image` nodes) read them. Needs definitions in the scanner and
  // `imageReference` in both adapters.
  it('reference-style images with a flux: definition: shown unresolved, never scanned', async () => {
    const source = '[r]: <flux:a reference>\n\n![x][r]'
    for (const pipeline of [...processor('satteri'), ...processor('unified')]) {
      expect(differences(scanRequests(source, pipeline.mdx), (await pipeline.run(source)) ?? [])).toEqual({
        onlyScan: [],
        onlyProcessor: scanRequests('![x](<flux:a reference>)', pipeline.mdx),
      })
    }
  })
})
