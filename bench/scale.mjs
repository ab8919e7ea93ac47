// Section 5: scale.
//
// (a) `flux-images scan` (whole process) over 5,000 generated markdown files holding 2,000
//     directives (1,000 files with two each, in the three markdown forms and frontmatter; 4,000
//     without), no cache yet: every directive is reported `missing`.
// (b) Peak RSS of one process (bench/lib/flux-run.mjs) generating and optimizing 200 images
//     against the mock, vs 20: if no list of decoded images grows with the site, 10x the images
//     costs far less than 10x the memory. Photo-like originals, default image options.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertOk, measureProcess } from './lib/measure.mjs'
import { BENCH_KEY, benchEnv, loadMockGateway, servePhotos } from './lib/mock.mjs'
import { runPaired } from './lib/paired.mjs'
import { photoSet } from './lib/photos.mjs'
import { BENCH_TMP, CLI_BIN, freshDir, writeDirectiveProject } from './lib/projects.mjs'
import { formatMB, formatMs, formatRange, summarize } from './lib/stats.mjs'

const FLUX_RUN = fileURLToPath(new URL('lib/flux-run.mjs', import.meta.url))
const FILES = 5000
const DIRECTIVES = 2000

/** Runs section 5; resolves to its markdown and figures. */
export async function scale({ full = false, log = () => {} } = {}) {
  const scan = await scanAtScale({ runs: full ? 5 : 3, log })
  const memory = await memoryAtScale({ full, log })
  return { md: `${scan.md}\n\n${memory.md}`, scan, memory }
}

async function scanAtScale({ runs, log }) {
  const dir = await freshDir(join(BENCH_TMP, 'scale', 'scan'))
  let bytes = 0
  for (let f = 0; f < FILES; f++) {
    const sub = join(dir, 'content', `section-${String(f % 50).padStart(2, '0')}`)
    if (f < 50) await mkdir(sub, { recursive: true })
    const text = postText(f)
    bytes += text.length
    await writeFile(join(sub, `post-${String(f).padStart(4, '0')}.md`), text)
  }
  const env = benchEnv(undefined)
  const measured = []
  for (let i = 0; i < runs; i++) {
    const m = assertOk(
      await measureProcess(process.execPath, [CLI_BIN, 'scan', '--root', dir], { cwd: dir, env }),
      'scan',
    )
    const found = (m.stdout.match(/flux:|missing/g) ?? []).length
    measured.push({ ...m, lines: m.stdout.split('\n').length, found })
    log(`  scan #${i + 1}: ${formatMs(m.wallMs)}`)
  }
  const wall = summarize(measured.map((m) => m.wallMs))
  const summaryLine = measured[0].stdout.trim().split('\n').pop()
  const md = [
    `**scan**: ${FILES} markdown files (${(bytes / 2 ** 20).toFixed(1)} MiB in 50 folders), ${DIRECTIVES} directives in ${DIRECTIVES / 2} of them (body \`![..](flux:..)\`, \`![..](<flux:..?size=..>)\`, percent-encoded, frontmatter \`hero: "flux: .."\`), no cache; ${runs} runs of the whole \`flux-images scan --root <dir>\` process, stdout piped.`,
    '',
    '| wall | CPU (user+sys) | peak RSS | output |',
    '| ---: | ---: | ---: | --- |',
    `| **${formatRange(wall, formatMs)}** | ${formatRange(summarize(measured.map((m) => m.cpuMs)), formatMs)} | ${formatRange(summarize(measured.map((m) => m.peakRssMB)), formatMB)} | ${measured[0].lines} lines; last: \`${summaryLine}\` |`,
  ].join('\n')
  return { md, wall }
}

