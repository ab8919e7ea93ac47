// Benchmark of the sharp optimizer (not a test). Runs against the built packages: `pnpm build` first.
//
//   node bench/optimize.bench.mjs              everything (~3-4 min on 2 cores)
//   node bench/optimize.bench.mjs effort       the AVIF effort curve only
//   node bench/optimize.bench.mjs throughput   cold/warm throughput and peak RSS only
//   node bench/optimize.bench.mjs cold         the 48 photos only, cold then warm
//   BENCH_CONCURRENCY=1 node ...               the optimizer's pool size (default: its own default)
//
// Each measured phase runs in its own node process, so its peak RSS is its own and not the
// generation's or another phase's (see peakRssMB). Results are printed as markdown for
// BENCHMARKS.md.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { photoPixels, photoPngs } from './lib/photos.mjs'

const here = fileURLToPath(import.meta.url)
const core = new URL('../packages/core/', import.meta.url)
const require = createRequire(new URL('package.json', core))
/** @type {import('sharp').default} */
const sharp = require('sharp')
const { createOptimizer, resolveOptimizeOptions } = await import(new URL('dist/optimize/index.js', core).href)
const { createDiskCache, createVariantStore, requestKey } = await import(
  new URL('dist/cache/index.js', core).href
)

const silent = { info() {}, warn() {}, error() {} }

/**
 * This process's own peak RSS in MB. On Linux, `process.resourceUsage().maxRSS` survives exec, so
 * a child would report its parent's peak when that is higher; VmHWM is the peak of this process's
 * own memory. Elsewhere, maxRSS.
 */
function peakRssMB() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (hwm) return Number(hwm[1]) / 1024
  } catch {}
  return process.resourceUsage().maxRSS / 1024
}

// ---------------------------------------------------------------------------------------------
// Child phases: each prints one JSON line.

const phases = {
  /** Writes `count` originals of each size into a disk cache: a few generated bases, each varied. */
  async prepare(dir, specs) {
    const cache = createDiskCache({ dir, logger: silent })
    let n = 0
    for (const spec of JSON.parse(specs)) {
      const { width, height } = spec
      for (const { index, bytes } of await photoPngs(spec)) {
        const prompt = `Bench photo ${width}x${height} number ${index}`
        const request = { model: 'flux-schnell', prompt, size: `${width}x${height}`, quality: 'standard' }
        await cache.put(
          requestKey(request),
          request,
          { bytes, format: 'png', width, height, created: 1_700_000_000 },
          { provider: 'bench', placeholder: false },
        )
        n++
      }
    }
    return { originals: n }
  },

  /** Optimizes every entry of the cache at once (the optimizer's own pool bounds the work). */
  async optimize(dir) {
    const cache = createDiskCache({ dir, logger: silent })
    const concurrency = process.env.BENCH_CONCURRENCY ? Number(process.env.BENCH_CONCURRENCY) : undefined
    const options = resolveOptimizeOptions({ concurrency })
    const optimizer = createOptimizer({
      variants: createVariantStore({ dir, logger: silent }),
      options,
      logger: silent,
    })
    const entries = await Promise.all((await cache.list()).map((meta) => cache.get(meta.key)))
    const started = performance.now()
    const results = await Promise.all(entries.map((entry) => optimizer.optimize(entry)))
    const ms = performance.now() - started
    const bytes = {}
    for (const file of results.flatMap((r) => r.files))
      bytes[file.format] = (bytes[file.format] ?? 0) + file.bytes
    return {
      images: results.length,
      ms,
      ...optimizer.stats,
      concurrency: optimizer.options.concurrency,
      bytes,
      maxRssMB: peakRssMB(),
    }
  },

  /** The AVIF effort curve's rows (in a child, so the parent stays small: see peakRssMB). */
  async effort() {
    return effortRows()
  },

  /** The same process without any image work: the floor under the figures above. */
  async idle(dir) {
    createOptimizer({
      variants: createVariantStore({ dir, logger: silent }),
      options: resolveOptimizeOptions(),
      logger: silent,
    })
    return { maxRssMB: peakRssMB() }
  },
}

