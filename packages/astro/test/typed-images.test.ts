import { parseDirective, scanMarkdown } from '@flux-images/core'
import { describe, expect, it } from 'vitest'
import { rewriteTypedImages } from '../src/typed-images.js'

/** The directives core's scanner reads in a markdown text (prompt and params). */
const directives = (text: string) =>
  scanMarkdown(text, 'a.md').directives.map(({ prompt, params }) => ({ prompt, params }))

describe('rewriteTypedImages', () => {
  it('turns the typed-anyway form into an <...> destination that reads back as the same directive', () => {
    const text = 'See ![A lamp](flux:A lighthouse at dawn?size=1536x1024) and ![b](flux:b%20c).'
    const rewritten = rewriteTypedImages(text, false)?.raw ?? ''
    expect(rewritten).toBe(
      'See ![A lamp](<flux:A%20lighthouse%20at%20dawn?size=1536x1024>) and ![b](flux:b%20c).',
    )
    expect(directives(rewritten)).toEqual(directives(text))
    const url = /\(<(flux:[^>]+)>\)/.exec(rewritten)?.[1] ?? ''
    expect(parseDirective(url)).toEqual({ prompt: 'A lighthouse at dawn', params: { size: '1536x1024' } })
    // Where the rewritten image starts in the paragraph, for its position (the new text has none),
    // and how it was written, for the session's index to find it.
    expect(rewriteTypedImages(text, false)?.images).toEqual([
      {
        url: 'flux:A lighthouse at dawn?size=1536x1024',
        destination: 'flux:A%20lighthouse%20at%20dawn?size=1536x1024',
        offset: 4,
        written: '![A lamp](flux:A lighthouse at dawn?size=1536x1024)',
      },
    ])
  })

  it('keeps characters a destination cannot hold, and percent signs, through the round trip', () => {
    const text = 'x ![](flux:100% <wild> a\\b cat?alt=A cat)\nnext line ![](flux:second one)'
    const rewritten = rewriteTypedImages(text, false)?.raw ?? ''
    expect(rewritten).not.toMatch(/<flux:[^>]*[\s<\\]/)
    expect(directives(rewritten)).toEqual(directives(text))
    expect(directives(text).map((d) => d.prompt)).toEqual(['100% <wild> a\\b cat', 'second one'])
  })

  it('leaves a paragraph without the typed form alone', () => {
    expect(
      rewriteTypedImages('![a](flux:a%20b) ![c](<flux:c d>) `![x](flux:in code)`', false),
    ).toBeUndefined()
  })
})
