import { createReadStream } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname } from 'node:path'

const TYPES: Readonly<Record<string, string>> = {
  '.avif': 'image/avif',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
}

/**
 * Dev middleware: serves the variant files of the images the dev server handed out, by URL
 * (`files` maps each URL to its file in the cache). Names are content-hashed, so they never change.
 */
export function serveVariants(files: ReadonlyMap<string, string>) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const path = files.get(decodeURI((req.url ?? '').split('?')[0] ?? ''))
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