function child(phase, ...args) {
  const out = execFileSync(process.execPath, [here, '--child', phase, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(out.trim().split('\n').pop())
}

// ---------------------------------------------------------------------------------------------
// The AVIF effort curve: one photo-like 1536x1024 original per seed, decoded once to raw pixels
// (as the optimizer does), resized to 960 wide and encoded at quality 50 with each effort.
// SSIM is on luma, 8x8 windows with stride 4, against the resized pixels before encoding.

function luma(buf, channels) {
  const n = buf.length / channels
  const y = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const o = i * channels
    y[i] = 0.299 * buf[o] + 0.587 * buf[o + 1] + 0.114 * buf[o + 2]
  }
  return y
}

function ssim(a, b, w, h) {
  const C1 = (0.01 * 255) ** 2
  const C2 = (0.03 * 255) ** 2
  let sum = 0
  let n = 0
  for (let y = 0; y + 8 <= h; y += 4) {
    for (let x = 0; x + 8 <= w; x += 4) {
      let ma = 0
      let mb = 0
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 8; i++) {
          const k = (y + j) * w + x + i
          ma += a[k]
          mb += b[k]
        }
      ma /= 64
      mb /= 64
      let va = 0
      let vb = 0
      let cov = 0
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 8; i++) {
          const k = (y + j) * w + x + i
          const da = a[k] - ma
          const db = b[k] - mb
          va += da * da
          vb += db * db
          cov += da * db
        }
      va /= 63
      vb /= 63
      cov /= 63
      sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2))
      n++
    }
  }
  return sum / n
}

