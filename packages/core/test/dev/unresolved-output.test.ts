import { describe, expect, it } from 'vitest'
import { findUnresolved, locateUnresolved } from '../../src/dev/unresolved-output.js'
import { scanSource } from '../../src/directives/index.js'

const LAKE = 'flux: A quiet mountain lake at dawn?size=1536x1024&model=flux-schnell'
// As Astro escapes it in an attribute.
const ESCAPED = LAKE.replace('&', '&amp;')

describe('findUnresolved: each place a URL goes', () => {
  it.each([
    ['src', `<img src="${ESCAPED}" alt="">`, '<img src>'],
    ['srcset', `<img src="/a.jpg" srcset="${ESCAPED} 2x" alt="">`, '<img srcset>'],
    [
      '<source srcset>',
      `<picture><source srcset="/a.webp 480w, ${ESCAPED} 960w"></picture>`,
      '<source srcset>',
    ],
    ['href', `<a href='${ESCAPED}'>full size</a>`, '<a href>'],
    ['content', `<meta property="og:image" content="${ESCAPED}">`, '<meta content>'],
    [
      'style url()',
      `<div style="background: url(&quot;${ESCAPED}&quot;) no-repeat"></div>`,
      '<div style> CSS url()',
    ],
    ['<style> url()', `<style>.hero { background-image: url('${LAKE}') }</style>`, '<style> CSS url()'],
  ])('html %s', (_name, html, where) => {
    expect(findUnresolved(`<body>${html}</body>`, 'html')).toEqual([{ where, directive: LAKE }])
  })

  it('css: url() in a stylesheet, quoted or not', () => {
    const css = `.a{background:url(${LAKE.replace('&', '%26')})}.b{background:url("${LAKE}")}`
    expect(findUnresolved(css, 'css')).toEqual([
      { where: 'CSS url()', directive: LAKE.replace('&', '%26') },
      { where: 'CSS url()', directive: LAKE },
    ])
  })

  it('rss: an <enclosure url>, a <media:content url> and an item <link>', () => {
    const rss = `<rss><channel><item><link>${ESCAPED}</link><enclosure url="${ESCAPED}" length="0" type="image/jpeg"/><media:content url="${ESCAPED}"/></item></channel></rss>`
    expect(findUnresolved(rss, 'xml').map((f) => f.where)).toEqual([
      '<enclosure url>',
      '<media:content url>',
      '<link>',
    ])
    for (const found of findUnresolved(rss, 'xml')) expect(found.directive).toBe(LAKE)
  })

  it('sitemap: an <image:loc>, also in CDATA', () => {
    const xml = `<urlset><url><loc>/a/</loc><image:image><image:loc><![CDATA[${LAKE}]]></image:loc></image:image></url></urlset>`
    expect(findUnresolved(xml, 'xml')).toEqual([{ where: '<image:loc>', directive: LAKE }])
  })

  it('a srcset candidate whose prompt holds commas is one directive', () => {
    const html = `<img srcset="flux:A harbour, at night, in rain 1x, /b.jpg 2x">`
    expect(findUnresolved(html, 'html')).toEqual([
      { where: '<img srcset>', directive: 'flux:A harbour, at night, in rain' },
    ])
  })
})

describe('findUnresolved: what is not a URL', () => {
  it('prose, code and titles that mention flux: are left alone', () => {
    const html = `<p>Write <code>flux: A lighthouse</code> where an image goes.</p><a href="/x/" title="flux: a title">x</a><img alt="flux: an alt" src="/a.jpg">`
    expect(findUnresolved(html, 'html')).toEqual([])
  })

  it('a resolved page has nothing to report', () => {
    const html = `<picture><source type="image/avif" srcset="/_flux/a-1.avif 480w"><img src="/_flux/a-1.jpg" alt="A lake"></picture>`
    expect(findUnresolved(html, 'html')).toEqual([])
  })
})

