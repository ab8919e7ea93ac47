import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { Session } from '../session/create-session.js'
import { devGuard } from '../session/dev-guard.js'
import type { DevPlugin } from './host.js'

/** The button dev pages get, which opens the studio for the page: a virtual module, from `studio/`. */
export const STUDIO_BUTTON = 'virtual:flux-images/studio-button'
/** The HMR event that carries the studio's actions, and the one that answers them. */
export const STUDIO_EVENT = 'flux:studio'
const STUDIO_DIR = fileURLToPath(new URL('../../studio/', import.meta.url))
const STATIC: Record<string, string> = { 'studio.js': 'text/javascript', 'studio.css': 'text/css' }

export interface FluxStudioOptions {
  /** The dev session (its studio), as the host holds it now. */
  session: () => Session
  /** Whether dev pages get the button that opens the studio (Astro has its toolbar instead). @default true */
  button?: boolean
}

/**
 * The author's studio in a dev server: a page at `<base>__flux/` (read-only HTTP, refused to
 * other sites) whose actions travel only over Vite's HMR channel, which checks its token, and carry
 * the studio's own secret. Everything it decides is core's (`Session.studio`).
 */
export function fluxStudio({ session, button = true }: FluxStudioOptions): DevPlugin {
  let base = '/'
  return {
    name: 'flux-images:studio',
    apply: 'serve',
    configResolved(config) {
      base = config.base
    },
    configureServer(server) {
      const root = `${base}__flux/`
      const guard = devGuard({
        publicPaths: [root],
        network: session().options.allowNetworkDev,
        logger: server.config.logger,
      })
      server.middlewares.use((req, res, next) => guard(req, res, next))
      server.middlewares.use((req, res, next) => void serve(req, res, next).catch(next))
      async function serve(req: IncomingMessage, res: ServerResponse, next: () => void): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://x')
        const studio = session().studio
        if (!studio || !url.pathname.startsWith(root) || req.method !== 'GET') return next()
        const rest = url.pathname.slice(root.length)
        res.setHeader('Cache-Control', 'no-store')
        if (rest === '') {
          const page = await readFile(`${STUDIO_DIR}index.html`, 'utf8')
          res.setHeader('Content-Type', 'text/html; charset=utf-8')
          // Vite's HMR socket and its token: this page is served to this server's own pages only.
          const hmr = `${base}?token=${server.config.webSocketToken}`
          res.end(page.replaceAll('%BASE%', base).replace('%TOKEN%', studio.token).replace('%HMR%', hmr))
        } else if (STATIC[rest]) {
          res.setHeader('Content-Type', STATIC[rest])
          res.end((await readFile(`${STUDIO_DIR}${rest}`, 'utf8')).replaceAll('%BASE%', base))
        } else if (rest === 'images') {
          const images = await studio.images(url.searchParams.getAll('url'))
          res.setHeader('Content-Type', 'application/json')
          res.end(JSON.stringify({ state: studio.state(), images }))
        } else {
          const path = studio.original(rest.replace(/^original\//, ''))
          if (!rest.startsWith('original/') || !path) return next()
          createReadStream(path)
            .on('error', () => {
              res.statusCode = 404
              res.end()
            })
            .pipe(res)
        }
      }
      server.ws.on(STUDIO_EVENT, async (message, client) => {
        const reply = await session().studio?.receive(message)
        if (reply && 'error' in reply) server.config.logger.warn(`[flux] Studio: ${reply.error}`)
        client.send(STUDIO_EVENT, { id: (message as { id?: unknown } | undefined)?.id, ...reply })
      })
    },
    resolveId: {
      filter: { id: /^virtual:flux-images\/studio-button$/ },
      handler: (id) => `\0${id}`,
    },
    load: {
      filter: { id: /^\0virtual:flux-images\/studio-button$/ },
      async handler() {
        return (await readFile(`${STUDIO_DIR}button.js`, 'utf8')).replaceAll('%BASE%', base)
      },
    },
    transformIndexHtml: {
      // Before Vite's own pass, which turns inline modules into ones it serves.
      order: 'pre',
      handler() {
        if (!button) return undefined
        const script = { tag: 'script', attrs: { type: 'module' }, children: `import '${STUDIO_BUTTON}'` }
        return [{ ...script, injectTo: 'body' as const }]
      },
    },
  }
}
