import { describe, expect, it } from 'vitest'
import { requestKey } from '../../src/cache/index.js'
import { planRequests } from '../../src/engine/plan.js'
import { MAX_PROMPT_CHARS, resolveRequest } from '../../src/engine/resolve-request.js'
import { FluxError } from '../../src/errors.js'
import { resolveOptions } from '../../src/options.js'
import type { Directive } from '../../src/types.js'

const options = resolveOptions({ root: '/site' }, { env: {} })
const at = { file: 'posts/a.md', line: 4, column: 7 }

function directive(prompt: string, params: Directive['params'] = {}, line = 1): Directive {
  return {
    kind: 'markdown',
    prompt,
    params,
    location: { file: 'a.md', line, column: 1 },
    raw: `flux:${prompt}`,
    span: { start: 0, end: `flux:${prompt}`.length },
  }
}

describe('resolveRequest', () => {
  describe('valid', () => {
    it('fills the defaults', () => {
      expect(resolveRequest({ prompt: '  a cat ', params: {} }, options)).toEqual({
        model: 'flux-1.1-pro',
        prompt: 'a cat',
        size: '1024x1024',
        quality: 'standard',
      })
    })
    it('keeps explicit values and parses the seed', () => {
      expect(
        resolveRequest(
          {
            prompt: 'a cat',
            params: { model: 'flux-schnell', size: '1536x1024', quality: 'hd', seed: '42' },
          },
          options,
        ),
      ).toEqual({ model: 'flux-schnell', prompt: 'a cat', size: '1536x1024', quality: 'hd', seed: 42 })
    })
    it('normalizes Unicode so one visible prompt has one key', () => {
      const composed = resolveRequest({ prompt: 'caf\u00e9 at dawn', params: {} }, options)
      const decomposed = resolveRequest({ prompt: 'cafe\u0301 at dawn', params: {} }, options)
      expect(decomposed.prompt).toBe(composed.prompt)
      expect(requestKey(decomposed)).toBe(requestKey(composed))
    })
    it('ignores alt: it does not change the picture', () => {
      const a = resolveRequest({ prompt: 'a cat', params: { alt: 'one' } }, options)
      const b = resolveRequest({ prompt: 'a cat', params: { alt: 'two' } }, options)
      expect(requestKey(a)).toBe(requestKey(b))
    })
  })

  describe('invalid', () => {
    const cases: [string, Directive['params'], string, RegExp][] = [
      ['', {}, 'FLUX_EMPTY_PROMPT', /empty prompt/],
      ['a', { size: '999x999' }, 'FLUX_UNKNOWN_SIZE', /Accepted sizes: 1024x1024, 1536x1024/],
      [
        'a',
        { model: 'dall-e-3' },
        'FLUX_UNKNOWN_MODEL',
        /Accepted models: flux-1.1-pro, flux-pro, flux-dev, flux-schnell/,
      ],
      ['a', { quality: 'ultra' }, 'FLUX_INVALID_OPTION_VALUE', /quality "ultra"/],
      ['a', { seed: '-3' }, 'FLUX_INVALID_OPTION_VALUE', /seed "-3"/],
      ['a', { seed: '1e99' }, 'FLUX_INVALID_OPTION_VALUE', /seed/],
    ]
    for (const [prompt, params, code, message] of cases) {
      it(`${code} for ${JSON.stringify({ prompt, ...params })}, located`, () => {
        let err: unknown
        try {
          resolveRequest({ prompt, params, location: at }, options)
        } catch (e) {
          err = e
        }
        expect(FluxError.is(err, code as never)).toBe(true)
        expect((err as FluxError).message).toMatch(/^\[flux\] posts\/a\.md:4:7: /)
        expect((err as FluxError).message).toMatch(message)
        expect((err as FluxError).hint.length).toBeGreaterThan(10)
      })
    }
    it('names the option that extends sizes and models', () => {
      expect(() => resolveRequest({ prompt: 'a', params: { size: '1x1' } }, options)).toThrow(FluxError)
      try {
        resolveRequest({ prompt: 'a', params: { model: 'x' } }, options)
      } catch (e) {
        expect((e as FluxError).hint).toMatch(/`models` option/)
      }
    })
  })

  // Regression (issue 16, items 10 and 12): NUL bytes, escape sequences, invalid UTF-8 and 100 KB
  // prompts were sent as they are, and control sequences in prompts and model names reached the
  // terminal through error messages.
  describe('prompts a gateway would receive as they are', () => {
    const refused = (prompt: string, params: Directive['params'] = {}) => {
      try {
        resolveRequest({ prompt, params, location: at }, options)
      } catch (err) {
        if (FluxError.is(err)) return err
        throw err
      }
      throw new Error('expected a FluxError')
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose.
    const TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

    it.each([
      ['a NUL byte', 'a lighthouse\u0000 at dawn', 'U+0000 at character 13'],
      ['an escape sequence', 'a \u001b[2J\u001b]0;pwned\u0007 lighthouse', 'U+001B at character 3'],
      ['a C1 control (CSI)', 'a \u009b31m lighthouse', 'U+009B at character 3'],
      ['DEL', 'a\u007f', 'U+007F at character 2'],
      ['a control after an astral character', '🌅\u0001', 'U+0001 at character 2'],
      ['invalid UTF-8 (decoded to U+FFFD)', 'caf\ufffd at dawn', 'U+FFFD at character 4'],
      ['a lone surrogate', 'a \ud83c lighthouse', 'lone UTF-16 surrogate'],
    ])('%s: FLUX_INVALID_PROMPT, located, with a hint, printable', (_kind, prompt, reason) => {
      const err = refused(prompt)
      expect(err.code).toBe('FLUX_INVALID_PROMPT')
      expect(err.message).toContain(reason)
      expect(err.message).toContain('posts/a.md:4:7')
      expect(err.hint).toMatch(/UTF-8/)
      expect(String(err)).not.toMatch(TERMINAL)
    })

    it(`over ${MAX_PROMPT_CHARS} characters: FLUX_PROMPT_TOO_LONG, with the limit in the hint`, () => {
      const err = refused('a'.repeat(100_000))
      expect(err.code).toBe('FLUX_PROMPT_TOO_LONG')
      expect(err.message).toContain('posts/a.md:4:7')
      expect(err.message).toContain(`has 100000 characters; at most ${MAX_PROMPT_CHARS}`)
      expect(err.hint).toContain(`${MAX_PROMPT_CHARS} characters or fewer`)
      expect(refused('a'.repeat(MAX_PROMPT_CHARS + 1)).code).toBe('FLUX_PROMPT_TOO_LONG')
    })

    it(`accepts ${MAX_PROMPT_CHARS} characters (not UTF-16 units), tabs and newlines`, () => {
      const plain = 'a'.repeat(MAX_PROMPT_CHARS)
      expect(resolveRequest({ prompt: plain, params: {} }, options).prompt).toBe(plain)
      const astral = '🌅'.repeat(MAX_PROMPT_CHARS)
      expect(resolveRequest({ prompt: astral, params: {} }, options).prompt).toBe(astral)
      const lines = 'a\tlighthouse\r\nat dawn'
      expect(resolveRequest({ prompt: lines, params: {} }, options).prompt).toBe(lines)
    })

    it.each([
      ['model', { model: 'flux\u001b[31m-pwned' }, 'FLUX_UNKNOWN_MODEL', 'flux\\x1b[31m-pwned'],
      ['size', { size: '1x1\u009b2J' }, 'FLUX_UNKNOWN_SIZE', '1x1\\x9b2j'],
      ['quality', { quality: 'hd\u0007' }, 'FLUX_INVALID_OPTION_VALUE', 'hd\\x07'],
      ['seed', { seed: '4\u001b2' }, 'FLUX_INVALID_OPTION_VALUE', '4\\x1b2'],
    ])('a %s with control characters is echoed written out', (_param, params, code, shown) => {
      const err = refused('a lighthouse', params)
      expect(err.code).toBe(code)
      expect(err.message).toContain(shown)
      expect(String(err)).not.toMatch(TERMINAL)
    })
  })
})

describe('planRequests', () => {
  it('dedupes identical requests and keeps every location', () => {
    const plan = planRequests(
      [
        directive('a cat', {}, 1),
        directive('a cat', { size: '1024x1024', alt: 'x' }, 2),
        directive('a dog', {}, 3),
      ],
      options,
    )
    expect(plan.items).toHaveLength(2)
    expect(plan.items[0]?.directives.map((d) => d.location.line)).toEqual([1, 2])
    expect(plan.errors).toEqual([])
  })
  it('collects unresolvable directives as errors and plans the rest', () => {
    const plan = planRequests(
      [directive('', {}, 1), directive('a cat', { size: 'huge' }, 2), directive('ok', {}, 3)],
      options,
    )
    expect(plan.items.map((i) => i.request.prompt)).toEqual(['ok'])
    expect(plan.errors.map((e) => [e.code, e.location?.line])).toEqual([
      ['FLUX_EMPTY_PROMPT', 1],
      ['FLUX_UNKNOWN_SIZE', 2],
    ])
  })
})

describe('resolveRequest with presets', () => {
  const withPresets = resolveOptions(
    {
      root: '/site',
      presets: {
        house: { prompt: '{prompt}, flat vector illustration', size: '1536x1024', quality: 'hd' },
        photo: { prompt: 'A photograph: {prompt}.', model: 'flux-schnell' },
      },
      preset: 'house',
    },
    { env: {} },
  )

  it('applies the default preset: its template around the prompt, its size and quality', () => {
    expect(resolveRequest({ prompt: ' a cat ', params: {} }, withPresets)).toEqual({
      model: 'flux-1.1-pro',
      prompt: 'a cat, flat vector illustration',
      size: '1536x1024',
      quality: 'hd',
    })
  })
  it('takes ?preset=, and ?preset=none for none', () => {
    expect(resolveRequest({ prompt: 'a cat', params: { preset: 'photo' } }, withPresets)).toMatchObject({
      model: 'flux-schnell',
      prompt: 'A photograph: a cat.',
      size: '1024x1024',
    })
    expect(resolveRequest({ prompt: 'a cat', params: { preset: 'none' } }, withPresets)).toEqual(
      resolveRequest({ prompt: 'a cat', params: {} }, options),
    )
  })
  it("lets the directive's own model, size and quality win", () => {
    expect(
      resolveRequest({ prompt: 'a cat', params: { size: '1344x768', quality: 'standard' } }, withPresets),
    ).toMatchObject({ size: '1344x768', quality: 'standard', prompt: 'a cat, flat vector illustration' })
  })
  it('keys what is sent, not the name: the same request written without a preset has the same key', () => {
    const viaPreset = resolveRequest({ prompt: 'a cat', params: {} }, withPresets)
    const written = resolveRequest(
      {
        prompt: 'a cat, flat vector illustration',
        params: { size: '1536x1024', quality: 'hd', preset: 'none' },
      },
      withPresets,
    )
    expect(requestKey(viaPreset)).toBe(requestKey(written))
  })
  it('takes a prompt with $& or $1 literally (no replacement patterns)', () => {
    expect(resolveRequest({ prompt: 'cost $& and $1', params: {} }, withPresets).prompt).toBe(
      'cost $& and $1, flat vector illustration',
    )
  })
  it('an unknown preset is FLUX_UNKNOWN_PRESET at the directive, naming the presets', () => {
    const err = (() => {
      try {
        resolveRequest({ prompt: 'a cat', params: { preset: 'hous' }, location: at }, withPresets)
      } catch (e) {
        return e
      }
    })()
    expect(FluxError.is(err, 'FLUX_UNKNOWN_PRESET')).toBe(true)
    expect(String(err)).toContain('posts/a.md:4:7: Unknown preset "hous". Presets: house, photo, or none.')
  })
})
