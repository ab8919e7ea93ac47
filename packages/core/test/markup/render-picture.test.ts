import { describe, expect, it } from 'vitest'
import { pictureElement, renderPicture, toHast, toHtml } from '../../src/markup/index.js'
import { escapeHtml } from '../../src/optimize/escape-html.js'
import type { ImageResult } from '../../src/optimize/image-result.js'

interface Tag {
  name: string
  closing: boolean
  attrs: Record<string, string>
}

/**
 * A strict little tokenizer for the markup renderPicture writes: tags only (no text), attribute
 * values double-quoted. Throws on anything else, so malformed output fails the test.
 */
function parseTags(html: string): Tag[] {
  const tags: Tag[] = []
  let i = 0
  const fail = (why: string): never => {
    throw new Error(`${why} at ${i}: ${html.slice(i, i + 40)}`)
  }
  while (i < html.length) {
    if (html[i] !== '<') fail('expected <')
    i++
    const closing = html[i] === '/'
    if (closing) i++
    const nameStart = i
    while (i < html.length && /[a-z]/.test(html[i] ?? '')) i++
    const name = html.slice(nameStart, i)
    if (!name) fail('expected a tag name')
    const attrs: Record<string, string> = {}
    for (;;) {
      if (html[i] === '>') {
        i++
        break
      }
      if (html[i] !== ' ' || closing) fail('expected a space or >')
      i++
      const attrStart = i
      while (i < html.length && /[a-z-]/.test(html[i] ?? '')) i++
      const attr = html.slice(attrStart, i)
      if (!attr || html.slice(i, i + 2) !== '="') fail('expected name="')
      i += 2
      const end = html.indexOf('"', i)
      if (end < 0) fail('unterminated value')
      const value = html.slice(i, end)
      if (/[<>]/.test(value)) fail('unescaped < or > in a value')
      if (attr in attrs) fail(`duplicate attribute ${attr}`)
      attrs[attr] = value
      i = end + 1
    }
    tags.push({ name, closing, attrs })
  }
  return tags
}

const decodeEntities = (s: string) =>
  s.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? '',
  )

function image(overrides: Partial<ImageResult> = {}): ImageResult {
  const url = (w: number, ext: string) => `/_flux/a-lighthouse-0123456789ab-${w}.${ext}`
  const srcset = (ext: string) => [480, 960, 1536].map((w) => `${url(w, ext)} ${w}w`).join(', ')
  return {
    src: url(1536, 'jpg'),
    width: 1536,
    height: 1024,
    alt: 'A lighthouse',
    prompt: 'A lighthouse at dawn',
    key: '0123456789abcdef01234567',
    placeholder: 'data:image/webp;base64,UklGRkAAAABXRUJQVlA4IDQAAADQAQCdASoQAAsAAUAmJaQAA3AA/v7+AAA=',
    dominantColor: '#336699',
    hasAlpha: false,
    sources: [
      { type: 'image/avif', srcset: srcset('avif') },
      { type: 'image/webp', srcset: srcset('webp') },
    ],
    srcset: srcset('jpg'),
    files: [],
    ...overrides,
  }
}

