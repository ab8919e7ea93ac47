import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/astro'
import { build } from 'astro'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeSites } from './helpers/astro-content-store.js'
import { cliEnv, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

/**
 * Presets, seen from the gateway: a site whose directives of every kind use two presets, none,
 * or override one, built for real; the gateway's request log must hold exactly the prompts and
 * sizes the presets make. A preset's name is not in any key; its text is.
 */

const KEY = 'sk-flux-presets-41c7'
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
const HOUSE = '{prompt}, flat vector illustration, navy and teal, no text'
const PHOTO = 'A photograph: {prompt}. Natural light, 35mm.'

let gateway: MockGateway
let temp: string | undefined
beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  if (temp) await removeSites([temp])
})

async function write(root: string, file: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, file)), { recursive: true })
  await writeFile(join(root, file), text)
}

const config = (presets: Record<string, object>) =>
  `export default ${JSON.stringify({ presets, preset: 'house' }, null, 2)}\n`

/** The site, with `photo` called `name` everywhere it is used. */
async function writeSite(root: string, name: string): Promise<void> {
  await write(root, 'package.json', '{ "name": "presets-fixture", "private": true, "type": "module" }\n')
  await write(
    root,
    'src/content.config.mjs',
    `import { defineCollection } from 'astro:content'
import { fluxImage } from '@flux-images/astro/schema'
import { glob } from 'astro/loaders'
import { z } from 'astro/zod'
const posts = defineCollection({
  loader: glob({ pattern: '*.md', base: './src/content/posts' }),
  schema: z.object({ title: z.string(), cover: fluxImage() }),
})
export const collections = { posts }
`,
  )
  await write(
    root,
    'src/content/posts/one.md',
    `---\ntitle: One\ncover: "flux: A lighthouse?preset=${name}"\n---\n\n![A kite](flux:A kite over hills)\n\n![A field](flux:A wide field?size=1344x768)\n`,
  )
  await write(
    root,
    'src/content/posts/two.md',
    `---\ntitle: Two\ncover:\n  flux: A harbour\n  preset: ${name}\n---\n\n![A boat](flux:A boat at sea?preset=none)\n`,
  )
  await write(
    root,
    'src/pages/index.astro',
    `---
import gull from 'flux:A gull?preset=${name}'
import FluxImage from '@flux-images/astro/FluxImage.astro'
---
<html lang="en"><body>
<FluxImage prompt="A garden" alt="A garden" />
<FluxImage prompt="A greenhouse" preset="${name}" alt="A greenhouse" />
<FluxImage image={gull} alt="A gull" />
</body></html>
`,
  )
  await write(
    root,
    'src/pages/posts/[id].astro',
    `---
import { getCollection, render } from 'astro:content'
import FluxImage from '@flux-images/astro/FluxImage.astro'
export async function getStaticPaths() {
  const posts = await getCollection('posts')
  return posts.map((post) => ({ params: { id: post.id }, props: { post } }))
}
const { post } = Astro.props
const { Content } = await render(post)
---
<html lang="en"><body><FluxImage image={post.data.cover} /><article><Content /></article></body></html>
`,
  )
}

const astroBuild = (root: string) =>
  build({
    root,
    logLevel: 'error',
    integrations: [flux({ apiKey: KEY, baseURL: gateway.url, image: { widths: [160], maxWidth: 320 } })],
  })

/** What the gateway was asked for, one line per request, sorted. */
const asked = () => gateway.bodies.map((b) => `${b.model} ${b.size} ${b.prompt}`).sort()

const house = (prompt: string, template = HOUSE) => template.replace('{prompt}', prompt)
const photo = (prompt: string) => PHOTO.replace('{prompt}', prompt)