// Regression (issue 23, section 2): the srcset check read the rest of the value again from every
// comma (80 KB of raw HTML: 4.7 s; 400 KB: about 2 minutes), and the `<style>`, CSS `url()` and XML
// text checks read the rest of the page again from every opening that did not close. The speed is
// measured in bench/output-check.mjs; these check what comes back from large hostile pages.
describe('findUnresolved: large hostile pages', () => {
  const COUNT = 20_000

  it('a srcset of 400 KB of commas without a space is one directive, whole', () => {
    const value = `flux:${'a,'.repeat(200_000)}`
    expect(findUnresolved(`<img srcset="${value}">`, 'html')).toEqual([
      { where: '<img srcset>', directive: value },
    ])
  })

  it(`a srcset of ${COUNT} directives between ${COUNT} URLs gives each directive, without its descriptor`, () => {
    const value = Array.from(
      { length: COUNT },
      (_, i) => `flux:Harbour ${i}, at night 1x, /b${i}.jpg 2x`,
    ).join(', ')
    const found = findUnresolved(`<source srcset="${value}">`, 'html')
    expect(found).toHaveLength(COUNT)
    expect(found.map((f) => f.directive)).toEqual(
      Array.from({ length: COUNT }, (_, i) => `flux:Harbour ${i}, at night`),
    )
  })

  it(`${COUNT} openings of ",flux:" in one srcset give one directive per opening`, () => {
    const found = findUnresolved(`<img srcset="${', /a.jpg 1x,flux:b'.repeat(COUNT)}">`, 'html')
    expect(found.map((f) => f.directive)).toEqual(Array(COUNT).fill('flux:b'))
  })

  it(`${COUNT} unclosed <style> after a closed one: only the closed one is read`, () => {
    const html = `<style>a { background: url(${LAKE}) }</style>${'<style>url(flux:x'.repeat(COUNT)}`
    expect(findUnresolved(html, 'html')).toEqual([{ where: '<style> CSS url()', directive: LAKE }])
  })

  it(`css: ${COUNT} unclosed url(flux: and 400 KB of spaces before a quote find nothing; closed ones are each found`, () => {
    expect(findUnresolved(`${'url(flux:a '.repeat(COUNT)}`, 'css')).toEqual([])
    expect(findUnresolved(`url(flux:a${' '.repeat(400_000)}'`, 'css')).toEqual([])
    const closed = findUnresolved(`${"url( 'flux:b' ) ".repeat(COUNT)}`, 'css')
    expect(closed).toEqual(Array(COUNT).fill({ where: 'CSS url()', directive: 'flux:b' }))
  })

  it(`xml: ${COUNT} unclosed tags before a feed entry find only the entry`, () => {
    const xml = `${'<a '.repeat(COUNT)}<rss><item><link>${ESCAPED}</link></item></rss>`
    expect(findUnresolved(xml, 'xml')).toEqual([{ where: '<link>', directive: LAKE }])
  })
})

describe('locateUnresolved: the frontmatter field, by the path the scan recorded', () => {
  it('names a nested field and a list item, and a body image by its kind (no file is read)', () => {
    const text =
      '---\nog:\n  image: "flux: An og card"\ngallery:\n  - ./a.png\n  - flux: A fox\n---\n\n![x](flux:A body)\n'
    // The post is scanned, never written: a field's name comes from the scan alone.
    const { directives } = scanSource('src/content/blog/post.md', text)
    const found = ['flux: An og card', 'flux:A fox', 'flux:A body'].map((directive) => ({
      where: '<img src>',
      directive,
    }))
    const errors = locateUnresolved('/blog/post/index.html', found, { directives })
    expect(errors.map((e) => e.message.replace(/^.*nothing resolved it /, ''))).toEqual([
      '(frontmatter field "og.image").',
      '(frontmatter field "gallery[1]").',
      '(a markdown directive).',
    ])
  })
})
