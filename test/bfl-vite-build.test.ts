// A real `vite build` with provider bfl against the mock BFL API: the images of the fixture are
// submitted once each, polled to Ready, rendered; a warm build submits nothing.
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMockBfl, type MockBfl } from './mock-bfl/index.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/vite-basic', import.meta.url))
const KEY = 'bfl-vite-build-key-4d2b'

let mock: MockBfl
let temp: string

beforeAll(async () => {
  mock = await createMockBfl({ apiKey: KEY })
  temp = await mkdtemp(join(tmpdir(), 'flux-bfl-vite-'))
})
afterAll(async () => {
  await mock?.close()
  await rm(temp, { recursive: true, force: true })
})

async function buildSite(root: string, out: string): Promise<string> {
  await build({
    root,
    logLevel: 'silent',
    configFile: false,
    build: { outDir: join(temp, out), emptyOutDir: true },
    plugins: [
      flux({
        provider: 'bfl',
        apiKey: KEY,
        baseURL: mock.url,
        allowPrivateDownloads: true,
        image: { widths: [160], maxWidth: 320 },
      }),
    ],
  })
  return readFile(join(temp, out, 'index.html'), 'utf8')
}

describe('vite build with provider bfl', () => {
  it('submits each distinct image once (FLUX.2 pro, sizes as written), and a warm build none', {
    timeout: 300_000,
  }, async () => {
    const root = join(temp, 'site')
    await cp(FIXTURE, root, { recursive: true })
    const html = await buildSite(root, 'dist')
    // Three distinct images (the cat is imported twice): three submits, each polled Pending then Ready.
    expect([mock.submits, mock.polls, mock.downloads, mock.downloadsWithKey]).toEqual([3, 6, 3, 0])
    expect(mock.submitRecords.map((r) => [r.model, r.fields.width, r.fields.height]).sort()).toEqual([
      ['flux-2-pro', 1024, 1024],
      ['flux-2-pro', 1344, 768],
      ['flux-2-pro', 1536, 1024],
    ])
    expect(html).toMatch(/<picture>.*<img[^>]+width="320"/s)

    await buildSite(root, 'dist-warm')
    expect([mock.submits, mock.polls]).toEqual([3, 6])
  })
})
