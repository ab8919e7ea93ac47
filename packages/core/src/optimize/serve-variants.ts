import { createReadStream } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname } from 'node:path'

const TYPES: Readonly<Record<string, string>> = {
  '.avif': 'image/avif',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
}

/**
 * A Node/Connect middleware for dev servers: serves the variant files handed out so far, by URL
 * (`files` maps each `ImageFile.url` to its `path` in the cache). Names are content-hashed, so
 * they are served as immutable. Hosts that strip their `base` before middlewares (Astro) pass
 * it, and both forms of the URL are tried.
 */
export function serveVariants(files: ReadonlyMap<string, string>, { base = '/' }: { base?: string } = {}) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = safeDecode((req.url ?? '').split('?')[0] ?? '')
    // A malformed percent-encoding names none of our files (they are all well formed): the host answers it.
    const path =
      url === undefined
        ? undefined
        : (files.get(url) ?? files.get(`${base.replace(/\/?$/, '/')}${url.replace(/^\//, '')}`))
    if (path === undefined) {
      next()
      return
    }
    res.setHeader('Content-Type', TYPES[extname(path)] ?? 'application/octet-stream')
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable')
    createReadStream(path)
      .on('error', () => {
        if (!res.headersSent) res.statusCode = 404
        res.end()
      })
      .pipe(res)
  }
}

function safeDecode(url: string): string | undefined {
  try {
    return decodeURI(url)
  } catch {
    return undefined
  }
}
