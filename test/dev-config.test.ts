import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import { createServer, type ViteDevServer } from 'vite'
import { afterAll, describe, expect, it } from 'vitest'
import { requestKey } from '../packages/core/src/cache/index.js'
import { writeUntil } from './helpers/dev-server.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/vite-basic', import.meta.url))
const CAT = 'A cat asleep on a windowsill'

let server: ViteDevServer | undefined
let temp: string | undefined
afterAll(async () => {
  await server?.close()
  if (temp) await rm(temp, { recursive: true, force: true, maxRetries: 3 })
})

describe('vite dev and the configuration file', () => {
  it('an edited flux.config.mjs takes effect without restarting by hand', {
    timeout: 180_000,
  }, async () => {
    temp = await mkdtemp(join(tmpdir(), 'flux-dev-config-'))
    const root = join(temp, 'site')
    await cp(FIXTURE, root, { recursive: true })
    // Offline: placeholders, whose keys are the real images' keys.
    await writeFile(
      join(root, 'flux.config.mjs'),
      "export default { mode: 'placeholder', model: 'flux-dev' }\n",
    )
    const lines: string[] = []
    server = await createServer({
      root,
      configFile: false,
      logLevel: 'silent',
      server: { port: 0, host: '127.0.0.1', ws: false },
      plugins: [
        flux({
          image: { widths: [64], formats: [] },
          logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
        }),
      ],
    })
    await server.listen()
    const origin = () => `http://127.0.0.1:${(server?.httpServer?.address() as AddressInfo | null)?.port}`
    /** The cat's module as served now: its HTTP status and, when it loads, its key. */
    const cat = async (): Promise<{ status: number; key?: string }> => {
      try {
        const main = await (await fetch(`${origin()}/src/other.ts`)).text()
        const id = main.match(/"(\/@id\/__x00__flux:[0-9a-f]+)"/)?.[1] ?? ''
        const res = await fetch(origin() + id)
        const text = await res.text()
        const json = res.ok ? JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)) : undefined
        return { status: res.status, ...(json && { key: json.key }) }
      } catch {
        return { status: 0 } // Restarting.
      }
    }
    const keyFor = (model: string) =>
      requestKey({ model, prompt: CAT, size: '1024x1024', quality: 'standard' })

    expect(await cat()).toEqual({ status: 200, key: keyFor('flux-dev') })

    // An edited file: the server restarts, and the same import now has the new model's key.
    await writeUntil(
      join(root, 'flux.config.mjs'),
      "export default { mode: 'placeholder', model: 'flux-schnell' }\n",
      async () => (await cat()).key === keyFor('flux-schnell'),
    )
    expect(await cat(), lines.join('\n')).toEqual({ status: 200, key: keyFor('flux-schnell') })
    // (A `.env` file is watched the same way, and Vite restarts for its own: seen by hand with
    // `vite dev`; inside this test runner the watcher reports no event for a new `.env`.)
  })
})
