import { describe, expect, expectTypeOf, it } from 'vitest'
import { createDiskCache } from '../src/cache/index.js'
import { FluxError } from '../src/errors.js'
import type { OptimizeOptions, ResolvedOptimizeOptions } from '../src/optimize/index.js'
import {
  DEFAULTS,
  type FluxOptions,
  MAX_TIMEOUT_MS,
  type ResolvedOptions,
  resolveOptions,
} from '../src/options.js'
import { createOpenAIImagesProvider } from '../src/providers/openai-images.js'
import type { Logger } from '../src/types.js'

/** The problem lines of the FLUX_INVALID_OPTIONS that resolving these layers throws. */
function problemsOf(
  options: Record<string, unknown>,
  layers: { env?: Record<string, string>; fileConfig?: Record<string, unknown> } = {},
): string[] {
  try {
    resolveOptions(options as FluxOptions, {
      env: layers.env ?? {},
      fileConfig: (layers.fileConfig ?? {}) as FluxOptions,
    })
  } catch (err) {
    if (FluxError.is(err, 'FLUX_INVALID_OPTIONS')) return err.detail.split('\n').slice(1)
    throw err
  }
  throw new Error('expected FLUX_INVALID_OPTIONS')
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, info() {}, warn: (m: string) => warnings.push(m), error() {} }
}

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
      expect(lines).toContain('  - concurrency: Expected a whole number from 1 to 64, got 0')
      expect(
        lines.some((l) =>
          l.startsWith('  - mode: Expected one of "auto", "frozen", "placeholder", got "fast"'),
        ),
      ).toBe(true)
      expect(lines.some((l) => l.startsWith('  - size:') && l.includes('add it with `sizes`'))).toBe(true)
      expect(lines.some((l) => l.startsWith('  - sizes[0]:'))).toBe(true)
      expect(lines.some((l) => l.startsWith('  - prices.flux-pro:'))).toBe(true)
      expect(lines.some((l) => l.startsWith('  - baseURL:'))).toBe(true)
    })

    it('rejects a non-numeric FLUX_CONCURRENCY', () => {
      expect(() => resolveOptions({}, { env: { FLUX_CONCURRENCY: 'lots' } })).toThrow(
        /concurrency: Expected a whole number/,
      )
    })
  })

  describe('unknown names (issue 16, item 12)', () => {
    it('reports a misspelt option with the nearest name, given or in the config file', () => {
      expect(problemsOf({ concurency: 8 }, { fileConfig: { maxGeneration: 3 } })).toEqual([
        '  - concurency: Unknown option; did you mean "concurrency"?',
        '  - maxGeneration (in the config file): Unknown option; did you mean "maxGenerations"?',
      ])
    })

    it('reports an unknown image option', () => {
      expect(problemsOf({ image: { widht: [480] } })).toEqual([
        '  - image.widht: Unknown option; did you mean "widths"?',
      ])
    })
  })

  describe('wrong types that used to pass (issue 16, items 2, 5, 12)', () => {
    it('refuses a string allowPrivateDownloads: "false" would turn the download guard off', () => {
      expect(problemsOf({ allowPrivateDownloads: 'false' })).toEqual([
        '  - allowPrivateDownloads: Expected true or false, got "false" (a string, not a boolean)',
      ])
      expect(problemsOf({}, { fileConfig: { allowPrivateDownloads: 1 } })).toEqual([
        '  - allowPrivateDownloads: Expected true or false, got 1 (from the config file)',
      ])
    })

    it('refuses include as a string: its characters would be globs, one of them "/"', () => {
      expect(problemsOf({ include: '**/*.md' })).toEqual([
        '  - include: Expected a list of globs, got "**/*.md" (write ["**/*.md"])',
      ])
    })

    it('refuses include globs outside the root', () => {
      expect(problemsOf({ include: ['/', '../**/*.md', 'docs/**/*.md'] })).toEqual([
        '  - include[0]: Expected a glob relative to the root, got "/" (to scan another folder, set `root`)',
        '  - include[1]: Expected a glob relative to the root, got "../**/*.md" (to scan another folder, set `root`)',
      ])
    })

    it('lists a non-string cacheDir and exclude instead of throwing a TypeError', () => {
      expect(problemsOf({ cacheDir: 5, exclude: 'dist' })).toEqual([
        '  - cacheDir: Expected a non-empty string, got 5',
        '  - exclude: Expected a list of globs, got "dist" (write ["dist"])',
      ])
    })

    it('never shows a non-string apiKey', () => {
      expect(problemsOf({ apiKey: 12345678 })).toEqual([
        '  - apiKey: Expected a non-empty string, got a number',
      ])
    })
  })

  describe('bounds (issue 16, items 6, 12)', () => {
    it('bounds timeoutMs to what Node timers accept (2^31 - 1 ms)', () => {
      expect(resolveOptions({ timeoutMs: MAX_TIMEOUT_MS }, { env: {} }).timeoutMs).toBe(2 ** 31 - 1)
      expect(problemsOf({ timeoutMs: 2 ** 31 })).toEqual([
        '  - timeoutMs: Expected a whole number from 1 to 2147483647, got 2147483648',
      ])
    })

    it('bounds concurrency and reads only decimal digits from strings', () => {
      expect(resolveOptions({}, { env: { FLUX_CONCURRENCY: '16' } }).concurrency).toBe(16)
      expect(problemsOf({}, { env: { FLUX_CONCURRENCY: '0x10' } })).toEqual([
        '  - concurrency: Expected a whole number from 1 to 64, got "0x10" (from FLUX_CONCURRENCY)',
      ])
      expect(problemsOf({ concurrency: '1e3' })).toEqual([
        '  - concurrency: Expected a whole number from 1 to 64, got "1e3"',
      ])
      expect(problemsOf({ concurrency: 65 })).toEqual([
        '  - concurrency: Expected a whole number from 1 to 64, got 65',
      ])
    })
  })

  describe('baseURL (issue 16, item 11)', () => {
    it('refuses credentials in the URL and never shows the password', () => {
      const problems = problemsOf({ baseURL: 'https://user:hunter2@gw.example/v1' })
      expect(problems).toEqual([
        '  - baseURL: Credentials in the URL (https://***@gw.example) are not used: remove them and set FLUX_API_KEY, which is sent as a bearer token',
      ])
    })

    it('shows an invalid URL without what stands before its "@"', () => {
      const problems = problemsOf({}, { env: { FLUX_BASE_URL: 'https://user:hunter2@gw example' } })
      expect(problems).toEqual([
        '  - baseURL: Expected an http(s) URL such as https://gateway.example or https://gateway.example/v1, got "https://***@gw example" (from FLUX_BASE_URL)',
      ])
      expect(problems.join('\n')).not.toContain('hunter2')
    })

    it('refuses a query or fragment, which would be dropped', () => {
      expect(problemsOf({ baseURL: 'https://gw.example/v1?key=secret' })).toEqual([
        '  - baseURL: A query or fragment (?...) is not sent to the gateway: remove it from https://gw.example/v1',
      ])
    })

    it('warns once when a key would travel over plain http to another machine', () => {
      const logger = recordingLogger()
      resolveOptions({ apiKey: 'k', baseURL: 'http://gw.example/v1', logger }, { env: {} })
      expect(logger.warnings).toEqual([
        '[flux] baseURL http://gw.example is plain http on another machine: the API key and prompts would cross the network unencrypted. Use https://, or a gateway on this machine.',
      ])
    })

    it('does not warn for https, loopback, or without a key', () => {
      const logger = recordingLogger()
      for (const baseURL of [
        'https://gw.example',
        'http://127.0.0.1:8080',
        'http://localhost:3000',
        'http://[::1]:80',
      ]) {
        resolveOptions({ apiKey: 'k', baseURL, logger }, { env: {} })
      }
      resolveOptions({ baseURL: 'http://gw.example', logger }, { env: {} })
      expect(logger.warnings).toEqual([])
    })
  })
})

