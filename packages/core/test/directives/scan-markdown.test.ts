import { describe, expect, it } from 'vitest'
import { scanMarkdown } from '../../src/directives/index.js'
import { checkLocations, prompts, rows } from './helpers.js'

const md = (text: string, startLine?: number) => {
  const result = scanMarkdown(text, 'post.md', startLine)
  expect(checkLocations(text, 'post.md', result, startLine)).toBeUndefined()
  expect(result.errors).toEqual([])
  return result
}

describe('scanMarkdown: missing and empty', () => {
  it('finds nothing in an empty body or one without directives', () => {
    expect(md('').directives).toEqual([])
    expect(md('\n\n  \r\n').directives).toEqual([])
    expect(md('# Title\n\n![a photo](/a.png) [a link](https://x) ![x](<b c.png>)\n').directives).toEqual([])
  })

  it('ignores links (not images) to flux: and bare flux: text', () => {
    expect(md('[not an image](flux:a cat) and flux:a dog, <flux:autolink>').directives).toEqual([])
  })
})

describe('scanMarkdown: the three destination forms', () => {
  it('reads the angle-bracket form with spaces and options', () => {
    const result = md(
      'Intro\n\n![The harbour at night](<flux:A neon-lit harbour at night, rain?size=1536x1024>)\n',
    )
    expect(rows(result)).toEqual([
      [
        'markdown',
        3,
        26,
        'A neon-lit harbour at night, rain',
        { size: '1536x1024', alt: 'The harbour at night' },
      ],
    ])
    expect(result.directives[0]?.raw).toBe('flux:A neon-lit harbour at night, rain?size=1536x1024')
  })

  it('reads the percent-encoded form', () => {
    expect(rows(md('![x](flux:A%20lighthouse%20at%20dawn?model=flux-dev)'))).toEqual([
      ['markdown', 1, 6, 'A lighthouse at dawn', { model: 'flux-dev', alt: 'x' }],
    ])
  })

  it('reads the form people type, with spaces', () => {
    expect(rows(md('See ![A lighthouse](flux:A lighthouse at dawn, watercolor) here.'))).toEqual([
      ['markdown', 1, 21, 'A lighthouse at dawn, watercolor', { alt: 'A lighthouse' }],
    ])
  })

  it('balances nested parentheses in a typed prompt', () => {
    expect(prompts(md('![c](flux:a cat (tabby (orange)) on a mat) (aside)'))).toEqual([
      'a cat (tabby (orange)) on a mat',
    ])
  })

  it('reads a typed prompt wrapped over lines of one paragraph as one line', () => {
    const result = md('![c](flux:a cat\n  on a mat?size=1024x1024)')
    expect(rows(result)).toEqual([['markdown', 1, 6, 'a cat on a mat', { size: '1024x1024', alt: 'c' }]])
  })

  it('allows space around the destination', () => {
    expect(rows(md('![c]( <flux:a> )\n![d](  flux:b c  )'))).toEqual([
      ['markdown', 1, 8, 'a', { alt: 'c' }],
      ['markdown', 2, 8, 'b c', { alt: 'd' }],
    ])
  })
})

describe('scanMarkdown: titles and alt text', () => {
  it('ignores a CommonMark title after an angle destination', () => {
    expect(prompts(md('![a](<flux:x y> "The title") ![b](<flux:z> \'t\') ![c](<flux:w> (t))'))).toEqual([
      'x y',
      'z',
      'w',
    ])
  })

  it('ignores a title after a destination without spaces, but keeps quotes in a typed prompt', () => {
    expect(prompts(md('![a](flux:x%20y "The title")'))).toEqual(['x y'])
    expect(prompts(md('![a](flux:a sign saying "hello")'))).toEqual(['a sign saying "hello"'])
  })

  it('uses the alt text as the prompt of `flux:`', () => {
    expect(rows(md('![A lighthouse at dawn](flux:)'))).toEqual([
      ['markdown', 1, 25, 'A lighthouse at dawn', { alt: 'A lighthouse at dawn' }],
    ])
    expect(rows(md('![A lighthouse](<flux:?size=1536x1024>)'))).toEqual([
      ['markdown', 1, 18, 'A lighthouse', { size: '1536x1024', alt: 'A lighthouse' }],
    ])
  })

  it('lets the query set alt over the markdown alt', () => {
    expect(rows(md('![markdown alt](<flux:a?alt=query alt>)'))[0]?.[4]).toEqual({ alt: 'query alt' })
  })

  it('leaves alt unset (and the prompt empty) when both are empty', () => {
    expect(rows(md('![](flux:)'))).toEqual([['markdown', 1, 5, '', {}]])
  })

  it('resolves escapes and entities in alt text, and keeps its whitespace as the processors do', () => {
    expect(rows(md('![A \\[b\\] &amp;\n  c [d]](flux:p)'))[0]?.[4]).toEqual({ alt: 'A [b] &\nc [d]' })
  })

  it("regression: a multi-line alt filling the prompt is the processors' text (hard breaks dropped)", () => {
    expect(prompts(md('![A  b &#9; c\n   d   \ne\\\nf](flux:)'))).toEqual(['A  b \t c\nde' + 'f'])
  })

  it('resolves backslash escapes and entities in the destination', () => {
    expect(prompts(md('![a](<flux:a \\> b &amp; c>) ![b](flux:x \\) y)'))).toEqual(['a > b & c', 'x ) y'])
  })
})