/** A post: frontmatter, a few paragraphs; every 5th post of the first 5,000 holds two directives. */
function postText(f) {
  const words = 'the tide came in over the flat sand while gulls turned above the harbour wall and the boats'
  const para = `${words} ${f} ${words}.`
  const withImages = f % 5 === 0
  const k = f / 5
  const fm = ['---', `title: Post ${f}`, `date: 2026-01-01`, `tags: [coast, walk, ${f % 7}]`]
  const body = ['', `# Post ${f}`, '', para, '', para, '']
  if (withImages) {
    if (k % 2) fm.push(`hero: "flux: A hero picture for post ${f}, wide?size=1536x1024&alt=Hero ${f}"`)
    else body.push(`![First picture of post ${f}](flux:A first picture for post ${f}, harbour scene)`, '')
    body.push(
      k % 3 === 0
        ? `![Second](<flux:A second picture for post ${f}, close up?size=1024x1024&seed=${f}>)`
        : `![Second](flux:A%20second%20picture%20for%20post%20${f})`,
      '',
      para,
      '',
    )
  }
  return [...fm, '---', ...body].join('\n')
}

async function memoryAtScale({ full, log }) {
  // Quick: 384x256 originals (one width, three formats each); full: 768x512 (two widths).
  const [width, height] = full ? [768, 512] : [384, 256]
  const size = `${width}x${height}`
  const photos = await photoSet(join(BENCH_TMP, 'photos'), [
    { width, height, count: 200, bases: 4, png: { compressionLevel: 6, adaptiveFiltering: true } },
  ])
  const items = photos.map((p) => ({ ...p, size, prompt: `Scale photo ${size} number ${p.index}` }))
  const { createMockGateway, DEFAULT_SIZES } = await loadMockGateway()
  const gateway = await createMockGateway({
    apiKey: BENCH_KEY,
    latencyMs: 50,
    sizes: [...DEFAULT_SIZES, size],
    images: servePhotos(new Map(items.map((p) => [p.prompt, p]))),
  })
  const config = { sizes: [size], maxGenerations: 1000, concurrency: 4 }
  const root = join(BENCH_TMP, 'scale')
  const projects = {
    20: await writeDirectiveProject(join(root, 'rss-20'), items.slice(0, 20), { config }),
    200: await writeDirectiveProject(join(root, 'rss-200'), items, { config }),
  }
  const env = benchEnv(gateway)
  const run = (count) => async () => {
    gateway.reset()
    const dir = projects[count]
    const m = assertOk(
      await measureProcess(process.execPath, ['--expose-gc', FLUX_RUN, dir], { cwd: dir, env }),
      `${count} images`,
    )
    return { ...m, ...JSON.parse(m.stdout.trim().split('\n').pop()), requests: gateway.requests }
  }
  try {
    const result = await runPaired({
      pairs: full ? 2 : 1,
      contenders: { '20 images': run(20), '200 images': run(200) },
      before: (name) =>
        rm(join(projects[name.split(' ')[0]], '.flux-cache'), { recursive: true, force: true }),
      log,
    })
    const ratio = result.ratio('200 images', '20 images', 'peakRssMB')
    const row = (name) => {
      const s = (field) => result.summary(name, field)
      const r = result.runs[name]
      return `| ${name} | ${formatRange(s('wallMs'), formatMs)} | **${formatRange(s('peakRssMB'), formatMB)}** | ${formatRange(s('ownPeakRssMB'), formatMB)} | ${[...new Set(r.map((m) => m.requests))].join(', ')} | ${[...new Set(r.map((m) => m.encodes))].join(', ')} | ${[...new Set(r.map((m) => m.peakHeld))].join(', ')} | ${formatRange(s('endRssMB'), formatMB)} | ${formatRange(s('heapUsedMB'), formatMB)} | ${formatRange(s('externalMB'), formatMB)} |`
    }
    const md = [
      `**Memory**: one process (scan, generate with C = 4 against the mock at L = 50 ms, optimize each image as it lands) over ${size} photo-like originals, default image options, empty cache; ${full ? 2 : 1} pair(s), alternating. The last columns are measured at the end of the run, after a full GC.`,
      '',
      '| run | wall | peak RSS (rusage) | peak RSS (own VmHWM) | requests | encodes | peak originals held decoded | RSS at end | JS heap at end | external at end |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      row('20 images'),
      row('200 images'),
      '',
      `**Peak RSS 200 / 20 = ${formatRange(ratio)}** (paired).`,
    ].join('\n')
    return { md, ratio }
  } finally {
    await gateway.close()
  }
}
