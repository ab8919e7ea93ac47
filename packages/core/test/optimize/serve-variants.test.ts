import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveVariants } from '../../src/optimize/serve-variants.js'

let dir: string
let server: Server
let url = ''
const unhandled: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-serve-'))
  const file = join(dir, 'a-lighthouse-0123456789ab-480.webp')
  await writeFile(file, 'webp bytes')
  const files = new Map([['/_flux/a lighthouse-0123456789ab-480.webp', file]])
  const middleware = serveVariants(files, { base: '/blog/' })
  // Connect's behaviour: a middleware that throws becomes a 500 carrying the stack.
  server = createServer((req, res) => {
    try {
      middleware(req, res, () => {
        unhandled.push(req.url ?? '')
        res.statusCode = 404
        res.end('not ours')
      })
    } catch (err) {
      res.statusCode = 500
      res.end((err as Error).stack)
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await rm(dir, { recursive: true, force: true })
})

describe('serveVariants', () => {
  it('serves a handed-out variant by its encoded URL, immutable', async () => {
    const res = await fetch(`${url}/_flux/a%20lighthouse-0123456789ab-480.webp?v=1`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/webp')
    expect(res.headers.get('cache-control')).toContain('immutable')
    expect(await res.text()).toBe('webp bytes')
  })

  it.each(['/_flux/%E0%A4%A.webp', '/_flux/%', '/%ZZ'])(
    'passes a malformed percent-encoding (%s) on to the host: no 500, no stack',
    async (path) => {
      unhandled.length = 0
      const res = await fetch(`${url}${path}`)
      expect(res.status).toBe(404)
      expect(await res.text()).toBe('not ours')
      expect(unhandled).toEqual([path])
    },
  )
})