describe('presets in a real astro build', () => {
  it('send exactly the resolved prompts and sizes; a rename costs nothing; an edit re-keys exactly its images', {
    timeout: 600_000,
  }, async () => {
    await mkdir(TMP, { recursive: true })
    temp = await mkdtemp(join(TMP, 'presets-'))
    const root = join(temp, 'site')
    await writeSite(root, 'photo')
    const presets = {
      house: { prompt: HOUSE, size: '1536x1024' },
      photo: { prompt: PHOTO, model: 'flux-schnell' },
    }
    await write(root, 'flux.config.mjs', config(presets))

    gateway.reset()
    await astroBuild(root)
    expect(asked()).toEqual(
      [
        `flux-1.1-pro 1024x1024 A boat at sea`, // ?preset=none
        `flux-1.1-pro 1344x768 ${house('A wide field')}`, // the directive's size wins
        `flux-1.1-pro 1536x1024 ${house('A garden')}`, // <FluxImage>, the default preset
        `flux-1.1-pro 1536x1024 ${house('A kite over hills')}`, // a markdown body image
        `flux-schnell 1024x1024 ${photo('A greenhouse')}`, // <FluxImage preset="photo">
        `flux-schnell 1024x1024 ${photo('A gull')}`, // an import
        `flux-schnell 1024x1024 ${photo('A harbour')}`, // the frontmatter object form
        `flux-schnell 1024x1024 ${photo('A lighthouse')}`, // the frontmatter string form
      ].sort(),
    )
    // The page shows the preset's picture at the preset's size.
    const index = await readFile(join(root, 'dist', 'index.html'), 'utf8')
    const garden = /<img[^>]*alt="A garden"[^>]*>/.exec(index)?.[0] ?? ''
    expect(garden).toContain('width="320" height="213"')

    // `scan` shows the preset and the prompt as written beside the prompt sent.
    const scan = await runCli(['scan', '--json', '--root', root], { cwd: root, env: cliEnv() })
    const rows = JSON.parse(scan.stdout).directives as { prompt: string; preset?: string; written?: string }[]
    expect(rows.find((r) => r.written === 'A kite over hills')).toMatchObject({
      preset: 'house',
      prompt: house('A kite over hills'),
    })
    expect(rows.find((r) => r.prompt === 'A boat at sea')).not.toHaveProperty('preset')

    // Renamed everywhere: the same requests, so the same keys: nothing to pay.
    await writeSite(root, 'film')
    await write(root, 'flux.config.mjs', config({ house: presets.house, film: presets.photo }))
    gateway.reset()
    await astroBuild(root)
    expect(gateway.requests).toBe(0)

    // The house style edited: exactly its three images again, under the new text.
    const edited = '{prompt}, risograph print, two inks'
    await write(
      root,
      'flux.config.mjs',
      config({ house: { ...presets.house, prompt: edited }, film: presets.photo }),
    )
    gateway.reset()
    await astroBuild(root)
    expect(asked()).toEqual(
      [
        `flux-1.1-pro 1344x768 ${house('A wide field', edited)}`,
        `flux-1.1-pro 1536x1024 ${house('A garden', edited)}`,
        `flux-1.1-pro 1536x1024 ${house('A kite over hills', edited)}`,
      ].sort(),
    )
  })

  it('with reference images under the OpenAI Images gateway: the build fails before any request, at each directive', {
    timeout: 300_000,
  }, async () => {
    await mkdir(TMP, { recursive: true })
    temp ??= await mkdtemp(join(TMP, 'presets-'))
    const root = join(temp, 'references')
    await writeSite(root, 'photo')
    await mkdir(join(root, 'brand'), { recursive: true })
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0b1f3a' } })
      .png()
      .toFile(join(root, 'brand', 'style.png'))
    await write(
      root,
      'flux.config.mjs',
      config({
        house: { prompt: HOUSE, references: ['./brand/style.png'] },
        photo: { prompt: PHOTO },
      }),
    )
    gateway.reset()
    const failure = await astroBuild(root).then(
      () => undefined,
      (err: Error) => err,
    )
    expect(gateway.requests).toBe(0)
    const message = String(failure?.message)
    // Every directive of the house preset, located, naming the provider.
    for (const where of [
      'src/content/posts/one.md:6:',
      'src/content/posts/one.md:8:',
      'src/pages/index.astro:6:',
    ])
      expect(message).toContain(where)
    expect(message.match(/the provider "openai-images" takes none/g)).toHaveLength(3)
  })
})
