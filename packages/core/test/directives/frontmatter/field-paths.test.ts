import { describe, expect, it } from 'vitest'
import { fieldDirective, writtenField } from '../../../src/directives/frontmatter/field-directive.js'
import { scanFrontmatter } from '../../../src/directives/frontmatter/scan-frontmatter.js'
import type { FrontmatterField } from '../../../src/types.js'

const fields = (yaml: string): FrontmatterField[] =>
  scanFrontmatter(`---\n${yaml}---\n`, 'post.md').directives.map((d) => d.field as FrontmatterField)

describe('frontmatter directives record their field', () => {
  it('flat frontmatter (read without the YAML library): the key, the string form, the value as YAML reads it', () => {
    expect(
      fields("title: A post\nheroImage: 'flux: A kite?size=1344x768'\nthumb: flux:A gull # small\n"),
    ).toEqual([
      { path: ['heroImage'], form: 'string', written: 'flux: A kite?size=1344x768' },
      { path: ['thumb'], form: 'string', written: 'flux:A gull' },
    ])
  })

  it('nested maps and lists: the path to the value, list positions as numbers', () => {
    const yaml = [
      'og:',
      '  image: "flux: An og card"',
      'gallery:',
      '  - ./local.png',
      '  - caption: no image',
      '  - "flux: The third"',
      '  - [a, "flux: Inner"]',
      '1: "flux: A numbered key"',
      '',
    ].join('\n')
    expect(fields(yaml).map((f) => f.path)).toEqual([
      ['og', 'image'],
      ['gallery', 2],
      ['gallery', 3, 1],
      ['1'],
    ])
  })

  it("the object form: the object's path, its form, its directive fields as written", () => {
    const yaml = [
      'heroImage:',
      '  flux: A red kite',
      '  size: 1344x768',
      '  seed: 42',
      'cover: { flux: "flux: A heron?alt=Bird", ref: [./a.png, ./b.png] }',
      'gallery:',
      '  - flux: A fox',
      '',
    ].join('\n')
    const found = fields(yaml)
    expect(found.map(({ path, form }) => [path, form])).toEqual([
      [['heroImage'], 'object'],
      [['cover'], 'object'],
      [['gallery', 0], 'object'],
    ])
    // What a host's own parse of the same objects gives (YAML's numbers as numbers): the same text.
    expect(found.map((f) => f.written)).toEqual([
      writtenField({ flux: 'A red kite', size: '1344x768', seed: 42 }),
      writtenField({ flux: 'flux: A heron?alt=Bird', ref: ['./a.png', './b.png'] }),
      writtenField({ flux: 'A fox' }),
    ])
    // The whole frontmatter as one object form: the path is empty.
    expect(fields('flux: A boat\nsize: 1024x1024\n').map((f) => f.path)).toEqual([[]])
  })

  it('the same frontmatter read flat and by the YAML library records the same fields', () => {
    const flat = "title: A post\nhero: 'flux: A kite?size=1344x768'\nthumb: flux:A gull # small\n"
    // A quoted key at the end leaves the block to the YAML library, with every offset before it unchanged.
    const yaml = `${flat}"quoted": 1\n`
    const withLibrary = scanFrontmatter(`---\n${yaml}---\n`, 'post.md').directives
    const withReader = scanFrontmatter(`---\n${flat}---\n`, 'post.md').directives
    expect(withLibrary).toEqual(withReader)
    expect(withReader).toHaveLength(2)
  })
})

describe('fieldDirective: the one reader of a field value', () => {
  it('reads the string and the object form as the scanner does', () => {
    expect(fieldDirective('flux: A kite?size=1344x768')).toEqual({
      prompt: 'A kite',
      params: { size: '1344x768' },
    })
    expect(
      fieldDirective({ flux: 'flux: A heron?size=1536x1024&alt=x', size: ' 1344x768 ', seed: 7, extra: 1 }),
    ).toEqual({
      prompt: 'A heron',
      params: { size: '1344x768', alt: 'x', seed: '7' },
    })
    expect(fieldDirective({ flux: 'A fox', ref: ['./a.png', 3, null] })).toEqual({
      prompt: 'A fox',
      params: { ref: ['./a.png', '3'] },
    })
    // An empty list is no reference: the query's stays.
    expect(fieldDirective({ flux: 'A fox?ref=./q.png', ref: [] })).toEqual({
      prompt: 'A fox',
      params: { ref: './q.png' },
    })
  })

  it('no directive: other strings, objects without a flux text, other values', () => {
    for (const value of [
      './local.png',
      { src: 'x' },
      { flux: undefined },
      { flux: ['A list'] },
      5,
      null,
      [],
      undefined,
    ])
      expect(fieldDirective(value)).toBeUndefined()
  })
})
