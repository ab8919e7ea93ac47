import { describe, expect, it } from 'vitest'
import { scanFrontmatter } from '../../src/directives/index.js'
import { checkLocations, rows } from './helpers.js'

const fm = (text: string) => {
  const result = scanFrontmatter(text, 'post.md')
  expect(checkLocations(text, 'post.md', result)).toBeUndefined()
  return result
}

describe('scanFrontmatter: missing', () => {
  it.each([
    ['no frontmatter', '# Title\ncover: "flux: a"\n'],
    ['a fence that is not on the first line', '\n---\ncover: "flux: a"\n---\n'],
    ['an unclosed fence', '---\ncover: "flux: a"\n'],
    ['an empty file', ''],
  ])('finds nothing with %s', (_, text) => {
    expect(fm(text)).toEqual({ directives: [], errors: [] })
  })
})

describe('scanFrontmatter: empty', () => {
  it('accepts empty frontmatter and frontmatter without directives', () => {
    expect(fm('---\n---\nbody')).toEqual({ directives: [], errors: [] })
    expect(fm('---\ntitle: Harbour notes\ncover: ./a.png\ntags: [a, b]\n---\n')).toEqual({
      directives: [],
      errors: [],
    })
  })
})

describe('scanFrontmatter: valid', () => {
  it('reads string values, quoted or not, with or without a space after `flux:`', () => {
    const text = [
      '---',
      'title: Harbour notes',
      'cover: "flux: A lighthouse at dawn, watercolor?size=1536x1024"',
      "thumb: 'flux:A boat'",
      'plain: flux:A gull?seed=7',
      '---',
    ].join('\n')
    expect(rows(fm(text))).toEqual([
      ['frontmatter', 3, 8, 'A lighthouse at dawn, watercolor', { size: '1536x1024' }],
      ['frontmatter', 4, 8, 'A boat', {}],
      ['frontmatter', 5, 8, 'A gull', { seed: '7' }],
    ])
  })

  it('keeps the value as written in raw', () => {
    expect(fm('---\ncover: "flux: a"\n---\n').directives[0]?.raw).toBe('"flux: a"')
  })

  it('finds values nested in maps and sequences at any depth, but not keys', () => {
    const text = [
      '---',
      'gallery:',
      '  - flux:one',
      '  - caption: x',
      '    images:',
      '      - [a, "flux: two"]',
      '"flux: a key": not a directive',
      '---',
    ].join('\n')
    expect(rows(fm(text))).toEqual([
      ['frontmatter', 3, 5, 'one', {}],
      ['frontmatter', 6, 13, 'two', {}],
    ])
  })

  it('reads the object form; its fields win over the query, numbers become strings, other keys are ignored', () => {
    const text = [
      '---',
      'hero:',
      '  flux: A lighthouse?size=1024x1024&model=flux-dev',
      '  size: 1536x1024',
      '  seed: 42',
      '  quality: hd',
      '  alt: The lighthouse',
      '  caption: ignored',
      'flow: { flux: "A boat", seed: 12345678901234567890 }',
      '---',
    ].join('\n')
    const result = fm(text)
    expect(rows(result)).toEqual([
      [
        'frontmatter',
        3,
        3,
        'A lighthouse',
        { size: '1536x1024', model: 'flux-dev', seed: '42', quality: 'hd', alt: 'The lighthouse' },
      ],
      ['frontmatter', 9, 7, 'A boat', { seed: '12345678901234567890' }],
    ])
    expect(result.directives[1]?.raw).toBe('{ flux: "A boat", seed: 12345678901234567890 }')
  })

  it('reads `ref` in the object form as one path or a list of paths, in order', () => {
    expect(
      rows(
        fm(
          '---\nhero: { flux: "a harbour", ref: [./a.png, "b c.png"] }\nlogo: { flux: a logo, ref: ./l.png }\n---\n',
        ),
      ),
    ).toEqual([
      ['frontmatter', 2, 7, 'a harbour', { ref: ['./a.png', 'b c.png'] }],
      ['frontmatter', 3, 7, 'a logo', { ref: './l.png' }],
    ])
  })

  it('accepts an object whose flux value already has the scheme', () => {
    expect(rows(fm('---\nhero: { flux: "flux: a?seed=1", size: 2 }\n---\n'))).toEqual([
      ['frontmatter', 2, 7, 'a', { seed: '1', size: '2' }],
    ])
  })

  it('does not take an object whose flux value is not text for a directive, but looks inside it', () => {
    expect(rows(fm('---\nhero:\n  flux:\n    - "flux: inner"\n---\n'))).toEqual([
      ['frontmatter', 4, 7, 'inner', {}],
    ])
  })

  it('reads block scalars and CRLF files, and a BOM does not shift columns', () => {
    const text = '\ufeff---\r\ncover: >-\r\n  flux: A folded\r\n  prompt\r\nnext: "flux: b"\r\n---\r\n'
    const result = fm(text)
    expect(rows(result)).toEqual([
      ['frontmatter', 2, 8, 'A folded prompt', {}],
      ['frontmatter', 5, 7, 'b', {}],
    ])
  })

  it('reports an anchored value once, not again at each alias', () => {
    expect(rows(fm('---\na: &x "flux: a"\nb: *x\nc: [*x]\n---\n'))).toEqual([['frontmatter', 2, 7, 'a', {}]])
  })

  it('carries unknown options of the object form', () => {
    expect(fm('---\nhero: { flux: "a?sise=1", size: 2 }\n---\n').directives[0]).toMatchObject({
      prompt: 'a?sise=1',
      params: { size: '2' },
      unknownParams: ['sise'],
    })
  })

  it('closes on `...` as well as `---`', () => {
    expect(rows(fm('---\na: "flux: x"\n...\n---\n'))).toEqual([['frontmatter', 2, 4, 'x', {}]])
  })
})

