// Photo-like originals, made deterministically (the same bytes every run): a sky gradient over
// textured ground (value noise at four scales), soft discs and grain. Flat colour would flatter
// every encoder. Same generator as packages/core/test/optimize/photo.ts.
//
//   photoPixels(1536, 1024, seed)                       raw RGB pixels
//   await photoPngs({ width, height, count, bases })    [{ index, width, height, bytes }] (PNG)
//   await photoSet(dir, [{ width, height, count, bases }])
//                                                       the same, written once under `dir` and
//                                                       read back on later runs: [{ file, ... }]
//
// A set is `bases` generated pictures per size, each varied in hue, brightness and mirroring so
// that every image is distinct and still photo-like (generating each from scratch is slow in JS).
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
/** @type {import('sharp').default} */
const sharp = require('sharp')

export function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function valueNoise(rand, width, height, cell) {
  const gw = Math.ceil(width / cell) + 2
  const grid = new Float32Array(gw * (Math.ceil(height / cell) + 2))
  for (let i = 0; i < grid.length; i++) grid[i] = rand()
  const smooth = (f) => f * f * (3 - 2 * f)
  return (x, y) => {
    const gx = x / cell
    const gy = y / cell
    const x0 = Math.floor(gx)
    const y0 = Math.floor(gy)
    const fx = smooth(gx - x0)
    const fy = smooth(gy - y0)
    const i = y0 * gw + x0
    const top = grid[i] + (grid[i + 1] - grid[i]) * fx
    const bottom = grid[i + gw] + (grid[i + gw + 1] - grid[i + gw]) * fx
    return top + (bottom - top) * fy
  }
}

/** Raw RGB pixels (3 channels) of one photo-like picture; the same seed gives the same bytes. */
export function photoPixels(width, height, seed) {
  const rand = mulberry32(seed)
  const [n0, n1, n2, n3] = [128, 40, 12, 3].map((cell) => valueNoise(rand, width, height, cell))
  const hue = rand()
  const skyTop = [60 + 120 * hue, 110 + 40 * rand(), 210 - 90 * hue]
  const skyLow = [235, 190 - 70 * hue, 140 + 40 * rand()]
  const near = [30 + 50 * rand(), 55 + 50 * rand(), 20 + 20 * rand()]
  const far = [100 + 40 * rand(), 110 + 40 * rand(), 60]
  const horizon = height * (0.4 + 0.25 * rand())
  const discs = Array.from({ length: 7 }, () => ({
    x: rand() * width,
    y: rand() * height,
    r: (0.04 + 0.14 * rand()) * Math.min(width, height),
    c: [255 * rand(), 255 * rand(), 255 * rand()],
  }))
  const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)))
  const px = Buffer.alloc(width * height * 3)
  const c = [0, 0, 0]
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const fine = n3(x, y)
      const t = n0(x, y) * 0.5 + n1(x, y) * 0.3 + n2(x, y) * 0.15 + fine * 0.05
      if (y < horizon + (t - 0.5) * 120) {
        const k = y / horizon
        for (let i = 0; i < 3; i++) c[i] = skyTop[i] + (skyLow[i] - skyTop[i]) * k + 30 * (t - 0.5)
      } else {
        const k = (y - horizon) / (height - horizon)
        const shade = 0.45 + 1.1 * t + 0.5 * (fine - 0.5)
        for (let i = 0; i < 3; i++) c[i] = (far[i] + (near[i] - far[i]) * k) * shade
      }
      for (const d of discs) {
        const dx = x - d.x
        const dy = y - d.y
        if (Math.abs(dx) > d.r * 1.1 || Math.abs(dy) > d.r * 1.1) continue
        const dist = Math.sqrt(dx * dx + dy * dy) / d.r
        if (dist >= 1.1) continue
        const a = Math.min(1, (1.1 - dist) * 6) * 0.85
        for (let i = 0; i < 3; i++) c[i] += (d.c[i] * (0.6 + 0.6 * t) - c[i]) * a
      }
      const o = (y * width + x) * 3
      for (let i = 0; i < 3; i++) px[o + i] = clamp(c[i] + (rand() - 0.5) * 14)
    }
  }
  return px
}

/**
 * `count` photo-like PNGs of one size, in index order (see the header). `png` is sharp's PNG
 * options: level 1 is quick to make; level 6 with adaptive filtering gives the 1.8-2.7 MB files
 * a generator's PNGs weigh at these sizes.
 */
export async function photoPngs({ width, height, count, bases, png = { compressionLevel: 1 } }) {
  const out = []
  for (let b = 0; b < Math.min(bases, count); b++) {
    const raw = sharp(photoPixels(width, height, 1000 * width + b), { raw: { width, height, channels: 3 } })
    for (let v = b; v < count; v += bases) {
      // Hue, brightness and mirroring make each original distinct and still photo-like.
      const k = Math.floor(v / bases)
      let image = raw.clone().modulate({ hue: k * 29, brightness: 0.9 + 0.03 * (k % 7) })
      if (k % 2) image = image.flop()
      out.push({ index: v, width, height, bytes: await image.png(png).toBuffer() })
    }
  }
  return out.sort((a, b) => a.index - b.index)
}

/**
 * The PNGs of every spec, as files under `dir` (`<width>x<height>-<index>.png`), made on the first
 * call and read back afterwards. Returns them in spec order, then index order, with their bytes.
 */
export async function photoSet(dir, specs) {
  await mkdir(dir, { recursive: true })
  const out = []
  for (const spec of specs) {
    const level = `z${spec.png?.compressionLevel ?? 1}${spec.png?.adaptiveFiltering ? 'a' : ''}`
    const name = (i) => join(dir, `${spec.width}x${spec.height}-${spec.bases}-${level}-${i}.png`)
    const all = Array.from({ length: spec.count }, (_, i) => name(i))
    if (!all.every((f) => existsSync(f))) {
      for (const photo of await photoPngs(spec)) {
        // Written aside then renamed: an interrupted run never leaves half a PNG to be read later.
        // The temporary name is per process: two benchmarks may make the same set at once.
        const part = `${name(photo.index)}.${process.pid}.part`
        await writeFile(part, photo.bytes)
        await rename(part, name(photo.index))
      }
    }
    for (const [index, file] of all.entries()) {
      out.push({ file, index, width: spec.width, height: spec.height, bytes: await readFile(file) })
    }
  }
  return out
}
