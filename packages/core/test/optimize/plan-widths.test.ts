import { describe, expect, it } from 'vitest'
import { planWidths } from '../../src/optimize/plan-widths.js'
import { slugify } from '../../src/optimize/slugify.js'

const widths = [480, 960, 1440]

describe('planWidths', () => {
  it('adds the original width as the largest', () => {
    expect(planWidths({ width: 1536, height: 1024 }, { widths })).toEqual([
      { width: 480, height: 320 },
      { width: 960, height: 640 },
      { width: 1440, height: 960 },
      { width: 1536, height: 1024 },
    ])
  })

  it('never upscales: widths at or above the original collapse into it', () => {
    expect(planWidths({ width: 1024, height: 1024 }, { widths }).map((s) => s.width)).toEqual([
      480, 960, 1024,
    ])
    expect(planWidths({ width: 960, height: 640 }, { widths }).map((s) => s.width)).toEqual([480, 960])
    expect(planWidths({ width: 300, height: 200 }, { widths }).map((s) => s.width)).toEqual([300])
  })

  it('caps at maxWidth, keeping the aspect ratio', () => {
    expect(planWidths({ width: 1536, height: 1024 }, { widths, maxWidth: 1000 })).toEqual([
      { width: 480, height: 320 },
      { width: 960, height: 640 },
      { width: 1000, height: 667 },
    ])
  })

  it('rounds heights and never returns 0', () => {
    expect(planWidths({ width: 1344, height: 768 }, { widths: [480] })[0]).toEqual({
      width: 480,
      height: 274,
    })
    expect(planWidths({ width: 4000, height: 1 }, { widths: [10] })[0]).toEqual({ width: 10, height: 1 })
  })

  it('with no widths, emits the original alone', () => {
    expect(planWidths({ width: 768, height: 1344 }, { widths: [] })).toEqual([{ width: 768, height: 1344 }])
  })
})

describe('slugify', () => {
  it('makes a short ascii slug cut at a word boundary', () => {
    expect(slugify('A neon-lit cyberpunk city street at night, rain reflections')).toBe(
      'a-neon-lit-cyberpunk-city-street',
    )
    expect(slugify('Crème brûlée, façade')).toBe('creme-brulee-facade')
  })

  it('is never empty and never longer than the limit', () => {
    expect(slugify('東京の夜景')).toBe('image')
    expect(slugify('   ?!  ')).toBe('image')
    expect(slugify('x'.repeat(100))).toBe('x'.repeat(32))
    for (const s of ['a b c', 'word '.repeat(30)]) expect(slugify(s).length).toBeLessThanOrEqual(32)
  })

  it('only ever yields [a-z0-9-]', () => {
    expect(slugify('../../etc/passwd\u0000<script>')).toMatch(/^[a-z0-9-]+$/)
  })
})