const median = (values) => {
  const s = [...values].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

const EFFORT_SEEDS = [1, 2, 3]
const EFFORT_RUNS = 3

async function effortRows(efforts = [2, 3, 4, 5, 6], seeds = EFFORT_SEEDS, runs = EFFORT_RUNS) {
  sharp.cache(false)
  const raw = { width: 1536, height: 1024, channels: 3 }
  const sources = await Promise.all(
    seeds.map(async (seed) => ({ pixels: await photoPixels(1536, 1024, seed), raw })),
  )
  const references = await Promise.all(
    sources.map(async ({ pixels, raw }) => {
      const { data, info } = await sharp(pixels, { raw })
        .resize(960)
        .raw()
        .toBuffer({ resolveWithObject: true })
      return { y: luma(data, info.channels), width: info.width, height: info.height }
    }),
  )
  const rows = []
  for (const effort of efforts) {
    const times = []
    let bytes = 0
    let quality = 0
    for (const [i, { pixels, raw }] of sources.entries()) {
      let out
      for (let r = 0; r < runs; r++) {
        const t = performance.now()
        out = await sharp(pixels, { raw }).resize(960).avif({ quality: 50, effort }).toBuffer()
        times.push(performance.now() - t)
      }
      const ref = references[i]
      const decoded = await sharp(out).raw().toBuffer({ resolveWithObject: true })
      bytes += out.length / sources.length
      quality +=
        ssim(ref.y, luma(decoded.data, decoded.info.channels), ref.width, ref.height) / sources.length
    }
    rows.push({ effort, ms: median(times), kb: bytes / 1024, ssim: quality })
    process.stderr.write(`effort ${effort}: ${Math.round(median(times))} ms\n`)
  }
  return rows
}

function effortCurve() {
  const rows = child('effort')
  const at4 = rows.find((r) => r.effort === 4)
  console.log(
    `\n### AVIF effort curve (quality 50, 1536x1024 photo-like -> 960 wide, ${EFFORT_SEEDS.length} images x ${EFFORT_RUNS} runs)\n`,
  )
  console.log('| effort | median time | size | SSIM (luma) | time vs effort 4 | size vs effort 4 |')
  console.log('| -----: | ----------: | ---: | ----------: | ---------------: | ---------------: |')
  for (const r of rows) {
    console.log(
      `| ${r.effort} | ${Math.round(r.ms)} ms | ${r.kb.toFixed(1)} KB | ${r.ssim.toFixed(4)} | ${(r.ms / at4.ms).toFixed(2)}x | ${((r.kb / at4.kb - 1) * 100).toFixed(1)}% |`,
    )
  }
}

async function throughput({ small = true } = {}) {
  const root = await mkdtemp(join(os.tmpdir(), 'flux-bench-'))
  try {
    const big = join(root, 'big', '.flux-cache')
    const t0 = performance.now()
    child(
      'prepare',
      big,
      JSON.stringify([
        { width: 1024, height: 1024, count: 24, bases: 3 },
        { width: 1536, height: 1024, count: 24, bases: 3 },
      ]),
    )
    process.stderr.write(`prepared 48 originals in ${Math.round(performance.now() - t0)} ms\n`)
    const idle = child('idle', big)
    const cold = child('optimize', big)
    process.stderr.write(`cold: ${Math.round(cold.ms)} ms\n`)
    const warm = child('optimize', big)

    const smallRuns = {}
    for (const count of small ? [20, 200] : []) {
      const dir = join(root, `small-${count}`, '.flux-cache')
      child('prepare', dir, JSON.stringify([{ width: 768, height: 512, count, bases: 4 }]))
      smallRuns[count] = child('optimize', dir)
      process.stderr.write(`${count} small: ${Math.round(smallRuns[count].ms)} ms\n`)
    }

    const row = (label, r) =>
      `| ${label} | ${r.images} | ${r.ms < 1000 ? `${Math.round(r.ms)} ms` : `${(r.ms / 1000).toFixed(1)} s`} | ${((r.images * 1000) / r.ms).toFixed(2)} | ${r.decodes} | ${r.encodes} | ${r.peakActive} | ${r.peakHeld} | ${Math.round(r.maxRssMB)} MB |`
    console.log(`\n### Throughput and memory (default options; concurrency ${cold.concurrency})\n`)
    console.log(
      '| run | images | wall | images/s | decodes | encodes | peak sharp ops | peak originals held | peak RSS |',
    )
    console.log(
      '| --- | -----: | ---: | -------: | ------: | ------: | -------------: | ------------------: | -------: |',
    )
    console.log(row('48 photos (24 x 1024x1024, 24 x 1536x1024), cold', cold))
    console.log(row('same 48, warm (new process)', warm))
    if (small) {
      console.log(row('20 photos 768x512, cold', smallRuns[20]))
      console.log(row('200 photos 768x512, cold', smallRuns[200]))
    }
    console.log(
      `\nIdle process (modules loaded, optimizer created, no image work): ${Math.round(idle.maxRssMB)} MB peak RSS.`,
    )
    const kb = (format) => ((cold.bytes[format] ?? 0) / 1024 / 1024).toFixed(1)
    console.log(`Cold output of the 48: AVIF ${kb('avif')} MB, WebP ${kb('webp')} MB, JPEG ${kb('jpeg')} MB.`)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

function machine() {
  const cpus = os.cpus()
  const v = sharp.versions
  console.log('### Machine\n')
  console.log(`- Date: ${new Date().toISOString().slice(0, 10)}`)
  console.log(
    `- CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores (os.availableParallelism() = ${os.availableParallelism()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GB memory, ${os.platform()} ${os.release()}`,
  )
  console.log(
    `- Node ${process.version}; sharp ${v.sharp}, libvips ${v.vips}, libaom ${v.aom}, libheif ${v.heif}, libwebp ${v.webp}, mozjpeg ${v.mozjpeg}`,
  )
  console.log(
    `- UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'unset (4)'}; sharp.concurrency() = ${sharp.concurrency()}`,
  )
}

const [mode, phase, ...args] = process.argv.slice(2)
if (mode === '--child') {
  console.log(JSON.stringify(await phases[phase](...args)))
} else {
  machine()
  if (!mode || mode === 'effort') effortCurve()
  if (!mode || mode === 'throughput') await throughput()
  if (mode === 'cold') await throughput({ small: false })
}
