import { join } from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { scanSource } from '../../src/directives/index.js'
import { FluxError, fluxError } from '../../src/errors.js'
import type { MarkdownNode } from '../../src/markdown/markdown-images.js'
import { markdownImages } from '../../src/markdown/markdown-images.js'
import type { ImageResult } from '../../src/optimize/index.js'
import type { Directive, ParsedDirective } from '../../src/types.js'

// What the module does on its own: scans of markdown text and parses of a directive, counted.
const counts = vi.hoisted(() => ({ scans: 0, parses: 0 }))
vi.mock('../../src/directives/markdown/scan-markdown.js', async (load) => {
  const real = await load<typeof import('../../src/directives/markdown/scan-markdown.js')>()
  return {
    ...real,
    scanMarkdown: (...args: Parameters<typeof real.scanMarkdown>) => {
      counts.scans++
      return real.scanMarkdown(...args)
    },
  }
})
vi.mock('../../src/directives/grammar/parse-directive.js', async (load) => {
  const real = await load<typeof import('../../src/directives/grammar/parse-directive.js')>()
  return {
    ...real,
    parseDirective: (...args: Parameters<typeof real.parseDirective>) => {
      counts.parses++
      return real.parseDirective(...args)
    },
  }
})

const ROOT = '/site'
const FILE = join(ROOT, 'post.md')
// The file as the scan reads it; the body as a host hands it to its parser (frontmatter removed).
const FRONTMATTER = '---\nhero: "flux:A hero on a hill"\n---\n'
const BODY =
  'See ![A kite](flux:a-kite) and ![A lake](flux:a quiet lake) and ![<b>x</b>](flux:a b c) then ![1](flux:one two)![2](flux:three four).\n'

type Node = MarkdownNode & { children?: Node[]; prompt?: string }

/** A paragraph of `source` from its parts, each node spanning its text, in order, as a parser gives them. */
function paragraph(source: string, parts: [type: string, text: string, extra?: Partial<Node>][]): Node {
  let at = 0
  const children = parts.map(([type, text, extra]) => {
    const start = source.indexOf(text, at)
    at = start + text.length
    return {
      type,
      ...(type === 'text' || type === 'html' ? { value: text } : {}),
      ...extra,
      position: { start: { line: 1, column: start + 1, offset: start }, end: { offset: at } },
    }
  })
  const end = at
  return {
    type: 'paragraph',
    children,
    position: { start: { offset: 0, line: 1, column: 1 }, end: { offset: end } },
  }
}

const tree = (): Node => ({
  type: 'root',
  children: [
    paragraph(BODY, [
      ['text', 'See '],
      ['image', '![A kite](flux:a-kite)', { url: 'flux:a-kite', alt: 'A kite' }],
      ['text', ' and ![A lake](flux:a quiet lake) and !['],
      ['html', '<b>'],
      ['text', 'x'],
      ['html', '</b>'],
      ['text', '](flux:a b c) then ![1](flux:one two)![2](flux:three four).'],
    ]),
  ],
})

/** A session over `indexed` (the directives a build's scan found), recording what it is asked. */
function session(indexed: Directive[] | undefined, fail = false) {
  const asked: (ParsedDirective & { location?: unknown })[] = []
  return {
    asked,
    options: { root: ROOT },
    directivesIn: async (file: string) => (file === FILE ? indexed : undefined),
    async image(input: unknown): Promise<ImageResult> {
      const directive = input as ParsedDirective & { location?: unknown }
      asked.push(directive)
      if (fail) throw fluxError('FLUX_MODERATED', { detail: 'refused' })
      const alt = directive.params.alt ?? ''
      return {
        prompt: directive.prompt,
        alt,
        src: '/x.jpg',
        srcset: '',
        sources: [],
        width: 1,
        height: 1,
      } as unknown as ImageResult
    },
  }
}

const host = {
  picture: (_: unknown, image: ImageResult): Node => ({
    type: 'picture',
    prompt: image.prompt,
    alt: image.alt,
  }),
  text: (value: string): Node => ({ type: 'text', value }),
  setChildren(parent: Node, children: Node[]) {
    parent.children = children
  },
}

const shown = (root: Node) =>
  ((root.children?.[0]?.children ?? []) as Node[]).map((n) =>
    n.type === 'picture' ? [n.prompt, n.alt] : n.value,
  )

