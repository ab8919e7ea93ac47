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
  // A failed test may leave requests held: the dev server would wait for them as it closes.
  gateway?.release()
  await server?.close()
  await gateway?.close()
  if (temp) await rm(temp, { recursive: true, force: true, maxRetries: 3 })
})

/** The image metadata a `flux:` module exports. */
function exported(code: string): { src: string } {
  expect(code).toContain('export default')
  return JSON.parse(code.slice(code.indexOf('{'), code.lastIndexOf('}') + 1))
}

const moduleId = (code: string) => code.match(/"(\/@id\/__x00__flux:[0-9a-f]+)"/)?.[1]

describe('vite dev with flux()', () => {
  // A hang guard for a dev server on a busy machine, not a time limit.
  it('answers before the gateway with a placeholder, serves its variants, then reloads with the real image', {
    timeout: 120_000,
  }, async () => {
    temp = await mkdtemp(join(tmpdir(), 'flux-vite-dev-'))
    const root = join(temp, 'site')
    await cp(FIXTURE, root, { recursive: true })
    // The gateway answers nothing until the test lets it: whatever the dev server serves meanwhile
    // was served before any image existed, however slow the machine.
    gateway.hold()
    server = await createServer({
      root,
      configFile: false,
      logLevel: 'silent',
      server: { port: 0, host: '127.0.0.1', ws: false },
      plugins: [flux({ apiKey: KEY, baseURL: gateway.url, image: { widths: [160], maxWidth: 320 } })],
    })
    // What the dev server tells the page: flux's reloads for arrived images, and Vite's own for a
    // file edited (those name the file in `triggeredBy`).
    const reloads: Array<{ type?: string; triggeredBy?: string }> = []
    const edits: typeof reloads = []
    let sent = () => {}
    const send = server.ws.send.bind(server.ws) as (payload: unknown) => void
    server.ws.send = ((payload: { type?: string; triggeredBy?: string }) => {
      ;(payload.triggeredBy === undefined ? reloads : edits).push(payload)
      sent()
      send(payload)
    }) as typeof server.ws.send
    /** Resolves once `list` holds `count` messages. */
    const whenSent = (list: typeof reloads, count: number) =>
      new Promise<void>((resolve) => {
        sent = () => list.length >= count && resolve()
        sent()
      })
    const whenReloads = (count: number) => whenSent(reloads, count)
    await server.listen()
    const origin = `http://127.0.0.1:${(server.httpServer?.address() as AddressInfo | null)?.port}`
    const get = async (path: string) => {
      // A hang guard with a wide margin, not a time limit: a dev server that waits for the held
      // gateway never answers, and this says so rather than the test's own timeout.
      const res = await fetch(origin + path, { signal: AbortSignal.timeout(60_000) }).catch((err) => {
        const held = gateway.held > 0 ? ` while the gateway held ${gateway.held} request(s)` : ''
        throw new Error(`GET ${path}: no answer${held}: does the dev server wait for the gateway?`, {
          cause: err,
        })
      })
      expect(res.status, path).toBe(200)
      return res
    }

    const html = await (await get('/')).text()
    const main = await (await get('/src/main.ts')).text()
    const catId = moduleId(main) ?? ''
    const placeholder = exported(await (await get(catId)).text())
    expect(html).toMatch(/<picture><source\s[^>]*type="image\/avif"/)

    // Served while the gateway held every request: the page did not wait for the images.
    const variant = await get(placeholder.src)
    expect(variant.headers.get('content-type')).toMatch(/^image\/(jpeg|png)$/)
    const placeholderBytes = Buffer.from(await variant.arrayBuffer())
    expect(placeholderBytes.byteLength).toBeGreaterThan(0)
    // The page, its two imports: one request each, none answered yet, no reload yet.
    await gateway.whenHeld(3)
    expect([gateway.requests, gateway.generated, reloads.length]).toEqual([3, 0, 0])

    // Each image that arrives reloads the page (let go one at a time, so no two share a reload).
    for (let arrived = 1; arrived <= 3; arrived++) {
      gateway.release(1)
      await whenReloads(arrived)
      expect(gateway.generated).toBe(arrived)
    }
    gateway.release()
    expect(reloads).toMatchObject(Array(3).fill({ type: 'full-reload' }))

    // After the reload the module shows the real image: other bytes (at the same URL, or another).
    const real = exported(await (await get(catId)).text())
    const realVariant = await get(real.src)
    expect(realVariant.headers.get('content-type')).toMatch(/^image\/(jpeg|png)$/)
    expect(Buffer.from(await realVariant.arrayBuffer()).equals(placeholderBytes)).toBe(false)
    // A real image's file never changes: cached for good; a pending URL (`~<key>/`) serves the
    // placeholder, then the real image: never cached.
    const caching = (src: string) =>
      /~[0-9a-f]+\//.test(src) ? 'no-store' : 'public, max-age=31536000, immutable'
    expect(variant.headers.get('cache-control')).toBe(caching(placeholder.src))
    expect(realVariant.headers.get('cache-control')).toBe(caching(real.src))
    expect([gateway.requests, gateway.generated]).toEqual([3, 3])

    // Editing a prompt in a module: Vite reloads the page for the edit; the module answers before
    // the new image exists; once it arrives, flux reloads the page again.
    gateway.hold()
    const mainPath = join(root, 'src/main.ts')
    await writeFile(
      mainPath,
      (await readFile(mainPath, 'utf8')).replace('asleep on a windowsill', 'awake on a fence'),
    )
    await whenSent(edits, 1)
    expect(edits[0]).toMatchObject({ type: 'full-reload', triggeredBy: mainPath })
    const newId = moduleId(await (await get('/src/main.ts')).text())
    expect(newId).toBeDefined()
    expect(newId).not.toBe(catId)
    exported(await (await get(newId ?? '')).text())
    await gateway.whenHeld(1)
    expect([gateway.requests, gateway.generated, reloads.length]).toEqual([4, 3, 3])
    gateway.release()
    await whenReloads(4)
    expect(reloads[3]).toMatchObject({ type: 'full-reload' })
    expect(gateway.generatedByPrompt.get('A cat awake on a fence')).toBe(1)
    expect([gateway.requests, gateway.generated, reloads.length]).toEqual([4, 4, 4])

    // A malformed percent-encoding under flux's path names no file of ours: passed on to Vite (a 404),
    // never a 500 from flux's middleware with a URIError stack.
    const malformed = await fetch(`${origin}${placeholder.src.replace(/[^/]*$/, '%E0%A4%A.png')}`)
    const text = await malformed.text()
    expect(malformed.status).toBe(404)
    expect(text).not.toContain('URIError')
  })
})
