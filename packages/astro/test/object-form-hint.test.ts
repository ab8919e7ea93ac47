import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scanSource } from '@flux-images/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { objectFormHints } from '../src/object-form-hint.js'

const POST = 'src/content/blog/kite.md'
const TEXT = [
  '---',
  'title: A kite',
  'heroImage:',
  '  flux: A red kite over a field',
  '  size: 1344x768',
  "cover: { flux: 'A heron', alt: 'A heron' }",
  "banner: 'flux: A lake'",
  'gallery:',
  '  - flux: A fox in snow',
  '---',
  '',
].join('\n')

let root = ''
const directives = () => scanSource(POST, TEXT).directives

// The post itself is not written: its fields come from the scan, with no read of the file.
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-object-form-'))
  await mkdir(join(root, 'src'), { recursive: true })
})
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

const hints = () => objectFormHints(directives(), join(root, 'src'))

describe('objectFormHints', () => {
  it('without a content config: none (a page’s frontmatter has no schema)', async () => {
    expect(await hints()).toEqual([])
  })

  it('a content config that imports nothing of ours: one per object form, located, with its field', async () => {
    await writeFile(join(root, 'src/content.config.ts'), "import { z } from 'astro/zod'\n")
    const found = await hints()
    expect(found.map((h) => h.split(': frontmatter field')[0])).toEqual([
      `[flux] ${POST}:4:3`,
      `[flux] ${POST}:6:8`,
      `[flux] ${POST}:9:5`,
    ])
    expect(found.map((h) => /field "([^"]+)"/.exec(h)?.[1])).toEqual(['heroImage', 'cover', 'gallery[0]'])
    for (const hint of found) expect(hint).toContain('\n  hint: wrap the collection')
  })

  it('a content config that imports @flux-images/astro: none', async () => {
    await writeFile(
      join(root, 'src/content.config.ts'),
      "import { fluxSchema } from '@flux-images/astro/schema'\n",
    )
    expect(await hints()).toEqual([])
  })
})
