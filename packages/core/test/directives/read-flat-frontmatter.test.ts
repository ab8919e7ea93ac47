import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isMap, isPair, isScalar, parseDocument, visit } from 'yaml'
import { readFlatFrontmatter } from '../../src/directives/frontmatter/read-flat-frontmatter.js'

/**
 * What the YAML library reads from `yaml`, in the reader's terms: every string value holding `flux`, with its
 * text and its written span (trimmed as a directive's raw text is), or undefined when the reader
 * must not answer (an error, or a top-level `flux` key: the whole block is then an object form).
 */
function byLibrary(yaml: string): { key: unknown; value: string; raw: string }[] | undefined {
  const doc = parseDocument(yaml, { prettyErrors: false })
  if (doc.errors.length > 0) return undefined
  if (isMap(doc.contents) && doc.contents.has('flux')) return undefined
  const values: { key: unknown; value: string; raw: string }[] = []
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('flux')) return
      const [start, end] = node.range ?? [0, 0]
      const pair = path.at(-1)
      const name = isPair(pair) && isScalar(pair.key) ? String(pair.key.value) : undefined
      values.push({ key: name, value: node.value, raw: yaml.slice(start, end).trimEnd() })
    },
  })
  return values
}

function byReader(yaml: string): { key: unknown; value: string; raw: string }[] | undefined {
  return readFlatFrontmatter(yaml)?.map(({ key, value, start, end }) => ({
    key,
    value,
    raw: yaml.slice(start, end).trimEnd(),
  }))
}

/** The reader either steps aside or reads exactly what the library reads. */
function expectSameAsLibrary(yaml: string): boolean {
  const mine = byReader(yaml)
  if (mine !== undefined) expect({ yaml, values: mine }).toEqual({ yaml, values: byLibrary(yaml) })
  return mine !== undefined
}

// Tricky frontmatter: each is either read by the reader exactly as the library reads it, or left
// to the library (the second column says which).
const CORPUS: [string, boolean][] = [
  [
    'title: Post 5\ndate: 2026-01-01\ntags: [coast, walk, 3]\nhero: "flux: A hero, wide?size=1536x1024&alt=Hero 5"\n',
    true,
  ],
  ["cover: 'flux:A boat'\nplain: flux:A gull?seed=7\n", true],
  ['cover: "flux: a" # the hero\nthumb: flux:b   # a comment\n# a line of comment\n\nx:\n', true],
  ['cover: "flux: it\'s here"\nsingle: \'say "flux: no"\'\n', true],
  ['hero: flux:A%20harbour?size=1024x1024\r\ntitle: Crlf\r\n', true],
  ['a: C#sharp flux:x\nb: ~flux:x\nc: /flux:x/\nd: 12\ne: true\nf: null\n', true],
  ['url: https://example.com/flux:x\nhero: flux:a:b\n', true],
  ['title: He said "a flux"\nother: don\'t flux\n', true],
  ['title: He said "flux: no"\n', false], // an error too
  // Left to the library.
  ['hero: flux: A boat\n', false], // an error: a mapping inside a plain value
  ['hero: "flux: a\\"quoted\\""\n', false], // escapes
  ['hero: "flux: a\\x41 \\u00e9"\n', false],
  ["hero: 'flux: it''s'\n", false], // a doubled quote
  ['hero: |\n  flux: A boat\n', false], // a block scalar
  ['hero: >-\n  flux: A boat\n  folded\n', false],
  ['hero: &h "flux: a"\nagain: *h\n', false], // an anchor and an alias
  ['hero: !!str flux:a\n', false], // a tag
  ['flux: A boat\nsize: 1024x1024\n', false], // the object form at the top
  ['hero: "flux: a"\nhero: "flux: b"\n', false], // a key twice
  ['true: flux:a\nTrue: flux:b\n', false],
  ['hero:\n  flux: A boat\n', false], // nested
  ['list:\n- flux:a\n', false],
  ['hero: "flux: a\n  continued"\n', false], // a quoted value over two lines
  ['hero: flux:a\n  continued\n', false], // a plain value over two lines
  ['hero:\t"flux: a"\n', false], // a tab
  ['hero: ["flux: a", b]\n', false], // a list that could hold a directive
  ['hero: "flux: a"x\n', false],
  ['hero: "flux: a"#x\n', false],
  ['"hero": "flux: a"\n', false],
  ['hero : "flux: a"\n', false],
  ['%YAML 1.1\n---\nhero: flux:a\n', false],
  ['hero: @flux:a\n', false],
  ['hero: `flux:a`\n', false],
  ['hero: flux:a:\n', false],
  ['hero: "flux: a"\n\u00a0\n', false],
  ['hero: "flux: \ufeffa"\n', false],
  ['\ufeffhero: flux:a\n', false],
  ['hero: flux:a\rtitle: x\n', false],
]

describe('readFlatFrontmatter', () => {
  it.each(CORPUS)('reads %j as the YAML library does (or steps aside)', (yaml, read) => {
    expect(expectSameAsLibrary(yaml)).toBe(read)
  })

  it('reads random frontmatter made of tricky pieces as the YAML library does, or steps aside', () => {
    const keys = ['title', 'hero', 'hero', 'flux', 'null', 'True', 'a-b', '"q"', ' hero', '- hero', '#c', '']
    const colons = [': ', ':', ':  ', ' : ', ':\t']
    const values = [
      '"flux: a"',
      "'flux:b'",
      'flux:c?size=1024x1024',
      'flux: d',
      'Post 5',
      'x #c',
      'x#c',
      '"a" # c',
      '[a, b]',
      '[a, "flux: e"]',
      '["a, b"]',
      '[]',
      '{ flux: f }',
      '|',
      '>-',
      '&a flux:g',
      '*a',
      '!!str flux:h',
      '"a\\"b"',
      '"flux: \\x41"',
      "'it''s'",
      '',
      '~',
      '- flux:i',
      'a: b',
      'https://x/flux:j',
      'flux:k:',
      '"flux: l',
      '@x',
      '12',
      'true',
    ]
    const line = fc.oneof(
      fc
        .tuple(fc.constantFrom(...keys), fc.constantFrom(...colons), fc.constantFrom(...values))
        .map((p) => p.join('')),
      fc.constantFrom('', '# comment', '  flux:m', '  - n', '\tx: y', ' ', '\u00a0'),
    )
    const endings = fc.constantFrom('\n', '\r\n', '\r')
    let read = 0
    fc.assert(
      fc.property(fc.array(fc.tuple(line, endings), { maxLength: 6 }), (lines) => {
        if (expectSameAsLibrary(lines.map(([l, e]) => l + e).join(''))) read++
      }),
      { numRuns: 3000, seed: 24 },
    )
    // Most random blocks hold something the reader leaves alone; with this seed, 591 are read and
    // compared (fewer would mean the reader steps aside more, or the pieces changed).
    expect(read).toBe(591)
  })
})