describe('scanMarkdown: invalid destinations are not images', () => {
  it.each([
    ['an angle destination with a line break', '![a](<flux:a\nb>)'],
    ['an angle destination with `<`', '![a](<flux:a<b>)'],
    ['junk after an angle destination', '![a](<flux:a> junk)'],
    ['an unclosed parenthesis', '![a](flux:a cat'],
    ['an unclosed bracket', '![a (flux:a)'],
    ['a space between `]` and `(`', '![a] (flux:a)'],
    ['a blank line inside', '![a](flux:a\n\nb)'],
    ['an upper-case scheme', '![a](FLUX:a)'],
  ])('ignores %s', (_, text) => {
    expect(md(text).directives).toEqual([])
  })
})

describe('scanMarkdown: code and comments are not directives', () => {
  it('skips fenced code blocks (``` and ~~~, longer fences, up to 3 spaces in)', () => {
    const text = [
      '```md', // 1
      '![no](flux:a)',
      '```',
      '~~~',
      '![no](flux:b)',
      '~~~~', // 6: a longer closing fence closes
      '   ````js',
      '![no](flux:c)',
      '```', // 9: too short to close
      '![no](flux:d)',
      '   ````',
      '![yes](flux:e)', // 12
    ].join('\n')
    expect(rows(md(text))).toEqual([['markdown', 12, 8, 'e', { alt: 'yes' }]])
  })

  it('does not close a fence with the other fence character or with text after it', () => {
    const text = '```\n~~~\n``` x\n![no](flux:a)\n```\n![yes](flux:b)'
    expect(prompts(md(text))).toEqual(['b'])
  })

  it('treats an unclosed fence as code to the end', () => {
    expect(md('![yes](flux:a)\n```\n![no](flux:b)\n').directives.map((d) => d.prompt)).toEqual(['a'])
  })

  it('does not take a line indented 4 spaces for a fence, nor a backtick fence with backticks in its info', () => {
    expect(prompts(md('para\n    ```\n![yes](flux:a)'))).toEqual(['a'])
    expect(prompts(md('``` a`b ```\n![yes](flux:b)'))).toEqual(['b'])
  })

  it('skips indented code blocks, but not a lazy paragraph continuation', () => {
    expect(
      prompts(md('Text\n\n    ![no](flux:a)\n\tmore code ![no](flux:b)\n\nText\n    ![yes](flux:c)')),
    ).toEqual(['c'])
  })

  it('skips fences inside list items and block quotes', () => {
    const text = [
      '- item',
      '  ```',
      '  ![no](flux:a)',
      '  ```',
      '',
      '  ![yes](flux:b)', // 6: list item paragraph, not code
      '',
      '> ```',
      '> ![no](flux:c)',
      '> ```',
      '> ![yes](flux:d)', // 11
      '',
      '1. ```',
      '   ![no](flux:e)',
      '   ```',
    ].join('\n')
    expect(rows(md(text))).toEqual([
      ['markdown', 6, 10, 'b', { alt: 'yes' }],
      ['markdown', 11, 10, 'd', { alt: 'yes' }],
    ])
  })

  it('ends a list item fence when the item ends', () => {
    expect(prompts(md('- ```\n  ![no](flux:a)\n\n![yes](flux:b)'))).toEqual(['b'])
  })

  it('skips inline code spans of any length', () => {
    const text =
      '`![no](flux:a)` ``![no](flux:b) ` ![no](flux:c)`` ![yes](flux:d) ```x``` `unclosed ![yes](flux:e)'
    expect(prompts(md(text))).toEqual(['d', 'e'])
  })

  it('does not let a code span cross a paragraph break', () => {
    expect(prompts(md('a `stray\n\n![yes](flux:a) `'))).toEqual(['a'])
  })

  it('skips HTML comments, inline and over several lines', () => {
    const text =
      'a <!-- ![no](flux:a) --> ![yes](flux:b)\n\n<!--\n![no](flux:c)\n\n![no](flux:d)\n-->\n![yes](flux:e)'
    expect(prompts(md(text))).toEqual(['b', 'e'])
  })

  it('does not take an escaped `\\![` for an image', () => {
    expect(prompts(md('\\![no](flux:a) \\\\![yes](flux:b)'))).toEqual(['b'])
  })

  it('does not read markdown inside an HTML block, but reads its <img> tags', () => {
    const text = '<div>\n![no](flux:a)\n<img src="flux:b" alt="B">\n</div>\n\n![yes](flux:c)'
    expect(rows(md(text))).toEqual([
      ['html', 3, 11, 'b', { alt: 'B' }],
      ['markdown', 6, 8, 'c', { alt: 'yes' }],
    ])
  })

  it('skips script and style blocks but reads <pre> images', () => {
    const text = '<script>\nlet a = \'<img src="flux:no">\'\n</script>\n<pre>\n<img src="flux:pre">\n</pre>'
    expect(prompts(md(text))).toEqual(['pre'])
  })
})