describe('scanFrontmatter: invalid', () => {
  it('reports malformed YAML at the line of the problem, with no directives and no throw', () => {
    const result = fm('---\ntitle: ok\ncover: "flux: a"\ntags: [a, b\nnext: 1\n---\nbody')
    expect(result.directives).toEqual([])
    expect(result.errors).toHaveLength(1)
    const [error] = result.errors
    expect(error?.code).toBe('FLUX_FRONTMATTER')
    expect(error?.location).toEqual({ file: 'post.md', line: 5, column: 1 })
    expect(error?.message).toMatch(/^\[flux\] post\.md:5:1: The frontmatter could not be parsed: /)
    expect(error?.hint).toMatch(/Fix the YAML/)
  })

  it('reports duplicate keys', () => {
    const result = fm('---\na: 1\na: "flux: x"\n---\n')
    expect(result.errors.map((e) => [e.code, e.location?.line])).toEqual([['FLUX_FRONTMATTER', 3]])
  })

  it('refuses absurdly deep nesting instead of overflowing the stack', () => {
    for (const yaml of ['['.repeat(5000), `${'- '.repeat(3000)}x`, `a: ${'{a: '.repeat(2000)}`]) {
      const result = fm(`---\n${yaml}\nhero: "flux: a lighthouse"\n---\n`)
      expect(result.errors.map((e) => e.code)).toEqual(['FLUX_FRONTMATTER'])
      expect(result.errors[0]?.location?.line).toBe(2)
    }
  })

  it('leaves frontmatter without "flux" unparsed: its problems are not ours to report', () => {
    for (const yaml of ['['.repeat(5000), 'title: [unclosed', 'a: b: c']) {
      expect(fm(`---\n${yaml}\n---\n`)).toMatchObject({ directives: [], errors: [] })
    }
    expect(fm(`---\ntitle: [unclosed\nhero: "flux: x"\n---\n`).errors.map((e) => e.code)).toEqual([
      'FLUX_FRONTMATTER',
    ])
  })

  it('accepts ordinary nesting and apostrophes in plain text', () => {
    const result = fm(`---\nnote: don't [stop]\nx: ${'['.repeat(20)}"flux: deep"${']'.repeat(20)}\n---\n`)
    expect(result.errors).toEqual([])
    expect(rows(result).map((r) => r[3])).toEqual(['deep'])
  })
})
