import { createReadStream } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Flux, ResolveInput } from '../create-flux.js'
import { FluxError } from '../errors.js'
import { type ImageFile, type ImageResult, withUrls } from '../optimize/index.js'

export interface DevImagesOptions {
  /** The engine that renders placeholders (mode `placeholder`, same cache), made on first need. */
  placeholders: () => Flux
  /** Called once pending images have arrived or failed, with the sources that showed their placeholders. */
  refresh: (files: string[]) => void | Promise<void>
  /** A pending image failed: reported once, then thrown to every page that asks for it again. */
  onError: (err: FluxError) => void
  /**
   * Whether the dev server may pay for the image `key` that `file` (when known) asks for: only a
   * directive that a project file writes, never an id that a page or a script made up.
   */
  mayGenerate: (key: string, file: string | undefined) => Promise<boolean>
  /** An image it may not pay for keeps its placeholder: said once per image. */
  onRefused: (input: ResolveInput, file: string | undefined) => void
  /** Where pending images are served (with the host's `base` and without): `~arrived` answers there only. */
  publicPaths: readonly string[]
}

export interface DevImages {
  /** The image for a page: real when cached, else a pending one (see `devImages`). */
  image(input: ResolveInput, file?: string): Promise<ImageResult>
  /** Serves pending images' URLs: the placeholder's file until the real one exists, then the real one's. */
  middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void
}

// Arrivals close together make one refresh (one page reload)...
const BATCH_MS = 150
// ...and while other pending images are still on their way, the refresh waits for them, up to
// this long after the first arrival it holds: a reload sent while a page is still loading from
// the previous one can be lost (its HMR socket is not connected yet), so fewer is safer.
const HOLD_MS = 2000
// `<publicPath>~<key>/<placeholder file name>`: a URL that stays right when the image arrives.
const PENDING = /~([0-9a-f]{24})\/[^/]*-(\d+)\.(\w+)$/
const FALLBACKS = new Set(['jpeg', 'png'])
// `<publicPath>~arrived?keys=k1,k2`: which pending images have arrived (see the dev client).
const ARRIVED = '~arrived'
// What a dev server shows while the engine can still make the real image.
const PENDING_STATUSES = new Set(['missing', 'placeholder', 'corrupt'])

/**
 * The one dev policy, for every host. A cached image is returned as is. One the engine will make
 * (auto mode with a key: missing, only a placeholder so far, or corrupt) is generated in the
 * background, inside the engine's bound and sharing its in-flight generations, while the page
 * gets its placeholder at once under pending URLs that `middleware` serves without caching: the
 * placeholder's files until the real image exists, then the real image's files of the same width
 * and format. Markup rendered meanwhile (which hosts may keep) so stays right; once images arrive,
 * `refresh` re-renders and reloads. What cannot become real (frozen and missing, a remembered
 * refusal, a generation that failed in this session) is thrown, located, for the host's overlay;
 * offline and placeholder modes answer as the engine does. An image no project file writes (or
 * any, when `mayGenerate` says so) is never paid for: its placeholder stays.
 */