describe('one schema (issue 17, part 4)', () => {
  describe('unknown names', () => {
    it('lists every unknown name of one object, not only the first', () => {
      expect(
        problemsOf({ concurency: 8, mdoe: 'frozen', image: { widht: [480], formts: ['avif'] } }),
      ).toEqual([
        '  - image.widht: Unknown option; did you mean "widths"?',
        '  - image.formts: Unknown option; did you mean "formats"?',
        '  - concurency: Unknown option; did you mean "concurrency"?',
        '  - mdoe: Unknown option; did you mean "mode"?',
      ])
    })

    it('names the accepted members when no name is near', () => {
      expect(problemsOf({ image: { jpeg: { progressive: true } } })).toEqual([
        '  - image.jpeg.progressive: Unknown option (accepted: quality)',
      ])
    })
  })

  describe('layers', () => {
    it('merges `image` member by member (given, then the file, then the host) and says where a wrong member came from', () => {
      const o = resolveOptions(
        { image: { placeholder: 'none' } },
        {
          env: {},
          fileConfig: { image: { widths: [320], base: '/docs/' } },
          hostDefaults: { image: { base: '/host/', publicPath: '/assets/_flux/' } },
        },
      )
      expect(o.image).toMatchObject({
        placeholder: 'none',
        widths: [320],
        base: '/docs/',
        publicPath: '/assets/_flux/',
      })
      expect(
        problemsOf(
          { image: { avif: { quality: 0 } } },
          { fileConfig: { image: { widths: [0], widht: [1] }, model: 'flux-9' } },
        ),
      ).toEqual([
        '  - image.widths[0]: Expected a whole number from 1 to 16383, got 0 (from the config file)',
        '  - image.avif.quality: Expected a whole number from 1 to 100, got 0',
        '  - image.widht (in the config file): Unknown option; did you mean "widths"?',
        '  - model: Expected one of "flux-1.1-pro", "flux-pro", "flux-dev", "flux-schnell", got "flux-9" (add it with `models`) (from the config file)',
      ])
    })

    it("reports a file's `image` that is not an object, even when the options give one", () => {
      expect(problemsOf({ image: { widths: [320] } }, { fileConfig: { image: 'big' } })).toEqual([
        '  - image: Expected an object, got "big" (from the config file)',
      ])
    })

    it("takes the host's logger under the file's and the given one", () => {
      const host = recordingLogger()
      const given = recordingLogger()
      const http = { apiKey: 'k', baseURL: 'http://gw.example' }
      resolveOptions(http, { env: {}, hostDefaults: { logger: host } })
      resolveOptions({ ...http, logger: given }, { env: {}, hostDefaults: { logger: host } })
      expect([host.warnings.length, given.warnings.length]).toEqual([1, 1])
    })

    it('an empty apiKey given means no key, whatever the environment says', () => {
      expect(resolveOptions({ apiKey: '' }, { env: { FLUX_API_KEY: 'from-env' } }).apiKey).toBeUndefined()
    })
  })

  describe("the gateway provider's options", () => {
    it('are checked by the same fields as FluxOptions: every problem, no key shown', () => {
      let err: unknown
      try {
        createOpenAIImagesProvider({
          apiKey: 'sk-secret\n',
          baseURL: 'https://user:hunter2@gw.example',
          maxRetries: -1,
          retryBaseMs: 1.5,
          responseFormat: 'png' as never,
          dispatcher: 5 as never,
        })
      } catch (e) {
        err = e
      }
      expect(FluxError.is(err, 'FLUX_INVALID_OPTIONS')).toBe(true)
      expect((err as FluxError).detail.split('\n').slice(1)).toEqual([
        '  - apiKey: Expected a key of visible ASCII characters only, got one with spaces, control or non-ASCII characters (a trailing newline?)',
        '  - baseURL: Credentials in the URL (https://***@gw.example) are not used: remove them and set FLUX_API_KEY, which is sent as a bearer token',
        '  - responseFormat: Expected one of "b64_json", "url", got "png"',
        '  - maxRetries: Expected a whole number from 0 to 20, got -1',
        '  - retryBaseMs: Expected a whole number from 0 to 2147483647, got 1.5',
        '  - dispatcher: Expected an undici Dispatcher, got 5',
      ])
      expect(String(err)).not.toMatch(/sk-secret|hunter2/)
    })
  })

  describe("the disk cache's options", () => {
    it('refuse a timing that is not a number above 0, under `cache.`', () => {
      expect(() =>
        createDiskCache({ dir: '/c', logger: recordingLogger(), staleMs: 0, heartbeatMs: Number.NaN }),
      ).toThrow(
        'Invalid flux-images options:\n  - cache.staleMs: Expected a number above 0, got 0\n  - cache.heartbeatMs: Expected a number above 0, got NaN',
      )
    })
  })

  describe('types inferred from the schema', () => {
    it('gives FluxOptions and ResolvedOptions the schema’s shapes', () => {
      expectTypeOf<FluxOptions['mode']>().toEqualTypeOf<'auto' | 'frozen' | 'placeholder' | undefined>()
      expectTypeOf<FluxOptions['concurrency']>().toEqualTypeOf<number | undefined>()
      expectTypeOf<ResolvedOptions['concurrency']>().toEqualTypeOf<number>()
      expectTypeOf<ResolvedOptions['apiKey']>().toEqualTypeOf<string | undefined>()
      expectTypeOf<ResolvedOptions['image']['avif']>().toEqualTypeOf<{ quality: number; effort: number }>()
      expectTypeOf<OptimizeOptions['placeholder']>().toEqualTypeOf<'blur' | 'color' | 'none' | undefined>()
      expectTypeOf<ResolvedOptimizeOptions['maxWidth']>().toEqualTypeOf<number | undefined>()
      // @ts-expect-error: a misspelt option is a type error too.
      const misspelt: FluxOptions = { concurency: 4 }
      expect(misspelt).toBeDefined()
    })
  })
})

