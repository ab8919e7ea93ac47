// Section 2(a), peak memory and the allocator (not a test). Peak RSS of our optimizer (like for
// like) and of eleventy-img over the same sources, each run with glibc's default malloc arenas and
// with MALLOC_ARENA_MAX=2, alternating; ratios pair by pair. It shows how much of a peak is the
// allocator's and what the 0.6x target would need. Run against the built packages.
//
//   pnpm bench memory               6 sources, 3 rounds (~6 min on 2 cores)
//   pnpm bench memory --full        48 sources, 3 rounds (~40 min)
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertOk, measureProcess } from './lib/measure.mjs'
import { runPaired } from './lib/paired.mjs'
import { benchPhotos, freshDir } from './lib/projects.mjs'
import { formatMB, formatMs, formatRange, formatRatio } from './lib/stats.mjs'

const PEERS = fileURLToPath(new URL('peers/', import.meta.url))
const TMP = fileURLToPath(new URL('.tmp/peers-memory/', import.meta.url))

/** Runs the experiment; resolves to its markdown and the paired result. */
export async function peersMemory({ full = false, log = () => {} } = {}) {
  const images = full ? 48 : 6
  const rounds = 3
  const sources = (await benchPhotos(images)).map((p) => ({
    name: `s${p.width}-v${String(p.index).padStart(2, '0')}`,
    path: p.file,
    width: p.width,
    height: p.height,
  }))
  const run = await freshDir(TMP)
  const sourcesFile = join(run, 'sources.json')
  await writeFile(sourcesFile, JSON.stringify(sources))
  const cache = join(run, 'cache')
  const eleventyOut = join(run, 'eleventy')
  const node = process.execPath
  assertOk(await measureProcess(node, [join(PEERS, 'ours.mjs'), 'prepare', cache, sourcesFile]), 'prepare')

  const arenas = { ...process.env, MALLOC_ARENA_MAX: '2' }
  const timed = async (args, env) => assertOk(await measureProcess(node, args, { env }), args.join(' '))
  const ours = (env) => () => timed([join(PEERS, 'ours.mjs'), 'run', cache, 'like'], env)
  const eleventy = (env) => () => timed([join(PEERS, 'eleventy.mjs'), sourcesFile, eleventyOut], env)
  const result = await runPaired({
    pairs: rounds,
    contenders: {
      ours: ours(process.env),
      eleventy: eleventy(process.env),
      'ours-arenas': ours(arenas),
      'eleventy-arenas': eleventy(arenas),
    },
    // Cold, every run: no variant and no output left from the run before.
    before: async (name) => {
      if (name.startsWith('ours')) {
        for (const sub of ['variants', 'tmp']) await rm(join(cache, sub), { recursive: true, force: true })
      } else await rm(eleventyOut, { recursive: true, force: true })
    },
    log,
  })

  const row = (label, name) =>
    `| ${label} | ${formatRange(result.summary(name, 'peakRssMB'), formatMB)} | ${formatRange(result.summary(name), formatMs)} | ${formatRange(result.summary(name, 'cpuMs'), formatMs)} |`
  const ratio = (a, b, field = 'peakRssMB') => formatRange(result.ratio(a, b, field), formatRatio)
  const md = [
    `${images} sources, ${rounds} rounds of four whole processes, alternating: our optimizer like for like (\`bench/peers/ours.mjs run ... like\`) and eleventy-img (\`bench/peers/eleventy.mjs\`), each with glibc's default malloc arenas and with \`MALLOC_ARENA_MAX=2\`.`,
    '',
    '| run | peak RSS | wall | CPU (user+sys) |',
    '| --- | ---: | ---: | ---: |',
    row('ours, default arenas', 'ours'),
    row('eleventy-img, default arenas', 'eleventy'),
    row('ours, `MALLOC_ARENA_MAX=2`', 'ours-arenas'),
    row('eleventy-img, `MALLOC_ARENA_MAX=2`', 'eleventy-arenas'),
    '',
    '| ratio, pair by pair | peak RSS | wall |',
    '| --- | ---: | ---: |',
    `| ours / eleventy-img, both default | ${ratio('ours', 'eleventy')} | ${ratio('ours', 'eleventy', 'wallMs')} |`,
    `| ours / eleventy-img, both \`MALLOC_ARENA_MAX=2\` | ${ratio('ours-arenas', 'eleventy-arenas')} | ${ratio('ours-arenas', 'eleventy-arenas', 'wallMs')} |`,
    `| ours with \`MALLOC_ARENA_MAX=2\` / eleventy-img default | ${ratio('ours-arenas', 'eleventy')} | ${ratio('ours-arenas', 'eleventy', 'wallMs')} |`,
    `| ours \`MALLOC_ARENA_MAX=2\` / ours default | ${ratio('ours-arenas', 'ours')} | ${ratio('ours-arenas', 'ours', 'wallMs')} |`,
  ].join('\n')
  return { md, result }
}
