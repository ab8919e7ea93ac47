import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SOURCE_EXTENSIONS, scanSource } from '../../src/directives/index.js'
import { checkLocations, prompts, rows } from './helpers.js'

// Not `.md`: the formatter would rewrite a markdown file, and this one must stay exactly as written.
const fixture = readFileSync(new URL('./fixtures/harbour-notes.md.txt', import.meta.url), 'utf8')

// Every directive of the fixture post, by hand: kind, line, column, prompt, params.
const FIXTURE_ROWS = [
  ['frontmatter', 3, 8, 'A lighthouse at dawn, watercolor, soft morning light', {}],
  ['frontmatter', 5, 3, 'A harbour at noon', { size: '1536x1024', seed: '42', alt: 'The harbour at noon' }],
  ['frontmatter', 9, 5, 'A gull on a post', {}],
  [
    'markdown',
    15,
    26,
    'A neon-lit harbour at night, rain reflections',
    { size: '1536x1024', alt: 'The harbour at night' },
  ],
  ['markdown', 17, 46, 'A fishing boat (blue) at dusk', { alt: 'A fishing boat' }],
  ['markdown', 18, 27, 'Thick fog over water', { quality: 'hd', alt: 'Fog' }],
  ['markdown', 28, 33, 'An anchor', { alt: 'An anchor' }],
  ['html', 34, 13, 'A figure, & its caption', { seed: '7', alt: 'A figure' }],
]

describe('scanSource: the fixture post', () => {
  it('finds every directive of frontmatter and body at its line and column, and nothing else', () => {
    const result = scanSource('posts/harbour-notes.md', fixture)
    expect(result.errors).toEqual([])
    expect(rows(result)).toEqual(FIXTURE_ROWS)
    expect(checkLocations(fixture, 'posts/harbour-notes.md', result)).toBeUndefined()
  })

  it('gives the same lines and columns for the CRLF copy', () => {
    const crlf = fixture.replace(/\n/g, '\r\n')
    const result = scanSource('posts/harbour-notes.md', crlf)
    expect(rows(result)).toEqual(FIXTURE_ROWS)
    expect(checkLocations(crlf, 'posts/harbour-notes.md', result)).toBeUndefined()
  })

  it('reads it as MDX too, where indented lines are not code', () => {
    const result = scanSource('posts/harbour-notes.mdx', fixture)
    expect(prompts(result)).toContain('indented code inside a list')
  })

  it('still scans the body when the frontmatter is malformed', () => {
    const broken = fixture.replace('title: Harbour notes', 'title: [Harbour notes')
    const result = scanSource('posts/harbour-notes.md', broken)
    expect(result.errors.map((e) => e.code)).toEqual(['FLUX_FRONTMATTER'])
    expect(rows(result)).toEqual(FIXTURE_ROWS.filter((r) => r[0] !== 'frontmatter'))
  })
})

describe('scanSource: dispatch by extension', () => {
  it('lists the extensions it reads', () => {
    expect(SOURCE_EXTENSIONS).toContain('.md')
    expect(SOURCE_EXTENSIONS).toContain('.svelte')
  })

  it('finds nothing in an unknown extension, or a file without one', () => {
    for (const file of ['a.txt', 'a.json', 'Makefile', 'dir.md/file', '.md']) {
      expect(scanSource(file, "![a](flux:a) import a from 'flux:a'")).toEqual({ directives: [], errors: [] })
    }
  })

  it('reads HTML, Astro and every JS/TS extension, in any case and with a Vite query', () => {
    expect(rows(scanSource('index.HTML', '<img src="flux:a">'))).toEqual([['html', 1, 11, 'a', {}]])
    expect(rows(scanSource('page.htm', '<img src="flux:a">'))).toEqual([['html', 1, 11, 'a', {}]])
    expect(rows(scanSource('p.astro', '<FluxImage prompt="a" />'))).toEqual([['component', 1, 1, 'a', {}]])
    for (const ext of ['.js', '.jsx', '.ts', '.tsx', '.mjs', '.cjs', '.mts', '.cts']) {
      expect(rows(scanSource(`src/main${ext}?v=123`, "import a from 'flux:a'"))).toEqual([
        ['import', 1, 16, 'a', {}],
      ])
    }
  })

  it('reads Vue and Svelte templates and scripts, not their styles', () => {
    const vue = [
      '<template><img src="flux:vue template" alt="V"></template>',
      '<script setup lang="ts">',
      "import hero from 'flux:vue script'",
      '</script>',
      '<style>.a { background: url("flux:no") }</style>',
    ].join('\n')
    expect(rows(scanSource('App.vue', vue))).toEqual([
      ['html', 1, 21, 'vue template', { alt: 'V' }],
      ['import', 3, 19, 'vue script', {}],
    ])
    const svelte =
      '<script>\n  import a from \'flux:svelte\'\n</script>\n<img src="flux:svelte img" alt={alt} />'
    expect(prompts(scanSource('A.svelte', svelte))).toEqual(['svelte', 'svelte img'])
  })

  it('reads markdown without frontmatter from line 1', () => {
    expect(rows(scanSource('a.markdown', '![a](flux:b)'))).toEqual([['markdown', 1, 6, 'b', { alt: 'a' }]])
  })
})