describe('presets', () => {
  const problems = (given: Record<string, unknown>) => {
    try {
      resolveOptions({ root: '/site', ...given } as never, { env: {} })
      return ''
    } catch (err) {
      return String(err)
    }
  }
  it('a template without exactly one {prompt}, a default preset that is not defined, a preset called none', () => {
    const text = problems({
      presets: {
        a: { prompt: 'no slot' },
        b: { prompt: '{prompt} and {prompt}' },
        none: { prompt: '{prompt}' },
      },
      preset: 'c',
    })
    expect(text).toContain('presets.a.prompt: Expected a template with exactly one {prompt}')
    expect(text).toContain('presets.b.prompt: Expected a template with exactly one {prompt}')
    expect(text).toContain('presets.none: "none" is kept to turn presets off')
    expect(text).toContain('preset: Expected the name of a preset ("a", "b", "none") or "none", got "c"')
  })
  it('an unknown member of a preset names the nearest', () => {
    expect(problems({ presets: { a: { prompt: '{prompt}', sise: '1024x1024' } } })).toContain(
      'presets.a.sise: Unknown option; did you mean "size"?',
    )
  })
  it('a reference image that cannot be read, by its path', () => {
    expect(
      problems({ presets: { a: { prompt: '{prompt}', references: ['./brand/missing.png'] } } }),
    ).toContain('presets.a.references[0]: Could not read the reference image "./brand/missing.png" (ENOENT)')
  })
})
