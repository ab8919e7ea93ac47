// Astro's image() fields read a file: for an image in the shared bucket, in dev as in builds, it is
// the original (downloaded and verified), as for a locally cached one, never our fallback variant.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createSession } from '@flux-images/core'
import { imageFile } from '@flux-images/core/dev'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { makeProject } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'
import { createS3Server, remoteOptionsFor, type S3Server } from './s3-server/index.js'

const KEY = 'sk-flux-test-image-file-DO-NOT-LEAK'
let gateway: MockGateway
let s3: S3Server
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  s3 = await createS3Server()
})
afterAll(async () => {
  await gateway.close()
  await s3.close()
  for (const c of cleanups) await c()
})

async function session(command: 'build' | 'dev') {
  const project = await makeProject({
    'src/content/blog/a.md': '---\nheroImage: "flux: a hero in the bucket"\n---\n',
  })
  cleanups.push(project.cleanup)
  const s = await createSession(
    { remote: remoteOptionsFor(s3, 'image-file') },
    { command, root: project.root, env: { FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url } },
  )
  cleanups.push(() => s.close())
  return { s, root: project.root }
}

it('an image() field whose image is in the bucket gets the original, downloaded once, in dev', async () => {
  const input = { prompt: 'a hero in the bucket', params: {} }
  const first = await session('build')
  await first.s.build()
  expect(gateway.requests).toBe(1)
  const original = await readFile(await imageFile(first.s, input))

  const second = await session('dev')
  expect(await second.s.flux.status(input)).toBe('remote')
  s3.reset()
  const path = await imageFile(second.s, input)
  expect(path.startsWith(join(second.root, '.flux-cache', 'originals'))).toBe(true)
  expect((await readFile(path)).equals(original)).toBe(true)
  expect(s3.count('GET', { status: 200 })).toBe(2)
  expect(gateway.requests).toBe(1)
})
