// Section 2 of the benchmarks: optimization against astro:assets and @11ty/eleventy-img (not a
// test). Runs against the built packages: `pnpm build` first.
//
//   node bench/peers.mjs            quick: 6 sources, 1 round, curve on 1 source (~4-5 min on 2 cores)
//   node bench/peers.mjs --full     the record: 48 sources, 3 rounds, curve on 6 sources (~50 min)
//   BENCH_PEERS_IMAGES=12 BENCH_PEERS_ROUNDS=2 BENCH_PEERS_CURVE=4 node bench/peers.mjs
//   node bench/peers.mjs --plot bench/.tmp/peers/results-6-images-3-rounds.json   redraw the plot
//
// Every contender is a whole process on this Node binary and the one sharp the workspace holds
// (checked below): wall, CPU and peak RSS come from bench/lib/measure.mjs. A round runs each
// contender once, cold, in an order reversed every other round (bench/lib/paired.mjs); ratios are
// taken within a round.
// (a) Like for like: our optimizer at sharp's default encoder options vs eleventy-img, an Astro
// build of one <Picture> per source, and bare sharp; every output's sha256 must equal
// eleventy-img's. (b) Our defaults vs eleventy-img at sharp's defaults (bytes and SSIM per modern
// format), and the AVIF effort x quality curve they were chosen on, plotted to bench/optimize-curve.svg.
import { readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machineInfo } from './lib/machine.mjs'
import { assertOk, measureProcess } from './lib/measure.mjs'
import { runPaired } from './lib/paired.mjs'
import { benchPhotos, freshDir } from './lib/projects.mjs'
import { summarize } from './lib/stats.mjs'
import { makeAstroCold, writeAstroSite } from './peers/astro-page.mjs'
import { compareOutputs, readOutputs } from './peers/outputs.mjs'
import { writeCurvePlot } from './peers/plot.mjs'
import { createScorer } from './peers/quality.mjs'

const BENCH = fileURLToPath(new URL('.', import.meta.url))
const PEERS = join(BENCH, 'peers')
const TMP = join(BENCH, '.tmp', 'peers')
const PLOT = join(BENCH, 'optimize-curve.svg')
/** Fewer curve sources than this draw to bench/.tmp, so a quick run never replaces the kept plot. */
const PLOT_MIN_SOURCES = 6
const ASTRO_BIN = fileURLToPath(
  import.meta.resolve('astro/package.json').replace(/package\.json$/, 'bin/astro.mjs'),
)

const CONTENDERS = {
  'ours-like': { label: 'ours, like for like' },
  eleventy: { label: '@11ty/eleventy-img' },
  'ours-defaults': { label: 'ours, our defaults' },
  astro: { label: 'astro build (<Picture>)' },
  sharp: { label: 'bare sharp (floor)' },
}

/**
 * Runs section 2 and returns its markdown and raw results. `full`: 48 sources and 3 rounds (the
 * record); otherwise 6 sources and 1 round. Progress goes to `log`.
 * @param {{ full?: boolean, log?: (line: string) => void }} [options]
 * @returns {Promise<{ markdown: string, results: object }>}
 */
