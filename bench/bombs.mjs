// The pixel budget, measured (BENCHMARKS.md, "Image bombs"): one process per case, its peak RSS
// and wall read by /usr/bin/time -v. Run against the built core (`pnpm build` first).
//
//   node bench/bombs.mjs make DIR            writes DIR/bomb-16000.png (16000x16000, flat) and
//                                            DIR/photo-3072.png (photo-like, at the budget)
//   /usr/bin/time -v node bench/bombs.mjs CASE FILE
//     baseline FILE   sharp loaded, the file read, its header read: the floor of every case
//     refuse FILE     checkImage (a gateway answer): refused from its header
//     cached FILE     the optimizer on a cached original holding FILE: refused from its header
//     old FILE        what checkImage did before the budget: decode the whole image to raw pixels
//     check FILE      checkImage of an image within the budget (decoded whole)
//     variants FILE   the optimizer's default variants of a cached original holding FILE
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const core = new URL('../packages/core/dist/', import.meta.url)
const load = (path) => import(new URL(path, core).href)
const [mode, file] = process.argv.slice(2)
const started = performance.now()
const { loadSharp } = await load('sharp.js')
const sharp = await loadSharp()

if (mode === 'make') {
  const { photoPixels } = await import('./lib/photos.mjs')
  const bomb = await sharp({ create: { width: 16000, height: 16000, channels: 3, background: '#5a7d9a' } })
    .png({ compressionLevel: 9 })
    .toBuffer()
  await writeFile(join(file, 'bomb-16000.png'), bomb)
  const photo = await sharp(await photoPixels(3072, 3072, 1), {
    raw: { width: 3072, height: 3072, channels: 3 },
  })
    .png({ compressionLevel: 6 })
    .toBuffer()
  await writeFile(join(file, 'photo-3072.png'), photo)
  console.log(`bomb-16000.png ${bomb.length} bytes, photo-3072.png ${photo.length} bytes`)
  process.exit(0)
}

const bytes = await readFile(file)
const outcome = await run().then(
  (value) => `ok ${value}`,
  (err) => `refused: ${String(err.message ?? err).split('\n')[0]}`,
)
console.log(`${mode} ${file}: ${outcome} (${Math.round(performance.now() - started)} ms in-process)`)

async function run() {
  switch (mode) {
    case 'baseline': {
      const meta = await sharp(bytes, { limitInputPixels: false }).metadata()
      return `${meta.width}x${meta.height}`
    }
    case 'refuse':
    case 'check': {
      const { checkImage } = await load('providers/check-image.js')
      const image = await checkImage(bytes)
      return `${image.width}x${image.height}`
    }
    case 'old': {
      const { info } = await sharp(bytes, { failOn: 'truncated', limitInputPixels: false })
        .raw()
        .toBuffer({ resolveWithObject: true })
      return `decoded ${info.width}x${info.height}`
    }
    case 'cached':
    case 'variants':
      return optimizeCached()
    default:
      throw new Error(`unknown case ${mode}`)
  }
}

async function optimizeCached() {
  const { createDiskCache } = await load('cache/disk-cache.js')
  const { requestKey } = await load('cache/request-key.js')
  const { createOptimizer } = await load('optimize/create-optimizer.js')
  const { createVariantStore } = await load('cache/variant-store.js')
  const { resolveOptimizeOptions } = await load('optimize/resolve-optimize-options.js')
  const dir = await mkdtemp(join(tmpdir(), 'flux-bombs-bench-'))
  try {
    const logger = { info() {}, warn() {}, error() {} }
    const cache = createDiskCache({ dir, logger })
    const request = { model: 'flux-schnell', prompt: 'bench', size: '1024x1024', quality: 'standard' }
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata()
    const entry = await cache.put(
      requestKey(request),
      request,
      { bytes, format: 'png', width: meta.width, height: meta.height, created: 1_700_000_000 },
      { provider: 'bench', placeholder: false },
    )
    const optimizer = createOptimizer({
      variants: createVariantStore({ dir, logger }),
      options: resolveOptimizeOptions({}),
      logger,
    })
    const result = await optimizer.optimize(entry)
    return `${result.files.length} files, largest ${result.width}x${result.height}`
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
