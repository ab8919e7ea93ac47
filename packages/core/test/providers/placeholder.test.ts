import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { FluxError } from '../../src/errors.js'
import { createPlaceholderProvider, labelOf } from '../../src/providers/placeholder.js'
import type { CanonicalRequest } from '../../src/types.js'

const provider = createPlaceholderProvider()
const request: CanonicalRequest = {
  model: 'flux-1.1-pro',
  prompt: 'A neon-lit harbour at night, rain reflections',
  size: '1536x1024',
  quality: 'standard',
}

/** Mean RGB of an image, read back with sharp. */
async function meanColour(bytes: Buffer): Promise<number[]> {
  const { channels } = await sharp(bytes).stats()
  return channels.slice(0, 3).map((c) => c.mean)
}

describe('createPlaceholderProvider', () => {
  it('announces itself as a placeholder', () => {
    expect(provider.name).toBe('placeholder')
    expect(provider.placeholder).toBe(true)
  })

  it.each(['1536x1024', '1024x1024', '1024x1536', '1344x768', '768x1344', '1000x667', '64x48', '1x1'])(
    'makes a PNG of exactly %s',
    async (size) => {
      const image = await provider.generate({ ...request, size })
      const [width, height] = size.split('x').map(Number)
      const meta = await sharp(image.bytes).metadata()
      expect(meta.format).toBe('png')
      expect([meta.width, meta.height]).toEqual([width, height])
      expect([image.format, image.width, image.height]).toEqual(['png', width, height])
      expect(image.revisedPrompt).toBeUndefined()
    },
  )

  it('gives the same bytes for the same request', async () => {
    const a = await provider.generate(request)
    const b = await createPlaceholderProvider().generate({ ...request })
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0)
  })

  it('gives visibly different colours to different prompts', async () => {
    const prompts = ['A lighthouse at dawn', 'A neon city', 'A forest in fog', 'A red bicycle']
    const means = await Promise.all(
      prompts.map(async (prompt) => meanColour((await provider.generate({ ...request, prompt })).bytes)),
    )
    for (let i = 0; i < means.length; i++) {
      for (let j = i + 1; j < means.length; j++) {
        const a = means[i] ?? []
        const b = means[j] ?? []
        const distance = Math.hypot(...a.map((v, c) => v - (b[c] ?? 0)))
        expect(distance, `${prompts[i]} vs ${prompts[j]}`).toBeGreaterThan(10)
      }
    }
  })

  it('changes with every field of the request, not only the prompt', async () => {
    const base = (await provider.generate(request)).bytes
    for (const change of [{ model: 'flux-schnell' }, { quality: 'hd' as const }, { seed: 3 }]) {
      const bytes = (await provider.generate({ ...request, ...change })).bytes
      expect(Buffer.compare(bytes, base), JSON.stringify(change)).not.toBe(0)
    }
  })

  it('is visibly a placeholder: a light label on a darkened panel in the middle', async () => {
    const { bytes } = await provider.generate(request)
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true })
    const luma = (x: number, y: number) => {
      const i = (y * info.width + x) * info.channels
      return 0.299 * (data[i] ?? 0) + 0.587 * (data[i + 1] ?? 0) + 0.114 * (data[i + 2] ?? 0)
    }
    let light = 0
    let dark = 0
    for (let y = Math.floor(info.height * 0.4); y < info.height * 0.6; y += 2) {
      for (let x = Math.floor(info.width * 0.2); x < info.width * 0.8; x += 2) {
        const v = luma(x, y)
        if (v > 230) light++
        if (v < 60) dark++
      }
    }
    expect(light).toBeGreaterThan(500)
    expect(dark).toBeGreaterThan(500)
  })

  // How fast it is (well under 100 ms for 1536x1024) is measured by `pnpm bench scanners`
  // (BENCHMARKS.md, section 6), not here: a test that fails on a busy machine is a bug.

  it('has no time in its bytes: generated a second later, still identical', async () => {
    const a = await provider.generate(request)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const b = await provider.generate(request)
    expect(b.created).toBeGreaterThan(a.created)
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0)
  })

  it.each(['', '1024', '1024x', 'x1024', '0x100', '100x0', '9000x100', '1024X1024', ' 1024x1024', '-5x10'])(
    'refuses the size %j with FLUX_INVALID_OPTION_VALUE',
    async (size) => {
      const err = await provider.generate({ ...request, size }).catch((e: unknown) => e)
      expect(FluxError.is(err, 'FLUX_INVALID_OPTION_VALUE')).toBe(true)
    },
  )

  it('honours an aborted signal', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(provider.generate(request, { signal: controller.signal })).rejects.toThrow('stop')
  })
})

describe('labelOf: the first words of the prompt on a placeholder', () => {
  it.for([
    ['A cat', 'A CAT'],
    ['A lighthouse at dawn, watercolor, soft morning light', 'A LIGHTHOUSE AT DAWN...'],
    ['Ein Café über dem Meer', 'EIN CAFE UBER DEM MEER'],
    ['🙂 ✨', 'FLUX'],
    ['Supercalifragilisticexpialidocious words', 'SUPERCALIFRAGILISTICE...'],
  ])('%s -> %s', ([prompt, label]) => {
    expect(labelOf(prompt ?? '')).toBe(label)
  })
})
