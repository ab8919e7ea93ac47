// Photo-like originals, made deterministically (the same bytes every run): a sky gradient over
// textured ground (value noise at four scales), soft discs and grain. Flat colour would flatter
// every encoder. The generator is core's test one (packages/core/test/optimize/photo.ts).
//
//   await photoPixels(1536, 1024, seed)                 raw RGB pixels
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
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
/** @type {import('sharp').default} */
const sharp = require('sharp')

let generator

/**
 * Raw RGB pixels (3 channels) of one photo-like picture; the same seed gives the same bytes. The
 * generator is core's test one (packages/core/test/optimize/photo.ts), compiled by Vite on first
 * use, so the tests and the benchmarks draw the same pictures from one piece of code.
 */
export async function photoPixels(width, height, seed) {
  generator ??= import('vite').then(async ({ runnerImport }) => {
    const entry = fileURLToPath(new URL('../../packages/core/test/optimize/photo.ts', import.meta.url))
    return (await runnerImport(entry, { configFile: false, logLevel: 'silent' })).module
  })
  return (await generator).photoPixels(width, height, seed)
}

/**
 * `count` photo-like PNGs of one size, in index order (see the header). `png` is sharp's PNG
 * options: level 1 is quick to make; level 6 with adaptive filtering gives the 1.8-2.7 MB files
 * a generator's PNGs weigh at these sizes.
 */
export async function photoPngs({ width, height, count, bases, png = { compressionLevel: 1 } }) {
  const out = []
  for (let b = 0; b < Math.min(bases, count); b++) {
    const raw = sharp(await photoPixels(width, height, 1000 * width + b), {
      raw: { width, height, channels: 3 },
    })
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
