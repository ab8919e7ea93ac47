import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createReferences, type OutputFile, readOutput } from '../src/read-output.js'

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
  const references = createReferences(NAMES)
  await readOutput(root, (file) => references.read(file.text))
  return [...references.referenced].sort()
}

describe('createReferences: a name found whole in a text file of the output', () => {
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

  it('visits each text file once, sorted, and no file of a missing output', async () => {
    const root = await mkdtemp(join(dir, 'case-'))
    await writeFile(join(root, 'b.html'), 'b')
    await writeFile(join(root, 'a.txt'), 'a')
    await writeFile(join(root, 'c.avif'), 'c')
    const read: OutputFile[] = []
    await readOutput(root, (file) => {
      read.push(file)
    })
    expect(read).toEqual([
      { path: join(root, 'a.txt'), text: 'a' },
      { path: join(root, 'b.html'), text: 'b' },
    ])
    await readOutput(join(root, 'missing'), () => {
      throw new Error('no file to visit')
    })
    const none = createReferences(new Set())
    none.read(`/_flux/${LAKE}`)
    expect(none.referenced).toEqual(new Set())
  })
})
