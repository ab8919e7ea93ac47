import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DIRECTIVE_KEYS, formatDirective, parseDirective } from '../../src/directives/index.js'
import type { DirectiveParams, ParsedDirective } from '../../src/types.js'

describe('formatDirective: empty', () => {
  it('writes a bare scheme for an empty prompt with no options', () => {
    expect(formatDirective({ prompt: '', params: {} })).toBe('flux:')
  })

  it('writes options after an empty prompt', () => {
    expect(formatDirective({ prompt: '', params: { size: '1024x1024' } })).toBe('flux:?size=1024x1024')
  })
})

describe('formatDirective: valid', () => {
  it('keeps spaces and ordinary punctuation readable', () => {
    expect(
      formatDirective({ prompt: 'A lighthouse at dawn, (watercolor) & "soft" = nice. What if?', params: {} }),
    ).toBe('flux:A lighthouse at dawn, (watercolor) & "soft" = nice. What if?')
  })

  it('writes options in canonical order and leaves out unset ones', () => {
    expect(
      formatDirective({
        prompt: 'a',
        params: { alt: 'An A', seed: '7', size: '1536x1024', model: 'flux-dev' },
      }),
    ).toBe('flux:a?model=flux-dev&size=1536x1024&seed=7&alt=An A')
  })

  it('escapes a `?` that would start options, and `%` that would read as an escape', () => {
    expect(formatDirective({ prompt: 'a?size=1 costs 100%25 or 100%', params: {} })).toBe(
      'flux:a%3Fsize=1 costs 100%2525 or 100%',
    )
  })

  it('escapes `&` in values and whitespace at their ends', () => {
    expect(formatDirective({ prompt: 'a', params: { alt: ' Tom & Jerry\n' } })).toBe(
      'flux:a?alt=%20Tom %26 Jerry%0A',
    )
  })

  it('escapes a `?` after a backslash, and a last backslash before the options', () => {
    expect(formatDirective({ prompt: 'a\\?b', params: {} })).toBe('flux:a\\%3Fb')
    expect(formatDirective({ prompt: 'a\\', params: { size: '1536x1024' } })).toBe('flux:a%5C?size=1536x1024')
  })

  it('ignores unknownParams (a diagnostic)', () => {
    expect(formatDirective({ prompt: 'a', params: {}, unknownParams: ['x'] })).toBe('flux:a')
  })
})

// Text built from the grammar's own tokens, so the edge cases come up often.
const TOKENS = [
  '?',
  '&',
  '=',
  '%',
  '%2',
  '%25',
  '%41',
  '%3F',
  '\\',
  '\\?',
  '%E9',
  '%C3%A9',
  'size',
  'alt',
  'model',
  'sise',
  'x',
  '=1',
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\u00a0',
  '\u2028',
  '(',
  ')',
  '"',
  "'",
  '`',
  '#',
  '+',
  'a',
  'é',
  '😀',
  '\ud800',
  'flux:',
  '![',
  '](',
  '<',
  '>',
]
const tokenText = fc.string({ unit: fc.constantFrom(...TOKENS), maxLength: 12 })
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ maxLength: 20 }),
  tokenText,
)
const prompt = anyText.map((s) => s.trim())
const params: fc.Arbitrary<DirectiveParams> = fc.record(
  Object.fromEntries(DIRECTIVE_KEYS.map((k) => [k, anyText])) as Record<
    keyof DirectiveParams,
    fc.Arbitrary<string>
  >,
  { requiredKeys: [] },
)
const directive: fc.Arbitrary<ParsedDirective> = fc.record({ prompt, params })

describe('formatDirective: properties', () => {
  it('round-trips: parseDirective(formatDirective(d)) deep-equals d', () => {
    fc.assert(
      fc.property(directive, (d) => {
        expect(parseDirective(formatDirective(d))).toEqual(d)
      }),
      { numRuns: 3000 },
    )
  })

  it('is canonical: formatting what it parses gives the same text', () => {
    fc.assert(
      fc.property(directive, (d) => {
        const text = formatDirective(d)
        const again = parseDirective(text)
        expect(again && formatDirective(again)).toBe(text)
      }),
      { numRuns: 1000 },
    )
  })

  it('writes a prompt without `?` or `%` exactly as it is', () => {
    fc.assert(
      fc.property(
        prompt.filter((p) => !p.includes('?') && !p.includes('%')),
        (p) => formatDirective({ prompt: p, params: {} }) === `flux:${p}`,
      ),
    )
  })

  it('parses any text without throwing, to a trimmed prompt and string params', () => {
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        for (const text of [a, `flux:${a}`, `flux:${a}?${b}`, ` flux: ${a}?size=${b}&${b}`]) {
          const parsed = parseDirective(text)
          if (parsed === undefined) continue
          expect(parsed.prompt).toBe(parsed.prompt.trim())
          for (const value of Object.values(parsed.params)) expect(typeof value).toBe('string')
        }
      }),
      { numRuns: 2000 },
    )
  })
})
