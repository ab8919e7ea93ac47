// The floor: bare sharp with nothing around it. Each source is decoded once to raw pixels, resized
// once per width, and each size encoded to AVIF, WebP and PNG with sharp's default options. As many
// sharp operations at once as there are cores (libvips runs one thread per operation on glibc),
// and as many sources in flight.
//
//   node bare-sharp.mjs <sources.json> <outDir>
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'

sharp.cache(false)
const WIDTHS = [480, 960, 1440]
const FORMATS = ['avif', 'webp', 'png']

const [sourcesFile, outDir] = process.argv.slice(2)
const sources = JSON.parse(await readFile(sourcesFile, 'utf8'))
await mkdir(outDir, { recursive: true })

const slots = os.availableParallelism()
let active = 0
const waiting = []
/** At most `slots` sharp operations at once, first come first served. */
async function op(fn) {
  if (active >= slots) await new Promise((resolve) => waiting.push(resolve))
  active++
  try {
    return await fn()
  } finally {
    active--
    waiting.shift()?.()
  }
}

async function one(source) {
  const { data, info } = await op(() => sharp(source.path).raw().toBuffer({ resolveWithObject: true }))
  const raw = { width: info.width, height: info.height, channels: info.channels }
  const widths = [...new Set(WIDTHS.map((w) => Math.min(w, raw.width)))]
  // Largest first: the long AVIF encodes start early instead of ending the run alone.
  await Promise.all(
    widths.reverse().map(async (width) => {
      const sized =
        width === raw.width
          ? { data, info: raw }
          : await op(() => sharp(data, { raw }).resize(width).raw().toBuffer({ resolveWithObject: true }))
      const input = { width: sized.info.width, height: sized.info.height, channels: sized.info.channels }
      await Promise.all(
        FORMATS.map(async (format) => {
          const bytes = await op(() => sharp(sized.data, { raw: input }).toFormat(format).toBuffer())
          await writeFile(join(outDir, `${source.name}-${width}.${format}`), bytes)
        }),
      )
    }),
  )
}

// As many sources in flight as there are slots, so decoded pixels are not all held at once.
const queue = [...sources]
await Promise.all(
  Array.from({ length: slots }, async () => {
    for (let source = queue.shift(); source; source = queue.shift()) await one(source)
  }),
)