export function devImages(
  engine: Flux,
  { placeholders, refresh, onError, mayGenerate, onRefused, publicPaths }: DevImagesOptions,
): DevImages {
  const pending = new Map<string, { placeholder: ImageResult; real?: ImageResult }>()
  const failed = new Map<string, FluxError>()
  const refused = new Set<string>()
  const arrivedPaths = new Set(publicPaths.map((path) => `${path}${ARRIVED}`))
  const waiting = new Set<string>()
  let timer: NodeJS.Timeout | undefined

  const flush = () => {
    timer = undefined
    const files = [...waiting]
    waiting.clear()
    Promise.resolve(refresh(files)).catch((err) => onError(asFluxError(err)))
  }
  let holdingSince: number | undefined
  const settled = () => {
    clearTimeout(timer)
    holdingSince ??= Date.now()
    const others = [...pending.values()].some((entry) => entry.real === undefined)
    const wait = others ? Math.max(0, holdingSince + HOLD_MS - Date.now()) : BATCH_MS
    timer = setTimeout(() => {
      holdingSince = undefined
      flush()
    }, wait)
  }

  return {
    async image(input, file) {
      const { mode, apiKey } = engine.options
      if (mode !== 'auto' || apiKey === undefined) return engine.image(input)
      const status = await engine.status(input)
      if (!PENDING_STATUSES.has(status)) return engine.image(input)
      const placeholder = await placeholders().image(input)
      const { key } = placeholder
      const failure = failed.get(key)
      if (failure) throw located(failure, input)
      if (!pending.has(key) && !(await mayGenerate(key, file))) {
        if (!refused.has(key)) onRefused(input, file)
        refused.add(key)
        return placeholder
      }
      if (file) waiting.add(file)
      if (!pending.has(key)) {
        const entry: { placeholder: ImageResult; real?: ImageResult } = { placeholder }
        pending.set(key, entry)
        engine.image(input).then(
          (real) => {
            entry.real = real
            settled()
          },
          (err: unknown) => {
            const error = located(asFluxError(err), input)
            pending.delete(key)
            failed.set(key, error)
            onError(error)
            settled()
          },
        )
      }
      return pendingResult(placeholder)
    },

    middleware(req, res, next) {
      const [path = '', query = ''] = (req.url ?? '').split('?')
      if (arrivedPaths.has(path)) {
        // Which of these pending images have arrived: the dev client asks when its page may have
        // missed the reload that announced them.
        const asked = new URLSearchParams(query).get('keys')?.split(',').slice(0, 500) ?? []
        const arrived = asked.filter((key) => pending.get(key)?.real !== undefined)
        res.setHeader('Content-Type', 'application/json')
        res.setHeader('Cache-Control', 'no-store')
        res.end(JSON.stringify(arrived))
        return
      }
      const url = safeDecode(path)
      const match = url === undefined ? null : PENDING.exec(url)
      const entry = match?.[1] ? pending.get(match[1]) : undefined
      if (!match || !entry) return next()
      const width = Number(match[2])
      const format = match[3] === 'jpg' ? 'jpeg' : (match[3] ?? '')
      const found = closest(entry.real ?? entry.placeholder, width, format)
      if (!found) return next()
      res.setHeader('Content-Type', `image/${found.format}`)
      res.setHeader('Cache-Control', 'no-store')
      createReadStream(found.path)
        .on('error', () => {
          if (!res.headersSent) res.statusCode = 404
          res.end()
        })
        .pipe(res)
    },
  }
}

function asFluxError(err: unknown): FluxError {
  return FluxError.is(err)
    ? err
    : new FluxError('FLUX_TRANSIENT', err instanceof Error ? err.message : String(err), { cause: err })
}

function located(err: FluxError, input: ResolveInput): FluxError {
  const location = 'location' in input ? input.location : undefined
  return location && !err.location ? err.at(location) : err
}

function safeDecode(url: string): string | undefined {
  try {
    return decodeURI(url)
  } catch {
    return undefined
  }
}

/** The placeholder under pending URLs; no files, since those are served by `middleware`. */
function pendingResult(placeholder: ImageResult): ImageResult {
  const { key } = placeholder
  const pending = withUrls(placeholder, ({ url }) => {
    const slash = url.lastIndexOf('/') + 1
    return `${url.slice(0, slash)}~${key}/${url.slice(slash)}`
  })
  return { ...pending, files: [] }
}

/** The file of the same format (any fallback for a fallback) whose width is nearest. */
function closest(image: ImageResult, width: number, format: string): ImageFile | undefined {
  const same = (f: ImageFile) => f.format === format || (FALLBACKS.has(f.format) && FALLBACKS.has(format))
  return image.files
    .filter(same)
    .sort((a, b) => Math.abs(a.width - width) - Math.abs(b.width - width))
    .at(0)
}
