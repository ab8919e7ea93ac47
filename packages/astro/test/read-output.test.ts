import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readOutput, referencedNames } from '../src/read-output.js'

const LAKE = 'a-quiet-lake-0123456789ab-320.avif'
const KITE = 'a-red-kite-ba9876543210-160.webp'
const CARD = 'a-quiet-lake-card-0123456789abcdef.jpg'
const HERO = 'a-hero-aaaaaaaaaaaa-640.png'
const UNUSED = 'never-shown-bbbbbbbbbbbb-320.jpg'
const NAMES = new Set([LAKE, KITE, CARD, HERO, UNUSED])

let dir = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-read-output-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

async function referenced(files: Record<string, string>): Promise<string[]> {
  const root = await mkdtemp(join(dir, 'case-'))
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true })
    await writeFile(join(root, path), text)
  }
  return [...referencedNames(await readOutput(root), NAMES)].sort()
}

describe('referencedNames: a name found whole in a text file of the output', () => {
  it.each([
    [
      'a srcset under a base',
      'blog/index.html',
      `<img srcset="/docs/_flux/${LAKE} 320w, /docs/_flux/${KITE} 160w">`,
      [LAKE, KITE],
    ],
    [
      'an absolute URL (og:image)',
      'index.html',
      `<meta content="https://blog.example/_flux/${CARD}">`,
      [CARD],
    ],
    ['JSON with escaped slashes', 'data.json', `{"src":"\\/_flux\\/${HERO}"}`, [HERO]],
    [
      'an island prop, entity-encoded',
      'index.html',
      `<astro-island props="{&quot;src&quot;:[0,&quot;/_flux/${HERO}&quot;]}">`,
      [HERO],
    ],
    ['a server chunk (.mjs)', 'server/chunks/page.mjs', `const u = "/_flux/${KITE}";`, [KITE]],
    ['a web manifest', 'site.webmanifest', `{"icons":[{"src":"/_flux/${LAKE}"}]}`, [LAKE]],
    ['a CSS url()', 'style.css', `.hero{background:url(/_flux/${HERO})}`, [HERO]],
    ['a feed', 'rss.xml', `<enclosure url="https://blog.example/_flux/${CARD}"/>`, [CARD]],
  ])('%s', async (_kind, path, text, expected) => {
    expect(await referenced({ [path]: text })).toEqual(expected)
  })

  it('not a longer name that ends or starts with one, nor a file that is not text', async () => {
    expect(
      await referenced({
        'index.html': `<img src="/_flux/x${LAKE}"><img src="/_flux/${KITE}x"><img src="/_flux/${HERO}-2.png">`,
        'index.js.map': `{"sourcesContent":["/_flux/${UNUSED}"]}`,
        'image.bin': `/_flux/${UNUSED}`,
      }),
    ).toEqual([])
  })

  it('reads each text file once, sorted, and a missing output as empty', async () => {
    const root = await mkdtemp(join(dir, 'case-'))
    await writeFile(join(root, 'b.html'), 'b')
    await writeFile(join(root, 'a.txt'), 'a')
    await writeFile(join(root, 'c.avif'), 'c')
    expect((await readOutput(root)).map((f) => [f.path, f.text])).toEqual([
      [join(root, 'a.txt'), 'a'],
      [join(root, 'b.html'), 'b'],
    ])
    expect(await readOutput(join(root, 'missing'))).toEqual([])
    expect(referencedNames([{ path: 'a.html', text: `/_flux/${LAKE}` }], new Set())).toEqual(new Set())
  })
})
