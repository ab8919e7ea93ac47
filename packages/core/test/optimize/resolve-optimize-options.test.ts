import { describe, expect, it } from 'vitest'
import { FluxError } from '../../src/errors.js'
import {
  type OptimizeOptions,
  resolveOptimizeOptions,
  threadpoolSize,
} from '../../src/optimize/resolve-optimize-options.js'

function problemsOf(options: unknown, path?: string): string[] {
  try {
    resolveOptimizeOptions(options as OptimizeOptions, path === undefined ? {} : { path })
  } catch (err) {
    if (FluxError.is(err, 'FLUX_INVALID_OPTIONS')) return err.detail.split('\n').slice(1)
    throw err
  }
  throw new Error('expected FLUX_INVALID_OPTIONS')
}

describe('resolveOptimizeOptions', () => {
  describe('missing', () => {
    it('fills in every default', () => {
      const resolved = resolveOptimizeOptions()
      expect(resolved).toMatchObject({
        widths: [480, 960, 1440],
        maxWidth: undefined,
        formats: ['avif', 'webp'],
        fallback: 'auto',
        avif: { quality: 50, effort: 3 },
        webp: { quality: 78, effort: 4 },
        jpeg: { quality: 80 },
        png: { quality: 100, compressionLevel: 9 },
        placeholder: 'blur',
        publicPath: '/_flux/',
        base: '/',
      })
      expect(resolved.concurrency).toBeGreaterThanOrEqual(1)
      // One libuv thread stays free for file I/O.
      expect(resolved.concurrency).toBeLessThanOrEqual(Math.max(1, threadpoolSize() - 1))
    })

    it('keeps the other members of a partly given encoder', () => {
      expect(resolveOptimizeOptions({ avif: { quality: 60 } }).avif).toEqual({ quality: 60, effort: 3 })
    })
  })

  describe('empty', () => {
    it('accepts no extra widths (only the original) and no modern formats (only the fallback)', () => {
      expect(resolveOptimizeOptions({ widths: [], formats: [] })).toMatchObject({ widths: [], formats: [] })
    })

    it('reads an empty base as the root', () => {
      expect(resolveOptimizeOptions({ base: '' }).base).toBe('/')
    })
  })

  describe('invalid', () => {
    it('lists every problem with its path in one FLUX_INVALID_OPTIONS', () => {
      const problems = problemsOf({ widths: [480, 0], formats: ['avif', 'gif'], avif: { quality: 101 } })
      expect(problems).toEqual([
        '  - widths[1]: Expected a whole number from 1 to 16383, got 0',
        '  - formats[1]: Expected one of "avif", "webp", got "gif"',
        '  - avif.quality: Expected a whole number from 1 to 100, got 101',
      ])
    })

    it('prefixes the paths when asked', () => {
      expect(problemsOf({ webp: { effort: 7 } }, 'image')).toEqual([
        '  - image.webp.effort: Expected a whole number from 0 to 6, got 7',
      ])
    })

    it('refuses wrong types, unknown encoder options and unsafe URL prefixes', () => {
      const problems = problemsOf({
        widths: 480,
        maxWidth: 1.5,
        fallback: 'gif',
        jpeg: { quality: 80, progressive: true },
        png: { compressionLevel: 10 },
        placeholder: 'lqip',
        concurrency: 0,
        publicPath: '/_flux/"><script>',
        base: 'my site',
      })
      expect(problems.map((p) => p.slice(4, p.indexOf(':')))).toEqual([
        'widths',
        'maxWidth',
        'fallback',
        'jpeg.progressive',
        'png.compressionLevel',
        'placeholder',
        'concurrency',
        'publicPath',
        'base',
      ])
    })

    it('refuses a non-object', () => {
      expect(problemsOf('fast')).toEqual(['  - options: Expected an object, got "fast"'])
    })
  })

  describe('valid', () => {
    it('sorts and dedupes widths and formats', () => {
      const resolved = resolveOptimizeOptions({ widths: [960, 480, 960], formats: ['webp', 'avif', 'webp'] })
      expect(resolved.widths).toEqual([480, 960])
      expect(resolved.formats).toEqual(['webp', 'avif'])
    })

    it('normalises URL prefixes to end with a slash, paths to start with one', () => {
      const cases: [string, string][] = [
        ['_flux', '/_flux/'],
        ['/_flux', '/_flux/'],
        ['/a/b/', '/a/b/'],
        ['https://cdn.example/img', 'https://cdn.example/img/'],
        ['//cdn.example/img/', '//cdn.example/img/'],
        ['./', './'],
      ]
      for (const [given, expected] of cases) {
        expect(resolveOptimizeOptions({ publicPath: given }).publicPath).toBe(expected)
        expect(resolveOptimizeOptions({ base: given }).base).toBe(expected)
      }
    })
  })
})

describe('threadpoolSize', () => {
  it('is libuv default 4 unless UV_THREADPOOL_SIZE says otherwise', () => {
    expect(threadpoolSize({})).toBe(4)
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: '16' })).toBe(16)
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: 'lots' })).toBe(4)
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024)
  })
})
