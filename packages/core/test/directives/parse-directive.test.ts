import { describe, expect, it } from 'vitest'
import {
  DIRECTIVE_KEYS,
  findUnknownParams,
  formatDirective,
  parseDirective,
  percentDecode,
  unknownParamsError,
} from '../../src/directives/index.js'
import type { ParsedDirective } from '../../src/types.js'

describe('parseDirective: missing (not a directive)', () => {
  it.each([
    '',
    '   ',
    'A lighthouse at dawn',
    'https://example.com/a.png',
    'Flux: A lighthouse',
    'FLUX:a',
    'flux',
    'flux;a',
    'fluxa:b',
    'x flux:a',
  ])('%j is not a directive', (text) => {
    expect(parseDirective(text)).toBeUndefined()
  })
})

describe('parseDirective: empty', () => {
  it('has an empty prompt and no params for a bare scheme', () => {
    expect(parseDirective('flux:')).toEqual({ prompt: '', params: {} })
    expect(parseDirective('  flux:   ')).toEqual({ prompt: '', params: {} })
  })

  it('keeps the options of a directive with no prompt', () => {
    expect(parseDirective('flux:?size=1024x1024')).toEqual({ prompt: '', params: { size: '1024x1024' } })
  })

  it('keeps an empty value as an empty string (the engine rejects it with a message)', () => {
    expect(parseDirective('flux:a?size=')).toEqual({ prompt: 'a', params: { size: '' } })
  })
})

describe('parseDirective: valid', () => {
  it('reads a frontmatter-style directive: leading whitespace and a space after the scheme', () => {
    expect(parseDirective('  flux: A lighthouse at dawn  ')).toEqual({
      prompt: 'A lighthouse at dawn',
      params: {},
    })
  })

  it('reads every known option', () => {
    expect(
      parseDirective('flux:A city?model=flux-schnell&size=1344x768&quality=hd&seed=42&alt=A city at night'),
    ).toEqual({
      prompt: 'A city',
      params: { model: 'flux-schnell', size: '1344x768', quality: 'hd', seed: '42', alt: 'A city at night' },
    })
  })

  it('reads `ref` given once as a path, given several times as the paths in order', () => {
    expect(parseDirective('flux:A harbour?ref=./sketch.png')?.params).toEqual({ ref: './sketch.png' })
    const several = parseDirective('flux:A harbour?ref=./a.png&size=1024x768&ref=b%20c.png&ref=d.png')
    expect(several?.params).toEqual({ ref: ['./a.png', 'b c.png', 'd.png'], size: '1024x768' })
    expect(parseDirective(formatDirective(several as ParsedDirective))).toEqual(several)
  })

  it('exports the known keys, in canonical order', () => {
    expect(DIRECTIVE_KEYS).toEqual(['model', 'size', 'quality', 'seed', 'alt', 'preset', 'ref'])
  })

  it('keeps a question mark that is not followed by options in the prompt', () => {
    expect(parseDirective('flux:What if?')).toEqual({ prompt: 'What if?', params: {} })
    expect(parseDirective('flux:What if? Or not?')).toEqual({ prompt: 'What if? Or not?', params: {} })
    expect(parseDirective('flux:Who? What? Where?size=1024x1024')).toEqual({
      prompt: 'Who? What? Where',
      params: { size: '1024x1024' },
    })
  })

  it('splits "Why??size=..." into the prompt "Why?" and a size', () => {
    expect(parseDirective('flux:Why??size=1024x1024')).toEqual({
      prompt: 'Why?',
      params: { size: '1024x1024' },
    })
  })

  it('takes the first `?` that starts a valid query, so values may contain `?` and `=`', () => {
    expect(parseDirective('flux:a cat?alt=Is it a cat?&seed=1')).toEqual({
      prompt: 'a cat',
      params: { alt: 'Is it a cat?', seed: '1' },
    })
    expect(parseDirective('flux:x?alt=a=b')).toEqual({ prompt: 'x', params: { alt: 'a=b' } })
  })

  it('keeps `&` and `=` in the prompt', () => {
    expect(parseDirective('flux:Tom & Jerry = friends?size=1')).toEqual({
      prompt: 'Tom & Jerry = friends',
      params: { size: '1' },
    })
  })

  it('percent-decodes the prompt and values, including UTF-8', () => {
    expect(parseDirective('flux:A%20lighthouse%2C%20caf%C3%A9%20%E2%98%95?alt=x%26y%3Fz')).toEqual({
      prompt: 'A lighthouse, café ☕',
      params: { alt: 'x&y?z' },
    })
  })

  it('does not read `+` as a space', () => {
    expect(parseDirective('flux:C++ logo')?.prompt).toBe('C++ logo')
  })

  it('trims the prompt after decoding, and values before decoding (so %20 keeps a space)', () => {
    expect(parseDirective('flux:%20a%20?alt=%20b%20&size= 1024x1024 ')).toEqual({
      prompt: 'a',
      params: { alt: ' b ', size: '1024x1024' },
    })
  })

  it('lets the last of duplicate keys win', () => {
    expect(parseDirective('flux:a?size=1&model=m&size=2')).toEqual({
      prompt: 'a',
      params: { size: '2', model: 'm' },
    })
  })

  it('keeps newlines inside the prompt', () => {
    expect(parseDirective('flux:line one\nline two')?.prompt).toBe('line one\nline two')
  })
})

