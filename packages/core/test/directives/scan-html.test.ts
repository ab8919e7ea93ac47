import { describe, expect, it } from 'vitest'
import { scanHtml } from '../../src/directives/index.js'
import { checkLocations, prompts, rows } from './helpers.js'

const html = (text: string) => {
  const result = scanHtml(text, 'index.html')
  expect(checkLocations(text, 'index.html', result)).toBeUndefined()
  expect(result.errors).toEqual([])
  return result
}

describe('scanHtml: missing and empty', () => {
  it('finds nothing without flux images', () => {
    expect(html('').directives).toEqual([])
    expect(
      html('<!doctype html><html><body><img src="/a.png" alt="flux:no"><p>flux:text</p></body></html>')
        .directives,
    ).toEqual([])
  })

  it('reads `<img src="flux:">` with no alt as an empty prompt', () => {
    expect(rows(html('<img src="flux:">'))).toEqual([['html', 1, 11, '', {}]])
  })
})

describe('scanHtml: valid', () => {
  it('reads double, single and unquoted values, any case, with alt', () => {
    const text = [
      '<img src="flux:A lighthouse?size=1536x1024" alt="A lighthouse">',
      "<IMG ALT='Boat' SRC='flux:A boat'>",
      '<img src=flux:gull alt=Gull/>',
      '<img\n  alt="multi"\n  src = "flux:multi line tag"\n>',
    ].join('\n')
    expect(rows(html(text))).toEqual([
      ['html', 1, 11, 'A lighthouse', { size: '1536x1024', alt: 'A lighthouse' }],
      ['html', 2, 22, 'A boat', { alt: 'Boat' }],
      ['html', 3, 10, 'gull', { alt: 'Gull/' }],
      ['html', 6, 10, 'multi line tag', { alt: 'multi' }],
    ])
  })

  it('decodes entities in src and alt, before the grammar', () => {
    expect(
      rows(html('<img src="flux:Tom &amp; Jerry&#63;size=1024x1024" alt="&quot;T&amp;J&quot; &#x1F600;">')),
    ).toEqual([['html', 1, 11, 'Tom & Jerry', { size: '1024x1024', alt: '"T&J" 😀' }]])
  })

  it('uses the alt as the prompt of an empty directive, and keeps the query alt', () => {
    expect(
      rows(html('<img src="flux:?seed=3" alt="From alt"><img src="flux:x?alt=Q" alt="ignored">')),
    ).toEqual([
      ['html', 1, 11, 'From alt', { seed: '3', alt: 'From alt' }],
      ['html', 1, 50, 'x', { alt: 'Q' }],
    ])
  })

  it('keeps the first of duplicate attributes, as browsers do', () => {
    expect(prompts(html('<img src="flux:first" src="flux:second">'))).toEqual(['first'])
  })

  it('reads `flux:` imports in inline module scripts', () => {
    const text = '<script type="module">\n  import hero from "flux:A hero"\n</script>'
    expect(rows(html(text))).toEqual([['import', 2, 21, 'A hero', {}]])
  })

  it('reads images in <pre> and <code>, which browsers render', () => {
    expect(prompts(html('<pre><img src="flux:a"></pre><code><img src="flux:b"></code>'))).toEqual(['a', 'b'])
  })

  it('does not let an attribute value that contains a tag hide the next image', () => {
    expect(prompts(html('<div title="<img src=\'flux:no\'>"></div><img src="flux:yes">'))).toEqual(['yes'])
  })
})

describe('scanHtml: skipped', () => {
  it('skips comments, including `<!-->` forms', () => {
    expect(
      prompts(html('<!-- <img src="flux:a"> --><!--><img src="flux:b"><!---><img src="flux:c">')),
    ).toEqual(['b', 'c'])
  })

  it('skips style, textarea, title and JSON scripts, and scripts with src', () => {
    const text = [
      '<style>img[src="flux:a"] { }</style>',
      '<textarea><img src="flux:b"></textarea>',
      '<title><img src="flux:c"></title>',
      '<script type="application/ld+json">{"import": "flux:d"}</script>',
      '<script src="/x.js">import a from "flux:e"</script>',
      '<script>const s = "<img src=\'flux:f\'>"</SCRIPT ><img src="flux:yes">',
    ].join('\n')
    expect(prompts(html(text))).toEqual(['yes'])
  })

  it('ignores src values that are not directives and `data-src`', () => {
    expect(html('<img data-src="flux:a"><img src="https://x/flux:a"><img src=" FLUX:a">').directives).toEqual(
      [],
    )
  })
})

describe('scanHtml: invalid', () => {
  it('stops at a tag left open to the end, as the browser does, without throwing', () => {
    expect(prompts(html('<img src="flux:a"><img src="flux:b'))).toEqual(['a'])
    expect(prompts(html('<img src="flux:a"><p class="x'))).toEqual(['a'])
  })

  it('skips an unclosed comment to the end', () => {
    expect(prompts(html('<img src="flux:a"><!-- <img src="flux:b">'))).toEqual(['a'])
  })
})

describe('scanHtml: spans', () => {
  it("gives the src value's offsets and the whole <img> tag's", () => {
    const text = '<p>x</p>\n<img alt="a" src=" flux:a cat?size=1536x1024 " class="c">\n'
    const [d] = html(text).directives
    const tag = '<img alt="a" src=" flux:a cat?size=1536x1024 " class="c">'
    expect(d?.span).toEqual({ start: 28, end: 53 })
    expect(d?.element).toEqual({ start: 9, end: 9 + tag.length })
    expect(text.slice(d?.element?.start, d?.element?.end)).toBe(tag)
  })
})