describe('scanMarkdown: HTML and MDX', () => {
  it('reads <img src="flux:..."> in a paragraph, entity-decoded, with its alt', () => {
    expect(
      rows(md('Text <img alt="Tom &amp; Jerry" src="flux:Tom &amp; Jerry?size=1024x1024"> text')),
    ).toEqual([['html', 1, 38, 'Tom & Jerry', { size: '1024x1024', alt: 'Tom & Jerry' }]])
  })

  it('reads MDX imports, <FluxImage> and skips {/* comments */}', () => {
    const text = [
      "import hero from 'flux:A hero?size=1536x1024'",
      "export { x } from 'flux:exported'",
      '',
      '<FluxImage prompt="A component" size="1024x1024" />',
      '',
      '{/* ![no](flux:comment) */}',
      '    ![indented is text in MDX](flux:d)',
    ].join('\n')
    const result = scanMarkdown(text, 'post.mdx')
    expect(rows(result)).toEqual([
      ['import', 1, 19, 'A hero', { size: '1536x1024' }],
      ['import', 2, 20, 'exported', {}],
      ['component', 4, 1, 'A component', { size: '1024x1024' }],
      ['markdown', 7, 32, 'd', { alt: 'indented is text in MDX' }],
    ])
    expect(checkLocations(text, 'post.mdx', result)).toBeUndefined()
  })

  it('does not read imports in plain markdown unless asked', () => {
    const text = "import hero from 'flux:a'\n"
    expect(scanMarkdown(text, 'post.md').directives).toEqual([])
    expect(scanMarkdown(text, 'post.md', 1, { mdx: true }).directives).toHaveLength(1)
  })
})

describe('scanMarkdown: typos', () => {
  it('carries the unknown options of a mistyped query on the directive', () => {
    const [directive] = md('![a](<flux:a cat?sise=1024x1024>)').directives
    expect(directive).toMatchObject({
      prompt: 'a cat?sise=1024x1024',
      params: { alt: 'a' },
      unknownParams: ['sise'],
    })
  })
})

describe('scanMarkdown: locations', () => {
  it('numbers lines from startLine', () => {
    expect(rows(md('\n![a](flux:b)', 10))).toEqual([['markdown', 11, 6, 'b', { alt: 'a' }]])
  })

  it('counts CRLF and lone CR as one line break', () => {
    const text = 'a\r\n\r\n![x](flux:one)\r\n```\r\n![no](flux:no)\r\n```\r![y](flux:two)'
    expect(rows(md(text))).toEqual([
      ['markdown', 3, 6, 'one', { alt: 'x' }],
      ['markdown', 7, 6, 'two', { alt: 'y' }],
    ])
  })

  it('finds several images on one line, inside links and tables', () => {
    const text = '| a | b |\n|---|---|\n| ![a](flux:a) | [![b](flux:b)](https://x) |'
    expect(rows(md(text)).map((r) => [r[1], r[2], r[3]])).toEqual([
      [3, 8, 'a'],
      [3, 24, 'b'],
    ])
  })
})

describe('scanMarkdown: spans', () => {
  it("gives the destination's offsets and the whole image's, in every form", () => {
    const text = 'a ![x](<flux:one>) b ![y [z]](flux:two words "t") c ![](flux:three%20x "title")\n'
    const found = md(text).directives.map((d) => [
      text.slice(d.span.start, d.span.end),
      text.slice(d.element?.start, d.element?.end),
    ])
    expect(found).toEqual([
      ['flux:one', '![x](<flux:one>)'],
      ['flux:two words "t"', '![y [z]](flux:two words "t")'],
      ['flux:three%20x', '![](flux:three%20x "title")'],
    ])
    expect(md(text).directives.map((d) => d.span.start)).toEqual([8, 30, 56])
  })
})
