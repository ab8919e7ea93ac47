import { describe, expect, it } from 'vitest'
import { decodeAttributeEntities, decodeMarkdownEntities } from '../../src/directives/grammar/entities.js'
import { scanHtml, scanMarkdown } from '../../src/directives/index.js'
import { prompts } from './helpers.js'

describe('decodeMarkdownEntities (CommonMark, as Sätteri, remark and MDX read it)', () => {
  it('leaves text without references alone', () => {
    expect(decodeMarkdownEntities('')).toBe('')
    expect(decodeMarkdownEntities('Tom and Jerry')).toBe('Tom and Jerry')
  })

  it('decodes the whole HTML5 named table, not a short list (issue 14, item 7)', () => {
    expect(decodeMarkdownEntities('Caf&eacute; &frac12; price')).toBe('Café ½ price')
    expect(decodeMarkdownEntities('&CounterClockwiseContourIntegral; &NotNestedGreaterGreater;')).toBe(
      '\u2233 \u2aa2\u0338',
    )
    expect(decodeMarkdownEntities('&amp;&lt;&gt;&quot;&apos;&nbsp;')).toBe('&<>"\'\u00a0')
  })

  it('requires the semicolon and a known name, as CommonMark does', () => {
    expect(decodeMarkdownEntities('&amp &copy 2024 &ampx; &Amp; &nosuch;')).toBe(
      '&amp &copy 2024 &ampx; &Amp; &nosuch;',
    )
  })

  it('decodes numeric references with micromark rule: controls and noncharacters become U+FFFD', () => {
    expect(decodeMarkdownEntities('&#65;&#x42;&#X43;&#0000068;')).toBe('ABCD')
    expect(decodeMarkdownEntities('&#0;&#1;&#127;&#128;&#x9f;&#xd800;&#xfffe;&#x1ffff;&#1114112;')).toBe(
      '\ufffd'.repeat(9),
    )
    expect(decodeMarkdownEntities('&#9;&#10;&#x1F600;')).toBe('\t\n\u{1f600}')
  })

  it('keeps numeric references longer than CommonMark allows (7 decimal, 6 hex digits)', () => {
    expect(decodeMarkdownEntities('&#12345678; &#x1234567; &#; &#x;')).toBe(
      '&#12345678; &#x1234567; &#; &#x;',
    )
  })
})

describe('decodeAttributeEntities (HTML attribute values, as the browser reads them)', () => {
  it('decodes legacy names without a semicolon unless an alphanumeric or = follows', () => {
    expect(decodeAttributeEntities('a &amp b &copy2 c &not=d &eacute;')).toBe('a & b &copy2 c &not=d é')
  })

  it('applies HTML numeric replacements (Windows-1252 for C1)', () => {
    expect(decodeAttributeEntities('&#128;&#0;&#x41')).toBe('\u20ac\ufffdA')
  })
})

describe('scanners read references as the processors do', () => {
  it('one prompt for `![x](<flux:Caf&eacute; &frac12; price>)`: what Astro renders (issue 14, item 7)', () => {
    expect(prompts(scanMarkdown('![x](<flux:Caf&eacute; &frac12; price>)', 'a.md'))).toEqual(['Café ½ price'])
  })

  it('decodes named references in the typed form and in alt text filling the prompt', () => {
    expect(
      prompts(
        scanMarkdown('![x](flux:Cr&egrave;me br&ucirc;l&eacute;e) ![&Aring;ngstr&ouml;m](flux:)', 'a.md'),
      ),
    ).toEqual(['Crème brûlée', 'Ångström'])
  })

  it('reads an <img> attribute as the browser does', () => {
    expect(prompts(scanHtml('<img src="flux:Caf&eacute &frac12; &amp price">', 'a.html'))).toEqual([
      'Café ½ & price',
    ])
  })
})
