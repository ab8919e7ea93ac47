import { createReadStream } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Flux, ImageFile, ImageResult, ResolveInput } from '@flux-images/core'

export interface DevImagesOptions {
  /** The engine that renders placeholders (mode `placeholder`, same cache), made on first need. */
  placeholders: () => Flux
  /** Called once pending images have arrived, with the sources that showed their placeholders. */
  refresh: (files: string[]) => Promise<void>
  onError: (err: unknown) => void
}

export interface DevImages {
  /** The image for a page: real when cached, else a pending one (see `devImages`). */
  image(input: ResolveInput, file?: string): Promise<ImageResult>
  /** Serves pending images' URLs: the placeholder's file until the real one exists, then the real one's. */
  middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void
}

// Arrivals close together make one refresh (one page reload).
const BATCH_MS = 150
// `<publicPath>~<key>/<placeholder file name>`: a URL that stays right when the image arrives.
const PENDING = /~([0-9a-f]{24})\/[^/]*-(\d+)\.(\w+)$/
const FALLBACKS = new Set(['jpeg', 'png'])

/**
 * `astro dev`'s images. A cached image is returned as is. A missing one is generated in the
 * background (inside the engine's bound, sharing its in-flight generations) while the page gets
 * its placeholder at once, under pending URLs that `middleware` serves without caching: the
 * placeholder's files until the real image exists, then the real image's files of the same width
 * and format. Markup rendered meanwhile (which Astro's content store keeps for the session) so
 * stays right; once images arrive, `refresh` reloads the pages. Modes that do not generate
 * (offline, placeholder, frozen) answer as the engine does.
 */
export function devImages(engine: Flux, { placeholders, refresh, onError }: DevImagesOptions): DevImages {
  const pending = new Map<string, { placeholder: ImageResult; real?: ImageResult }>()
  const waiting = new Set<string>()
  let timer: NodeJS.Timeout | undefined

  const flush = () => {
    timer = undefined
    const files = [...waiting]
    waiting.clear()
    refresh(files).catch(onError)
  }

  return {
    async image(input, file) {
      const { mode, apiKey } = engine.options
      const generates = mode === 'auto' && apiKey !== undefined
      const status = generates ? await engine.status(input) : 'cached'
      if (status !== 'missing' && status !== 'placeholder') return engine.image(input)
      if (file) waiting.add(file)
      const placeholder = await placeholders().image(input)
      const { key } = placeholder
      if (!pending.has(key)) {
        const entry: { placeholder: ImageResult; real?: ImageResult } = { placeholder }
        pending.set(key, entry)
        engine.image(input).then((real) => {
          entry.real = real
          clearTimeout(timer)
          timer = setTimeout(flush, BATCH_MS)
        }, onError)
      }
      return pendingResult(placeholder)
    },

    middleware(req, res, next) {
      const url = decodeURI((req.url ?? '').split('?')[0] ?? '')
      const match = PENDING.exec(url)
      const entry = match?.[1] ? pending.get(match[1]) : undefined
      if (!match || !entry) return next()
      const width = Number(match[2])
      const format = match[3] === 'jpg' ? 'jpeg' : (match[3] ?? '')
      const file = closest(entry.real ?? entry.placeholder, width, format)
      if (!file) return next()
      res.setHeader('Content-Type', `image/${file.format}`)
      res.setHeader('Cache-Control', 'no-store')
      createReadStream(file.path)
        .on('error', () => {
          if (!res.headersSent) res.statusCode = 404
          res.end()
        })
        .pipe(res)
    },
  }
}

/** The placeholder under pending URLs; no files, since those are served by `middleware`. */
function pendingResult(placeholder: ImageResult): ImageResult {
  const { files, key } = placeholder
  let text = JSON.stringify({ ...placeholder, files: [] })
  for (const { url } of files) {
    const slash = url.lastIndexOf('/') + 1
    text = text.replaceAll(url, `${url.slice(0, slash)}~${key}/${url.slice(slash)}`)
  }
  return JSON.parse(text) as ImageResult
}

/** The file of the same format (any fallback for a fallback) whose width is nearest. */
function closest(image: ImageResult, width: number, format: string): ImageFile | undefined {
  const same = (f: ImageFile) => f.format === format || (FALLBACKS.has(f.format) && FALLBACKS.has(format))
  return image.files
    .filter(same)
    .sort((a, b) => Math.abs(a.width - width) - Math.abs(b.width - width))
    .at(0)
}