describe('renderPicture', () => {
  it('writes one <picture>, a <source> per modern format, one <img> with every attribute', () => {
    const tags = parseTags(renderPicture(image()))
    expect(tags.map((t) => `${t.closing ? '/' : ''}${t.name}`)).toEqual([
      'picture',
      'source',
      'source',
      'img',
      '/picture',
    ])
    const [, avif, webp, img] = tags as [Tag, Tag, Tag, Tag]
    expect(avif.attrs).toEqual({ type: 'image/avif', srcset: image().sources[0]?.srcset, sizes: '100vw' })
    expect(webp.attrs.type).toBe('image/webp')
    expect(img.attrs).toMatchObject({
      src: image().src,
      srcset: image().srcset,
      sizes: '100vw',
      width: '1536',
      height: '1024',
      alt: 'A lighthouse',
      loading: 'lazy',
      decoding: 'async',
    })
    expect(img.attrs.fetchpriority).toBeUndefined()
    expect(img.attrs.class).toBeUndefined()
  })

  it('takes alt, sizes, class, loading, decoding and fetchpriority from the caller', () => {
    const tags = parseTags(
      renderPicture(image(), {
        alt: 'Other',
        sizes: '(min-width: 800px) 50vw, 100vw',
        class: 'hero wide',
        loading: 'eager',
        decoding: 'sync',
        fetchpriority: 'high',
      }),
    )
    const img = tags.find((t) => t.name === 'img')
    expect(img?.attrs).toMatchObject({
      alt: 'Other',
      sizes: '(min-width: 800px) 50vw, 100vw',
      class: 'hero wide',
      loading: 'eager',
      decoding: 'sync',
      fetchpriority: 'high',
    })
    const sources = tags.filter((t) => t.name === 'source')
    expect(sources).toHaveLength(image().sources.length)
    for (const source of sources) expect(source.attrs.sizes).toBe('(min-width: 800px) 50vw, 100vw')
  })

  it('always writes alt, even empty', () => {
    const img = parseTags(renderPicture(image({ alt: '' }))).find((t) => t.name === 'img')
    expect(img?.attrs.alt).toBe('')
  })

  it('escapes every attribute value', () => {
    const evil = '"><script>alert(1)</script>'
    const html = renderPicture(image({ alt: evil }), { class: "x' onload='alert(1)", sizes: '<b>&' })
    expect(html).not.toContain('<script')
    expect(html).not.toContain("'")
    const img = parseTags(html).find((t) => t.name === 'img')
    expect(decodeEntities(img?.attrs.alt ?? '')).toBe(evil)
    expect(decodeEntities(img?.attrs.class ?? '')).toBe("x' onload='alert(1)")
    expect(img?.attrs.sizes).toBe('&lt;b&gt;&amp;')
  })

  it('shows a blur placeholder as a covering background, without breaking layout', () => {
    const style = decodeEntities(
      parseTags(renderPicture(image())).find((t) => t.name === 'img')?.attrs.style ?? '',
    )
    expect(style).toContain('max-width:100%')
    expect(style).toContain('height:auto')
    expect(style).toContain('background-size:cover')
    expect(style).toContain(`background-image:url("${image().placeholder}")`)
  })

  it('shows a colour placeholder as a background colour', () => {
    const style = parseTags(renderPicture(image({ placeholder: '#336699' }))).find((t) => t.name === 'img')
      ?.attrs.style
    expect(style).toBe('max-width:100%;height:auto;background-color:#336699')
  })

  it('puts no placeholder behind an image with transparency, nor when there is none', () => {
    for (const img of [image({ hasAlpha: true }), image({ placeholder: undefined })]) {
      const style = parseTags(renderPicture(img)).find((t) => t.name === 'img')?.attrs.style
      expect(style).toBe('max-width:100%;height:auto')
    }
  })

  it('appends the caller style, so it can override', () => {
    const style = parseTags(
      renderPicture(image({ placeholder: undefined }), { style: 'border-radius:8px' }),
    ).find((t) => t.name === 'img')?.attrs.style
    expect(style).toBe('max-width:100%;height:auto;border-radius:8px')
  })

  it('writes a bare <img> inside <picture> when there are no modern formats', () => {
    const tags = parseTags(renderPicture(image({ sources: [] })))
    expect(tags.map((t) => t.name)).toEqual(['picture', 'img', 'picture'])
  })
})

describe('escapeHtml', () => {
  it('escapes & < > " and \'', () => {
    expect(escapeHtml(`a & b < c > d " e ' f`)).toBe('a &amp; b &lt; c &gt; d &quot; e &#39; f')
  })

  it('escapes an existing entity again (values are text, not markup)', () => {
    expect(escapeHtml('&amp;')).toBe('&amp;amp;')
  })
})

describe('toHast', () => {
  it("is pictureElement's <picture> as a hast tree (what renderPicture writes), attributes unescaped", () => {
    const image: ImageResult = {
      src: '/_flux/a-320.jpg',
      width: 320,
      height: 213,
      alt: 'Tom & "Jerry"',
      prompt: 'p',
      key: 'k',
      placeholder: '#102030',
      dominantColor: '#102030',
      hasAlpha: false,
      sources: [{ type: 'image/avif', srcset: '/_flux/a-160.avif 160w, /_flux/a-320.avif 320w' }],
      srcset: '/_flux/a-160.jpg 160w, /_flux/a-320.jpg 320w',
      files: [],
    }
    const attrs = { class: 'hero wide', fetchpriority: 'high' } as const
    const element = pictureElement(image, attrs)
    // One tree, two serializations: the string is the tree's.
    expect(toHtml(element)).toBe(renderPicture(image, attrs))
    const tree = toHast(element)
    expect(tree.tagName).toBe('picture')
    expect(tree.children.map((c) => c.tagName)).toEqual(['source', 'img'])
    expect(tree.children[0]?.properties).toEqual({
      type: 'image/avif',
      srcSet: '/_flux/a-160.avif 160w, /_flux/a-320.avif 320w',
      sizes: '100vw',
    })
    expect(tree.children[1]?.properties).toMatchObject({
      src: '/_flux/a-320.jpg',
      width: '320',
      height: '213',
      alt: 'Tom & "Jerry"',
      fetchPriority: 'high',
      className: ['hero', 'wide'],
      style: 'max-width:100%;height:auto;background-color:#102030',
    })
  })
})
