import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, project } from './fixtures/astro-helpers/build-site.js'
import { type AstroDev, startAstroDev, writeUntil } from './helpers/dev-server.js'

let server: AstroDev | undefined
afterAll(async () => {
  await server?.close()
  await cleanup()
})

describe('astro dev and the configuration files', () => {
  it('an edited flux.config.mjs, then a new .env, take effect without restarting by hand', {
    // A hang guard for a dev server restarting in its own process on a busy machine.
    timeout: 600_000,
  }, async () => {
    const root = await project()
    await writeFile(
      join(root, 'astro.config.mjs'),
      `import mdx from '@astrojs/mdx'
import { flux } from '@flux-images/astro'
export default { devToolbar: { enabled: false }, integrations: [mdx(), flux({ image: { widths: [160], maxWidth: 320 } })] }
`,
    )
    // Offline placeholders: drawn from the whole request, so another model is another file name.
    const config = (model: string) => `export default { mode: 'placeholder', model: '${model}' }\n`
    await writeFile(join(root, 'flux.config.mjs'), config('flux-dev'))
    server = await startAstroDev(root)
    const dev = server
    /** The home page now: its status, and the URL of the component's image (`<FluxImage prompt>`). */
    const home = async (): Promise<{ status: number; nook?: string }> => {
      try {
        const res = await fetch(`${dev.origin}/`)
        const html = await res.text()
        return { status: res.status, nook: html.match(/\/_flux\/a-cosy-reading-nook-[\w-]+\.jpg/)?.[0] }
      } catch {
        return { status: 0 } // Restarting.
      }
    }

    const first = await home()
    expect(first.status).toBe(200)
    expect(first.nook).toBeDefined()

    // The server restarts with the edited file: the same prompt under the new model's key.
    await writeUntil(join(root, 'flux.config.mjs'), config('flux-schnell'), async () => {
      const now = await home()
      return now.status === 200 && now.nook !== undefined && now.nook !== first.nook
    })
    const edited = await home()
    expect(edited.status, dev.output()).toBe(200)
    expect(edited.nook).not.toBe(first.nook)

    // A new `.env` wins over the file: frozen, and a placeholder is not an image, so the page fails.
    await writeUntil(join(root, '.env'), 'FLUX_MODE=frozen\n', async () => (await home()).status === 500)
    expect((await home()).status, dev.output()).toBe(500)
  })
})