describe('parseDirective: invalid input is read, never thrown', () => {
  it('keeps malformed percent escapes as written', () => {
    expect(parseDirective('flux:100% sure %zz %4 %E9 %C3%28 %ED%A0%80 %F4%90%80%80')?.prompt).toBe(
      '100% sure %zz %4 %E9 %C3( %ED%A0%80 %F4%90%80%80',
    )
  })

  it('reads a query with an unknown key as prompt text and reports the key', () => {
    expect(parseDirective('flux:a cat?sise=1024x1024')).toEqual({
      prompt: 'a cat?sise=1024x1024',
      params: {},
      unknownParams: ['sise'],
    })
  })

  it('reports only the unknown keys of a mixed run, once each', () => {
    expect(parseDirective('flux:a?size=1&colour=red&colour=blue&Model=x')?.unknownParams).toEqual([
      'colour',
      'Model',
    ])
  })

  it('does not split on a known key followed by an unknown one', () => {
    expect(parseDirective('flux:a?size=1&x=2')).toMatchObject({ prompt: 'a?size=1&x=2', params: {} })
  })

  it.each([
    ['flux:a?size', 'no `=`'],
    ['flux:a?=1', 'no key'],
    ['flux:a? size=1', 'space before the key'],
    ['flux:a?size=1& model=m', 'space after `&`'],
    ['flux:a?size=1&', 'trailing `&`'],
    ['flux:a?&size=1', 'leading `&`'],
  ])('%j (%s) keeps everything in the prompt', (text) => {
    const parsed = parseDirective(text)
    expect(parsed?.params).toEqual({})
    expect(parsed?.prompt).toBe(text.slice(5).trim())
  })

  it('does not report a question that merely contains `=`', () => {
    expect(parseDirective('flux:Is 1+1=2? Yes')?.unknownParams).toBeUndefined()
  })

  it('lets an encoded `?` silence the unknown-option warning', () => {
    expect(parseDirective('flux:solve for x%3Fx=3')).toEqual({ prompt: 'solve for x?x=3', params: {} })
  })
})

describe('findUnknownParams and unknownParamsError', () => {
  it('finds nothing in an ordinary prompt', () => {
    expect(findUnknownParams('A lighthouse at dawn. What if?')).toEqual([])
  })

  it('names the unknown option, the nearest known one, the known ones, and the fix, at the directive', () => {
    const err = unknownParamsError(['sise'], { file: 'a.md', line: 3, column: 6 })
    expect(err.code).toBe('FLUX_UNKNOWN_OPTION')
    expect(err.message).toBe(
      '[flux] a.md:3:6: Unknown option `sise` (did you mean `size`?). Known options: model, size, quality, seed, alt, preset, ref. Nothing was generated for this directive.',
    )
    expect(err.hint).toContain('escape it: `\\?` (`\\\\?` in Markdown')
    expect(unknownParamsError(['qualty', 'colour']).message).toBe(
      '[flux] Unknown options `qualty` (did you mean `quality`?), `colour`. Known options: model, size, quality, seed, alt, preset, ref. Nothing was generated for this directive.',
    )
  })
})

describe('parseDirective: `\\?` is a question mark of the prompt', () => {
  it('reads `\\?` as `?` that starts no query, and reports no unknown option', () => {
    expect(parseDirective('flux:solve for x\\?x=3')).toEqual({ prompt: 'solve for x?x=3', params: {} })
    expect(parseDirective('flux:What is 2+2\\?size=4?size=1536x1024')).toEqual({
      prompt: 'What is 2+2?size=4',
      params: { size: '1536x1024' },
    })
  })

  it('keeps other backslashes, and a `%5C?` is a backslash then a query', () => {
    expect(parseDirective('flux:a\\b \\n')?.prompt).toBe('a\\b \\n')
    expect(parseDirective('flux:a%5C?size=1536x1024')).toEqual({
      prompt: 'a\\',
      params: { size: '1536x1024' },
    })
  })
})

describe('percentDecode', () => {
  it('returns text without escapes unchanged', () => {
    expect(percentDecode('plain text')).toBe('plain text')
  })

  it('decodes 1 to 4 byte sequences and keeps invalid ones', () => {
    expect(percentDecode('%41%c3%a9%E2%82%AC%F0%9F%98%80')).toBe('Aé€😀')
    expect(percentDecode('%C0%80 %E0%80%80 %F0%80%80%80 %%41')).toBe('%C0%80 %E0%80%80 %F0%80%80%80 %A')
  })
})
