import { describe, expect, it } from 'vitest'
import { BFL_MODEL_NAMES, BFL_MODELS, bflSizeFields, creditsToUsd } from '../../src/bfl-models.js'
import { requestKey } from '../../src/cache/request-key.js'
import { resolveRequest } from '../../src/engine/resolve-request.js'
import { FluxError } from '../../src/errors.js'
import { resolveOptions } from '../../src/options.js'

const model = (name: string) => {
  const row = BFL_MODELS.get(name)
  if (!row) throw new Error(`no model ${name}`)
  return row
}
const location = { file: 'src/post.md', line: 7, column: 3 }
const bfl = (extra: Record<string, unknown> = {}) =>
  resolveOptions({ root: '/site', provider: 'bfl', ...extra }, { env: {} })

describe('the BFL model table', () => {
  it('has each endpoint BFL serves, by its endpoint name', () => {
    expect(BFL_MODEL_NAMES).toEqual([
      'flux-2-pro',
      'flux-2-max',
      'flux-2-flex',
      'flux-2-klein-4b',
      'flux-2-klein-9b',
      'flux-pro-1.1',
      'flux-pro-1.1-ultra',
      'flux-pro',
      'flux-dev',
      'flux-kontext-pro',
      'flux-kontext-max',
    ])
    expect(model('flux-2-pro').upsampling).toBe('disable_pup')
    expect(model('flux-2-max').upsampling).toBe('disable_pup')
    expect(model('flux-2-flex').upsampling).toBe('prompt_upsampling')
    expect(model('flux-2-klein-4b').maxReferences).toBe(4)
    expect(model('flux-pro-1.1').price).toEqual({ perImage: 0.04 })
  })

  it('turns credits into dollars: 1 credit = $0.01', () => {
    expect([creditsToUsd(4), creditsToUsd(4.5), creditsToUsd(0.1)]).toEqual([0.04, 0.045, 0.001])
  })
})

describe('bflSizeFields', () => {
  describe('FLUX.2: multiples of 16 up to 4 MP', () => {
    it('sends width and height', () => {
      expect(bflSizeFields(model('flux-2-pro'), '1440x816')).toEqual({ width: 1440, height: 816 })
      expect(bflSizeFields(model('flux-2-pro'), '2048x2048')).toEqual({ width: 2048, height: 2048 })
    })
    it('refuses a side that is not a multiple of 16, and more than 4 MP', () => {
      expect(bflSizeFields(model('flux-2-pro'), '1000x1000')).toHaveProperty('problem')
      expect(bflSizeFields(model('flux-2-pro'), '2064x2048')).toHaveProperty('problem')
    })
  })
  describe('FLUX1.1 pro: 256-1440 in multiples of 32', () => {
    it('takes 1440x256 and refuses 1472, 224 and 1000', () => {
      expect(bflSizeFields(model('flux-pro-1.1'), '1440x256')).toEqual({ width: 1440, height: 256 })
      for (const size of ['1472x1024', '224x1024', '1000x1024'])
        expect(bflSizeFields(model('flux-pro-1.1'), size)).toMatchObject({
          problem: expect.stringContaining('256-1440 pixels in multiples of 32'),
        })
    })
  })
  describe('Ultra and Kontext: aspect_ratio', () => {
    it('reduces the size to a ratio, within 21:9 and 9:21', () => {
      expect(bflSizeFields(model('flux-pro-1.1-ultra'), '1920x1080')).toEqual({ aspect_ratio: '16:9' })
      expect(bflSizeFields(model('flux-kontext-pro'), '1024x1024')).toEqual({ aspect_ratio: '1:1' })
      expect(bflSizeFields(model('flux-kontext-max'), '2200x900')).toHaveProperty('problem')
    })
  })
})

describe('options with provider bfl', () => {
  it('defaults to flux-2-pro on https://api.bfl.ai; a region picks its host', () => {
    expect(bfl()).toMatchObject({ model: 'flux-2-pro', baseURL: 'https://api.bfl.ai', concurrency: 24 })
    expect(bfl({ concurrency: 3 }).concurrency).toBe(3)
    expect(resolveOptions({ root: '/site' }, { env: {} }).concurrency).toBe(4)
    expect(bfl({ region: 'eu' }).baseURL).toBe('https://api.eu.bfl.ai')
    expect(resolveOptions({}, { env: { FLUX_PROVIDER: 'bfl', FLUX_REGION: 'us' } }).baseURL).toBe(
      'https://api.us.bfl.ai',
    )
  })
  it('reads BFL_API_KEY before FLUX_API_KEY, and FLUX_API_KEY alone', () => {
    const env = { FLUX_PROVIDER: 'bfl', BFL_API_KEY: 'bfl-key', FLUX_API_KEY: 'flux-key' }
    expect(resolveOptions({}, { env }).apiKey).toBe('bfl-key')
    expect(resolveOptions({}, { env: { FLUX_PROVIDER: 'bfl', FLUX_API_KEY: 'flux-key' } }).apiKey).toBe(
      'flux-key',
    )
    // The gateway never reads BFL's variable.
    expect(resolveOptions({}, { env: { BFL_API_KEY: 'bfl-key' } }).apiKey).toBeUndefined()
  })
  it('refuses a model outside the table, naming the models, and `models` or `sizes`, which it would ignore', () => {
    expect(() => bfl({ model: 'flux-schnell' })).toThrow(/Expected one of BFL's models "flux-2-pro"/)
    expect(() => bfl({ models: ['mine'], sizes: ['100x100'] })).toThrow(
      /models: Not used with provider "bfl".*\n.*sizes: Not used with provider "bfl"/,
    )
  })
})

describe('resolveRequest with provider bfl', () => {
  it('checks the size per model, at the directive, before anything is sent', () => {
    const options = bfl()
    let error: unknown
    try {
      resolveRequest(
        { prompt: 'a cat', params: { model: 'flux-pro-1.1', size: '1536x1024' }, location },
        options,
      )
    } catch (err) {
      error = err
    }
    expect(FluxError.is(error) && error.code).toBe('FLUX_SIZE_UNSUPPORTED')
    expect(String((error as Error).message)).toMatch(
      /^\[flux\] src\/post\.md:7:3: .*"1536x1024" cannot be made: flux-pro-1\.1 takes sides of 256-1440/s,
    )
    expect(
      resolveRequest(
        { prompt: 'a cat', params: { model: 'flux-2-pro', size: '1536x1024' }, location },
        options,
      ),
    ).toMatchObject({ model: 'flux-2-pro', size: '1536x1024', provider: 'bfl', safetyTolerance: 2 })
  })
  it('an unknown model at a directive names BFL’s models and says how to choose', () => {
    const err = (() => {
      try {
        resolveRequest({ prompt: 'a cat', params: { model: 'flux-schnell' }, location }, bfl())
      } catch (e) {
        return e
      }
    })()
    expect(FluxError.is(err, 'FLUX_UNKNOWN_MODEL')).toBe(true)
    expect((err as FluxError).hint).toContain("Use one of BFL's models")
    expect(String(err)).toMatch(
      /src\/post\.md:7:3: Unknown model "flux-schnell"\. Accepted models: flux-2-pro, /,
    )
  })

  it('keys a BFL image apart from a gateway image of the same model name and size', () => {
    const gateway = resolveOptions({ root: '/site' }, { env: {} })
    const directive = { prompt: 'a cat', params: { model: 'flux-pro' } }
    expect(requestKey(resolveRequest(directive, bfl()))).not.toBe(
      requestKey(resolveRequest(directive, gateway)),
    )
  })
})