export async function runPeers({ full = false, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const env = process.env
  const images = Number(env.BENCH_PEERS_IMAGES ?? (full ? 48 : 6))
  const rounds = Number(env.BENCH_PEERS_ROUNDS ?? (full ? 3 : 1))
  const curveImages = Number(env.BENCH_PEERS_CURVE ?? (full ? 6 : 1))
  const machine = machineInfo()
  const versions = sharpVersions()
  const sources = (await benchPhotos(images)).map((p) => ({
    name: `s${p.width}-v${String(p.index).padStart(2, '0')}`,
    path: p.file,
    width: p.width,
    height: p.height,
  }))
  const names = sources.map((s) => s.name)
  const run = await freshDir(join(TMP, 'run'))
  const sourcesFile = join(run, 'sources.json')
  await writeFile(sourcesFile, JSON.stringify(sources))
  const node = process.execPath
  const site = join(run, 'astro')
  await writeAstroSite(site, sources)
  const dirs = {
    'ours-like': join(run, 'cache-like'),
    'ours-defaults': join(run, 'cache-defaults'),
    eleventy: join(run, 'eleventy'),
    sharp: join(run, 'sharp'),
    astro: join(site, 'dist'),
  }
  for (const mode of ['like', 'defaults']) {
    const args = [join(PEERS, 'ours.mjs'), 'prepare', dirs[`ours-${mode}`], sourcesFile]
    assertOk(await measureProcess(node, args), `ours.mjs prepare ${mode}`)
  }

  const timed = async (args, opts) => assertOk(await measureProcess(node, args, opts), args.join(' '))
  const ours = (mode) => async () => {
    const m = await timed([join(PEERS, 'ours.mjs'), 'run', dirs[`ours-${mode}`], mode])
    const { decodes, encodes, peakActive } = JSON.parse(m.stdout.trim().split('\n').pop())
    return { ...m, decodes, encodes, peakActive }
  }
  const paired = await runPaired({
    pairs: rounds,
    contenders: {
      'ours-like': ours('like'),
      eleventy: () => timed([join(PEERS, 'eleventy.mjs'), sourcesFile, dirs.eleventy]),
      'ours-defaults': ours('defaults'),
      astro: () =>
        timed([ASTRO_BIN, 'build', '--silent'], { cwd: site, env: { ASTRO_TELEMETRY_DISABLED: '1' } }),
      sharp: () => timed([join(PEERS, 'bare-sharp.mjs'), sourcesFile, dirs.sharp]),
    },
    // Cold, every run: no output, no variant, no image cache left from the run before.
    before: async (name) => {
      if (name === 'astro') await makeAstroCold(site)
      else if (name.startsWith('ours-')) {
        for (const sub of ['variants', 'tmp'])
          await rm(join(dirs[name], sub), { recursive: true, force: true })
      } else await rm(dirs[name], { recursive: true, force: true })
    },
    log,
  })
  const order = Object.keys(CONTENDERS)
  // Per round, each contender's figures (not its output streams).
  const measured = Array.from({ length: rounds }, (_, i) =>
    Object.fromEntries(
      order.map((n) => {
        const { stdout, stderr, ...figures } = paired.runs[n][i]
        return [n, figures]
      }),
    ),
  )

  log('reading outputs back (hashes, sizes)')
  const outputs = {}
  for (const name of order) outputs[name] = await readOutputs(dirs[name], names)
  const identity = Object.fromEntries(
    ['ours-like', 'astro', 'sharp'].map((name) => [name, compareOutputs(outputs[name], outputs.eleventy)]),
  )

  log('scoring (b): SSIM of every AVIF and WebP file, ours at defaults and eleventy-img')
  const pathOf = Object.fromEntries(sources.map((s) => [s.name, s.path]))
  const scorer = createScorer()
  const formats = {}
  for (const format of ['avif', 'webp', 'jpeg', 'png']) {
    for (const name of ['ours-defaults', 'eleventy']) {
      const files = [...outputs[name]].filter(([key]) => key.endsWith(` ${format}`))
      if (files.length === 0) continue
      const row = { files: files.length, bytes: 0, ssim: 0 }
      for (const [key, file] of files) {
        row.bytes += file.bytes
        if (format === 'avif' || format === 'webp') {
          row.ssim +=
            (await scorer.score(pathOf[key.split(' ')[0]], await readFile(file.path))) / files.length
        }
      }
      formats[format] = { ...formats[format], [name]: row }
    }
  }
  scorer.clear()

  log(`curve: AVIF effort x quality, WebP and JPEG quality, ${curveImages} sources at 960 px`)
  const curveFile = join(run, 'curve-sources.json')
  // Wide sources first: a quick run's one curve source is a 1536x1024, as in the probe.
  const curveSources = [...sources].sort((a, b) => b.width - a.width || a.name.localeCompare(b.name))
  const picked = [...curveSources.filter((s) => s.width === 1536).slice(0, Math.ceil(curveImages / 2))]
  picked.push(...curveSources.filter((s) => s.width === 1024).slice(0, curveImages - picked.length))
  await writeFile(curveFile, JSON.stringify(picked))
  const curve = JSON.parse(
    (await timed([join(PEERS, 'curve.mjs'), curveFile])).stdout.trim().split('\n').pop(),
  )
  const label = `${full ? 'full' : 'quick'} run, ${new Date().toISOString().slice(0, 10)}`
  log(`plot: ${await plotCurve(curve, label)}`)

  const results = {
    full,
    images,
    rounds,
    curveImages,
    versions,
    machine,
    measured,
    identity,
    formats,
    curve,
  }
  await writeFile(
    join(TMP, `results-${images}-images-${rounds}-rounds.json`),
    JSON.stringify(results, null, 2),
  )
  return { markdown: markdown(results), results }
}

/**
 * Writes bench/optimize-curve.svg (bench/.tmp/peers/ for a curve on fewer than 6 sources), ringing
 * the peers' AVIF and WebP settings and ours. Returns the path written.
 */
export async function plotCurve(curve, title) {
  const path = curve.images >= PLOT_MIN_SOURCES ? PLOT : join(TMP, 'optimize-curve.svg')
  const { OPTIMIZE_DEFAULTS: ours } = await import(
    new URL('optimize/index.js', import.meta.resolve('@flux-images/core')).href
  )
  await writeCurvePlot(path, curve, {
    title,
    marks: [
      { label: "peers' AVIF (q50 e4)", color: '#d00', match: { format: 'avif', quality: 50, effort: 4 } },
      { label: "peers' WebP (q80)", color: '#d00', match: { format: 'webp', quality: 80, effort: 4 } },
      {
        label: `our AVIF (q${ours.avif.quality} e${ours.avif.effort})`,
        color: '#0a0',
        match: { format: 'avif', ...ours.avif },
      },
      { label: `our WebP (q${ours.webp.quality})`, color: '#0a0', match: { format: 'webp', ...ours.webp } },
    ],
  })
  return path
}

/** sharp as each contender resolves it: the same file, or the comparison means nothing. */
function sharpVersions() {
  const seen = {}
  for (const [who, from] of [
    ['bench', new URL('package.json', import.meta.url)],
    ['@flux-images/core', import.meta.resolve('@flux-images/core')],
    ['astro', import.meta.resolve('astro/package.json')],
    ['@11ty/eleventy-img', import.meta.resolve('@11ty/eleventy-img')],
  ]) {
    const require = createRequire(from)
    seen[who] = { path: require.resolve('sharp'), versions: require('sharp').versions }
  }
  const paths = new Set(Object.values(seen).map((s) => s.path))
  if (paths.size !== 1)
    throw new Error(`contenders resolve different sharp builds: ${JSON.stringify(seen, null, 2)}`)
  return Object.values(seen)[0].versions
}

// ---------------------------------------------------------------------------------------------
// Markdown

const sec = (ms) => `${(ms / 1000).toFixed(1)} s`
const mib = (mb) => `${Math.round(mb)} MiB`
const x = (v) => `${v.toFixed(2)}x`
const range = (values, fmt) => {
  const s = summarize(values)
  return s.n === 1 ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}..${fmt(s.max)})`
}

function markdown(r) {
  const lines = []
  const v = r.versions
  const m = r.machine
  lines.push(
    `Run ${m.date.slice(0, 16).replace('T', ' ')} UTC, ${r.full ? 'full' : 'QUICK'}: ${r.images} sources, ${r.rounds} round(s), curve on ${r.curveImages} sources.`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB.toFixed(1)} GB, ${m.os}, shared; load average at the start ${m.load.join(' / ')}.`,
    `Node ${m.node}; sharp ${v.sharp}, libvips ${v.vips}, libaom ${v.aom}, libheif ${v.heif}, libwebp ${v.webp} (the same sharp file for every contender).`,
    '',
    '| contender | wall | CPU | peak RSS |',
    '| --- | ---: | ---: | ---: |',
  )
  for (const [name, { label }] of Object.entries(CONTENDERS)) {
    const runs = r.measured.map((round) => round[name])
    lines.push(
      `| ${label} | ${range(
        runs.map((t) => t.wallMs),
        sec,
      )} | ${range(
        runs.map((t) => t.cpuMs),
        sec,
      )} | ${range(
        runs.map((t) => t.peakRssMB),
        mib,
      )} |`,
    )
  }
  const ratio = (a, b, field = 'wallMs') =>
    range(
      r.measured.map((round) => round[a][field] / round[b][field]),
      x,
    )
  lines.push(
    '',
    '| ratio (per round) | measured | target |',
    '| --- | ---: | ---: |',
    `| (a) wall, ours like for like / bare sharp | ${ratio('ours-like', 'sharp')} | <= 1.00x |`,
    `| (a) wall, ours like for like / eleventy-img | ${ratio('ours-like', 'eleventy')} | <= 0.98x |`,
    `| (a) wall, ours like for like / astro build | ${ratio('ours-like', 'astro')} | <= 0.95x |`,
    `| (a) peak RSS, ours like for like / eleventy-img | ${ratio('ours-like', 'eleventy', 'peakRssMB')} | <= 0.60x |`,
    `| (a) CPU, ours like for like / bare sharp | ${ratio('ours-like', 'sharp', 'cpuMs')} | - |`,
    `| (a) CPU, ours like for like / eleventy-img | ${ratio('ours-like', 'eleventy', 'cpuMs')} | - |`,
    `| (a) CPU, ours like for like / astro build | ${ratio('ours-like', 'astro', 'cpuMs')} | - |`,
    `| (b) wall, ours at our defaults / eleventy-img | ${ratio('ours-defaults', 'eleventy')} | <= 0.35x |`,
    `| (b) CPU, ours at our defaults / eleventy-img | ${ratio('ours-defaults', 'eleventy', 'cpuMs')} | - |`,
    '',
  )
  for (const [name, c] of Object.entries(r.identity)) {
    lines.push(
      `- sha256, ${CONTENDERS[name].label} vs eleventy-img: ${c.same.length} of ${c.same.length + c.differ.length + c.onlyB.length} files identical` +
        (c.equal
          ? '.'
          : `; differ: ${c.differ.join(', ') || 'none'}; missing: ${c.onlyB.join(', ') || 'none'}; extra: ${c.onlyA.join(', ') || 'none'}.`),
    )
  }
  lines.push(
    '',
    '| (b) format | files | ours (defaults) | eleventy-img | bytes ratio | SSIM ours | SSIM eleventy-img | SSIM diff |',
  )
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const [format, row] of Object.entries(r.formats)) {
    const ours = row['ours-defaults']
    const peer = row.eleventy
    const kb = (b) => (b === undefined ? '-' : `${(b / 1024).toFixed(0)} KB`)
    const score = (f) => (f && (format === 'avif' || format === 'webp') ? f.ssim.toFixed(4) : '-')
    lines.push(
      `| ${format} | ${(ours ?? peer).files} | ${kb(ours?.bytes)} | ${kb(peer?.bytes)} | ${ours && peer ? x(ours.bytes / peer.bytes) : '-'} | ${score(ours)} | ${score(peer)} | ${ours && peer && score(ours) !== '-' ? (ours.ssim - peer.ssim).toFixed(4) : '-'} |`,
    )
  }
  lines.push(
    '',
    `Curve (${r.curve.images} sources at ${r.curve.width} px, one encode at a time; time is CPU per image):`,
    '',
    '| format | quality | effort | CPU | wall | size | SSIM |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const c of r.curve.rows) {
    lines.push(
      `| ${c.format} | ${c.quality} | ${c.effort ?? (c.mozjpeg ? 'mozjpeg' : '-')} | ${Math.round(c.cpuMs)} ms | ${Math.round(c.wallMs)} ms | ${c.kb.toFixed(1)} KB | ${c.ssim.toFixed(4)} |`,
    )
  }
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const plot = process.argv.indexOf('--plot')
  if (plot > 0) {
    // Redraws the plot from a saved run: node bench/peers.mjs --plot bench/.tmp/peers/results-....json
    const saved = JSON.parse(await readFile(process.argv[plot + 1], 'utf8'))
    await plotCurve(saved.curve, `${saved.full ? 'full' : 'quick'} run, ${saved.machine.date.slice(0, 10)}`)
  } else {
    const { markdown: md } = await runPeers({ full: process.argv.includes('--full') })
    console.log(md)
  }
}
