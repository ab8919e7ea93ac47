import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FluxError } from '../errors.js'
import { escapeHtml } from '../optimize/escape-html.js'
import type { Session } from '../session/create-session.js'
import type { Logger } from '../types.js'
import { hostError } from './flux-imports.js'
import { findUnresolved, locateUnresolved, type UnresolvedFind } from './unresolved-output.js'

/** What Vite's error overlay shows: its `ErrorOverlay` element takes this. */
export interface OverlayError {
  message: string
  stack: string
  id?: string
  loc?: { file: string; line: number; column: number }
}

export interface DevPageCheckOptions {
  /** Vite's client module, under the site's base: the page imports its overlay from it. */
  viteClient: string
  /** The page's leftovers as located errors (read the project's scan: only called when there are some). */
  locate: (page: string, found: UnresolvedFind[]) => Promise<FluxError[]>
  /** Each located error, as Vite's overlay shows it; and for the terminal. */
  overlay: (err: FluxError) => OverlayError
  report: (errors: FluxError[]) => void
}

/**
 * Dev's side of "never a silent broken image": a middleware that reads each HTML page the dev
 * server sends, and when a `flux:` is left where a URL goes, reports it (the terminal) and shows
 * it in Vite's error overlay on that page, as the build would fail with it. Other responses pass
 * through untouched.
 */
export function checkDevPages({ viteClient, locate, overlay, report }: DevPageCheckOptions) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const { writeHead, write, end } = res
    let chunks: Buffer[] | undefined
    res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
      const headers = rest.find((r): r is OutgoingHttpHeaders => typeof r === 'object' && r !== null)
      const type = String(headers?.['content-type'] ?? res.getHeader('content-type') ?? '')
      if (type.includes('text/html')) {
        chunks = []
        // The page may grow by the overlay's script.
        if (headers) delete headers['content-length']
        res.removeHeader('content-length')
      }
      return writeHead.call(this, status, ...(rest as []))
    } as typeof res.writeHead
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      if (!chunks) return write.call(this, chunk, ...(rest as [BufferEncoding]))
      chunks.push(Buffer.from(chunk as string))
      return true
    } as typeof res.write
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (!chunks) return end.call(this, chunk, ...(rest as [BufferEncoding]))
      if (chunk !== undefined && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string))
      const html = Buffer.concat(chunks).toString('utf8')
      const page = (req.url ?? '/').split('?')[0] ?? '/'
      const found = html.includes('flux:') ? findUnresolved(html, 'html') : []
      const done = (body: string) => (end as (chunk: string) => ServerResponse).call(this, body)
      if (found.length === 0) return done(html)
      void locate(page, found).then(
        (errors) => {
          report(errors)
          done(html + overlayScript(viteClient, errors.map(overlay)))
        },
        () => done(html),
      )
      return this
    } as typeof res.end
    next()
  }
}

/** Opens Vite's error overlay on the page, with the first leftover (all are in its message). */
function overlayScript(viteClient: string, errors: OverlayError[]): string {
  const [first] = errors
  if (!first) return ''
  const all = { ...first, message: errors.map((e) => e.message).join('\n\n') }
  // `<` escaped: the JSON sits in a <script>.
  const json = JSON.stringify(all).replace(/</g, '\\u003c')
  return `<script type="module">import { ErrorOverlay } from ${JSON.stringify(viteClient)}; document.body.appendChild(new ErrorOverlay(${json}))</script>`
}

/** The check for a session's dev server: leftovers located by the project's scan, logged, shown. */
export function devPageCheck(session: Session, { base, logger }: { base: string; logger: Logger }) {
  const root = session.options.root
  return checkDevPages({
    viteClient: `${base}@vite/client`,
    locate: async (page, found) =>
      locateUnresolved(page, found, { directives: (await session.flux.scan()).directives }),
    overlay: (err) => {
      const { id, loc } = hostError(err, root)
      return {
        // Astro's overlay reads the message as HTML: `<img src>` must show as written.
        message: escapeHtml(err.toString()),
        stack: '',
        ...(id && { id }),
        ...(loc && { loc: { file: loc.file ?? id ?? '', line: loc.line, column: loc.column + 1 } }),
      }
    },
    report: (errors) => {
      for (const err of errors) logger.error(err.toString())
    },
  })
}
