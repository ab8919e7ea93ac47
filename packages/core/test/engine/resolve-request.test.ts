import { describe, expect, it } from 'vitest'
import { requestKey } from '../../src/cache/index.js'
import { planRequests } from '../../src/engine/plan.js'
import { resolveRequest } from '../../src/engine/resolve-request.js'
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
