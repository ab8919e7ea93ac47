import { describe, expect, it } from 'vitest'
import { FluxError } from '../src/errors.js'
import { DEFAULTS, resolveOptions } from '../src/options.js'

describe('resolveOptions', () => {
  describe('missing', () => {
    it('fills every default', () => {
      const o = resolveOptions({ root: '/site' }, { env: {} })
      expect(o).toMatchObject({
        root: '/site',
        cacheDir: '/site/.flux-cache',
        mode: 'auto',
        concurrency: 4,
        maxGenerations: 50,
        model: 'flux-1.1-pro',
        size: '1024x1024',
        quality: 'standard',
        apiKey: undefined,
        baseURL: undefined,
      })
      expect(o.exclude).toContain('.flux-cache/**')
      expect(o.include).toEqual(DEFAULTS.include)
    })
  })

  describe('precedence', () => {
    it('takes the option, then the environment, then the config file, then the default', () => {
      const env = {
        FLUX_CONCURRENCY: '8',
        FLUX_MODE: 'frozen',
        FLUX_API_KEY: 'k',
        FLUX_BASE_URL: 'http://gw.test',
      }
      const fileConfig = { concurrency: 2, mode: 'placeholder' as const, maxGenerations: 7 }
      expect(resolveOptions({ concurrency: 3 }, { env, fileConfig })).toMatchObject({
        concurrency: 3,
        mode: 'frozen',
        maxGenerations: 7,
        apiKey: 'k',
        baseURL: 'http://gw.test',
      })
      expect(resolveOptions({}, { env: {}, fileConfig }).concurrency).toBe(2)
    })

    it('ignores empty environment values', () => {
      expect(resolveOptions({}, { env: { FLUX_API_KEY: ' ', FLUX_MODE: '' } })).toMatchObject({
        apiKey: undefined,
        mode: 'auto',
      })
    })

    it('extends the accepted models and sizes', () => {
      const o = resolveOptions({ models: ['my-flux'], sizes: ['2048x2048'], model: 'my-flux' }, { env: {} })
      expect(o.models).toContain('flux-schnell')
      expect(o.models).toContain('my-flux')
      expect(o.sizes).toContain('2048x2048')
      expect(o.model).toBe('my-flux')
    })
  })

  describe('invalid', () => {
    it('lists every problem on its own line with its path', () => {
      let err: unknown
      try {
        resolveOptions(
          {
            concurrency: 0,
            mode: 'fast' as never,
            size: '10x10',
            sizes: ['big'],
            prices: { 'flux-pro': -1 },
          },
          { env: { FLUX_BASE_URL: 'gateway.example' } },
        )
      } catch (e) {
        err = e
      }
      expect(FluxError.is(err, 'FLUX_INVALID_OPTIONS')).toBe(true)
      const lines = (err as FluxError).message.split('\n')
      expect(lines).toContain('  - concurrency: Expected a whole number from 1 and up, got 0')
      expect(
        lines.some((l) =>
          l.startsWith('  - mode: Expected one of "auto", "frozen", "placeholder", got "fast"'),
        ),
      ).toBe(true)
      expect(lines.some((l) => l.startsWith('  - size:') && l.includes('add it with `sizes`'))).toBe(true)
      expect(lines.some((l) => l.startsWith('  - sizes:'))).toBe(true)
      expect(lines.some((l) => l.startsWith('  - prices.flux-pro:'))).toBe(true)
      expect(lines.some((l) => l.startsWith('  - baseURL:'))).toBe(true)
    })

    it('rejects a non-numeric FLUX_CONCURRENCY', () => {
      expect(() => resolveOptions({}, { env: { FLUX_CONCURRENCY: 'lots' } })).toThrow(
        /concurrency: Expected a whole number/,
      )
    })
  })
})