const EXPECTED = [
  'See ',
  ['a-kite', 'A kite'],
  ' and ',
  ['a quiet lake', 'A lake'],
  ' and ',
  ['a b c', '<b>x</b>'],
  ' then ',
  ['one two', '1'],
  ['three four', '2'],
  '.',
]

beforeEach(() => {
  counts.scans = 0
  counts.parses = 0
})

describe('markdownImages', () => {
  it("finds each image by its offsets among the index's directives: no scan, no parse, the body moved by its frontmatter", async () => {
    const indexed = scanSource('post.md', FRONTMATTER + BODY).directives
    expect(indexed).toHaveLength(6)
    counts.parses = 0
    const s = session(indexed)
    const root = tree()
    await markdownImages(() => s, { file: FILE, source: BODY }, root, host)
    expect(shown(root)).toEqual(EXPECTED)
    expect(counts).toEqual({ scans: 0, parses: 0 })
    // The directives themselves, located at each image's `![` on the file's own line 4.
    expect(s.asked.map((d) => d.location)).toEqual(
      ['![A kite', '![A lake', '![<b>', '![1', '![2'].map((image) => ({
        file: 'post.md',
        line: 4,
        column: BODY.indexOf(image) + 1,
      })),
    )
  })

  it('moves the body by where its images are, not by the first text that reads like a directive', async () => {
    // The image's whole directive (`flux:`, its prompt the alt) is also written as code before it.
    const body = 'Every picture is a `flux:` prompt.\n\n![Binoculars on a blanket](flux:)\n'
    const image = '![Binoculars on a blanket](flux:)'
    const indexed = scanSource('post.md', FRONTMATTER + body).directives
    counts.parses = 0
    const s = session(indexed)
    const root: Node = {
      type: 'root',
      children: [paragraph(body.slice(0, body.indexOf(image) + image.length), [])],
    }
    const images = root.children?.[0] as Node
    const start = body.indexOf(image)
    images.position = { start: { offset: start, line: 3, column: 1 }, end: { offset: start + image.length } }
    images.children = [
      {
        type: 'image',
        url: 'flux:',
        alt: 'Binoculars on a blanket',
        position: { start: { offset: start, line: 3, column: 1 }, end: { offset: start + image.length } },
      },
    ]
    await markdownImages(() => s, { file: FILE, source: body }, root, host)
    expect(shown(root)).toEqual([['Binoculars on a blanket', 'Binoculars on a blanket']])
    expect(counts).toEqual({ scans: 0, parses: 0 })
    expect(s.asked.map((d) => d.location)).toEqual([{ file: 'post.md', line: 6, column: 1 }])
  })

  it('scans the source once where no scan saw the file (dev), and finds the same images', async () => {
    const s = session(undefined)
    const root = tree()
    await markdownImages(() => s, { file: FILE, source: BODY }, root, host)
    expect(shown(root)).toEqual(EXPECTED)
    expect(counts.scans).toBe(1)
    expect(s.asked).toHaveLength(5)
  })

  it('an index that does not match the source (a file changed since the scan) is not trusted', async () => {
    const stale = scanSource('post.md', `${FRONTMATTER}![A kite](flux:an-old-kite)\n`).directives
    const s = session(stale)
    const root = tree()
    await markdownImages(() => s, { file: FILE, source: BODY }, root, host)
    expect(shown(root)).toEqual(EXPECTED)
    expect(counts.scans).toBe(1)
  })

  it('a failure is a FluxError located at the image: file:line:column', async () => {
    const source = 'One\nand ![x](flux:a b) two\n'
    const root: Node = {
      type: 'root',
      children: [
        {
          type: 'paragraph',
          position: { start: { offset: 0 }, end: { offset: source.length - 1 } },
          children: [
            {
              type: 'text',
              value: source.slice(0, -1),
              position: { start: { offset: 0 }, end: { offset: source.length - 1 } },
            },
          ],
        },
      ],
    }
    const err = await markdownImages(() => session(undefined, true), { file: FILE, source }, root, host).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(FluxError.is(err)).toBe(true)
    expect((err as FluxError).location).toEqual({ file: 'post.md', line: 2, column: 5 })
    expect(String(err)).toContain('post.md:2:5')
  })

  it('a source without `flux:` costs nothing: not even the session', async () => {
    const getSession = vi.fn()
    await markdownImages(
      getSession,
      { file: FILE, source: 'No images.' },
      { type: 'root', children: [] },
      host,
    )
    expect(getSession).not.toHaveBeenCalled()
  })
})
