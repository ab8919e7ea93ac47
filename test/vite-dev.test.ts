import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import { createServer, type ViteDevServer } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/vite-basic', import.meta.url))
const KEY = 'sk-flux-vite-dev-91aa'

let gateway: MockGateway
let server: ViteDevServer | undefined
let temp: string | undefined
beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await server?.close()
  await gateway?.close()
  if (temp) await rm(temp, { recursive: true, force: true, maxRetries: 3 })
})

describe('vite dev with flux()', () => {
  it('answers at once with a placeholder, serves its variants, then reloads with the real image', async () => {
    temp = await mkdtemp(join(tmpdir(), 'flux-vite-dev-'))
    const root = join(temp, 'site')
    await cp(FIXTURE, root, { recursive: true })
    // A slow gateway: the page must not wait for it.
    gateway.latencyMs = 1500
    server = await createServer({
      root,
      configFile: false,
      logLevel: 'silent',
      server: { port: 0, host: '127.0.0.1', ws: false },
      plugins: [flux({ apiKey: KEY, baseURL: gateway.url, image: { widths: [160], maxWidth: 320 } })],
    })
    const reloads: unknown[] = []
    const send = server.ws.send.bind(server.ws) as (payload: unknown) => void
    server.ws.send = ((payload: unknown) => {
      reloads.push(payload)
      send(payload)
    }) as typeof server.ws.send
    await server.listen()
    const origin = `http://127.0.0.1:${(server.httpServer?.address() as AddressInfo | null)?.port}`
    const get = async (path: string) => {
      const res = await fetch(origin + path)
      expect(res.status, path).toBe(200)
      return res
    }

    const started = Date.now()
    const html = await (await get('/')).text()
    const main = await (await get('/src/main.ts')).text()
    const catId = main.match(/"(\/@id\/__x00__flux:[0-9a-f]+)"/)?.[1] ?? ''
    const before = await (await get(catId)).text()
    expect(Date.now() - started).toBeLessThan(1500)
    expect(html).toMatch(/<picture><source\s[^>]*type="image\/avif"/)
    expect(before).toContain('export default')
    const placeholderSrc = JSON.parse(before.slice(before.indexOf('{'), before.lastIndexOf('}') + 1)).src

    // The variants are served from the cache, immutable, with their type.
    const variant = await get(placeholderSrc)
    expect(variant.headers.get('content-type')).toMatch(/^image\/(jpeg|png)$/)
    expect(variant.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect((await variant.arrayBuffer()).byteLength).toBeGreaterThan(0)

    // Once the gateway answers, the module is invalidated and the page told to reload.
    await expect.poll(() => gateway.generated, { timeout: 8000 }).toBe(3)
    // One reload per image: the page's and the two modules'.
    await expect.poll(() => reloads.length, { timeout: 8000 }).toBe(3)
    expect(reloads).toEqual(Array(3).fill({ type: 'full-reload' }))
    const after = await (await get(catId)).text()
    const realSrc = JSON.parse(after.slice(after.indexOf('{'), after.lastIndexOf('}') + 1)).src
    expect(realSrc).not.toBe(placeholderSrc)
    expect((await get(realSrc)).headers.get('content-type')).toMatch(/^image\//)
    expect(gateway.requests).toBe(3)

    // Editing a prompt in a module generates the new image and reloads the page.
    const mainPath = join(root, 'src/main.ts')
    await writeFile(
      mainPath,
      (await readFile(mainPath, 'utf8')).replace('asleep on a windowsill', 'awake on a fence'),
    )
    let edited = ''
    await expect
      .poll(
        async () => {
          edited = await (await get('/src/main.ts')).text()
          return edited.match(/"(\/@id\/__x00__flux:[0-9a-f]+)"/)?.[1] ?? catId
        },
        { timeout: 8000 },
      )
      .not.toBe(catId)
    const newId = edited.match(/"(\/@id\/__x00__flux:[0-9a-f]+)"/)?.[1] ?? ''
    expect(await (await get(newId)).text()).toContain('export default')
    await expect
      .poll(() => gateway.generatedByPrompt.get('A cat awake on a fence'), { timeout: 8000 })
      .toBe(1)
    await expect.poll(() => reloads.length, { timeout: 8000 }).toBe(4)
    expect(gateway.requests).toBe(4)
  })
})
