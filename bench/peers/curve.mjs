// The encoder curve behind our defaults: each source decoded once to raw pixels (as our optimizer
// does), then resized to 960 px and encoded at every setting of the grid, one encode at a time.
// Time is the encode's CPU time (user + system of this process, every libaom thread included),
// steadier than wall time on a shared machine; wall is kept too. Prints one JSON line.
//
//   node curve.mjs <sources.json>
import { readFile } from 'node:fs/promises'
import sharp from 'sharp'
import { createScorer } from './quality.mjs'

sharp.cache(false)
export const CURVE_WIDTH = 960
export const GRID = [
  ...[40, 50, 60, 70].flatMap((quality) =>
    [2, 3, 4, 5, 6].map((effort) => ({ format: 'avif', quality, effort })),
  ),
  ...[70, 75, 77, 78, 80, 85].map((quality) => ({ format: 'webp', quality, effort: 4 })),
  ...[70, 75, 80, 85].map((quality) => ({ format: 'jpeg', quality, mozjpeg: true })),
]

async function curve(sources) {
  const scorer = createScorer()
  const sums = GRID.map(() => ({ wallMs: 0, cpuMs: 0, bytes: 0, ssim: 0 }))
  for (const source of sources) {
    const { data, info } = await sharp(source.path).raw().toBuffer({ resolveWithObject: true })
    const raw = { width: info.width, height: info.height, channels: info.channels }
    for (const [i, { format, ...options }] of GRID.entries()) {
      const cpu = process.cpuUsage()
      const started = performance.now()
      const bytes = await sharp(data, { raw }).resize(CURVE_WIDTH)[format](options).toBuffer()
      const wallMs = performance.now() - started
      const used = process.cpuUsage(cpu)
      sums[i].wallMs += wallMs
      sums[i].cpuMs += (used.user + used.system) / 1000
      sums[i].bytes += bytes.length
      sums[i].ssim += await scorer.score(source.path, bytes)
    }
    scorer.clear()
    process.stderr.write(`curve: ${source.name} done\n`)
  }
  const n = sources.length
  return GRID.map((setting, i) => ({
    ...setting,
    wallMs: sums[i].wallMs / n,
    cpuMs: sums[i].cpuMs / n,
    kb: sums[i].bytes / n / 1024,
    ssim: sums[i].ssim / n,
  }))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sources = JSON.parse(await readFile(process.argv[2], 'utf8'))
  console.log(JSON.stringify({ width: CURVE_WIDTH, images: sources.length, rows: await curve(sources) }))
}
