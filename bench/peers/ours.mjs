// Our optimizer, as a build runs it: originals in a flux disk cache, every image handed to one
// optimizer at once (its own pool bounds the work). Run against the built packages.
//
//   node ours.mjs prepare <cacheDir> <sources.json>   put the originals in the cache (not timed)
//   node ours.mjs run <cacheDir> like|defaults        optimize them all; prints one JSON line
//   BENCH_CONCURRENCY=4 UV_THREADPOOL_SIZE=5 node ours.mjs run ...   another pool size
//
// `like`: sharp's default encoder options (AVIF q50 effort 4, WebP q80 effort 4, PNG level 6) and
// a PNG fallback, as astro:assets and eleventy-img use them. `defaults`: our OPTIMIZE_DEFAULTS.
// Both cap the largest variant at 1440 px, the largest width the peers are asked for.
import { readFile } from 'node:fs/promises'

const coreIndex = import.meta.resolve('@flux-images/core')
const { createOptimizer, resolveOptimizeOptions } = await import(new URL('optimize/index.js', coreIndex).href)
const { createDiskCache, createVariantStore, requestKey } = await import(
  new URL('cache/index.js', coreIndex).href
)

const silent = { info() {}, warn() {}, error() {} }
export const WIDTHS = [480, 960, 1440]

/** Optimizer options of each mode (the user's side: resolveOptimizeOptions fills in the rest). */
export const MODES = {
  like: {
    widths: WIDTHS,
    maxWidth: 1440,
    formats: ['avif', 'webp'],
    fallback: 'png',
    avif: { quality: 50, effort: 4 },
    webp: { quality: 80, effort: 4 },
    png: { quality: 100, compressionLevel: 6 },
  },
  defaults: { widths: WIDTHS, maxWidth: 1440 },
}

function requestOf(source) {
  return {
    model: 'bench',
    prompt: source.name,
    size: `${source.width}x${source.height}`,
    quality: 'standard',
  }
}

async function prepare(cacheDir, sourcesFile) {
  const cache = createDiskCache({ dir: cacheDir, logger: silent })
  for (const source of JSON.parse(await readFile(sourcesFile, 'utf8'))) {
    const request = requestOf(source)
    const key = requestKey(request)
    if (await cache.get(key)) continue
    const bytes = await readFile(source.path)
    const image = { bytes, format: 'png', width: source.width, height: source.height, created: 1_700_000_000 }
    await cache.put(key, request, image, { provider: 'bench', placeholder: false })
  }
}

async function run(cacheDir, mode) {
  const cache = createDiskCache({ dir: cacheDir, logger: silent })
  // BENCH_CONCURRENCY: the optimizer's pool size, to see what scheduling alone changes.
  const concurrency = process.env.BENCH_CONCURRENCY ? Number(process.env.BENCH_CONCURRENCY) : undefined
  const options = resolveOptimizeOptions({ ...MODES[mode], concurrency })
  const optimizer = createOptimizer({
    variants: createVariantStore({ dir: cacheDir, logger: silent }),
    options,
    logger: silent,
  })
  const entries = await Promise.all((await cache.list()).map((meta) => cache.get(meta.key)))
  const results = await Promise.all(entries.map((entry) => optimizer.optimize(entry)))
  const { decodes, encodes, peakActive, peakHeld } = optimizer.stats
  const files = results.flatMap((r) => r.files.map((f) => ({ source: r.prompt, path: f.path })))
  return { images: results.length, decodes, encodes, peakActive, peakHeld, files }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, ...args] = process.argv.slice(2)
  if (command === 'prepare') await prepare(...args)
  else if (command === 'run') console.log(JSON.stringify(await run(...args)))
  else throw new Error(`unknown command ${command}`)
}
