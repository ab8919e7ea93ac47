// Issue 24's floor: this checkout against another build of the CLI (the code before), paired.
//
//   node bench/startup.mjs --before <dir of an older checkout, built> [--pairs 5] [--scan-files 50000]
//
// (a) Generation start-up: a cold `flux-images generate` of N = 48 directives (C = 4, L = 400 ms,
//     the mock's own small PNGs, pre-rendered): wall / (ceil(N/C) x L), and when the mock saw the
//     first request, counted from the spawn of the process.
// (b) Scan: `flux-images scan` over generated markdown trees (5,000 and 50,000 files, 2 directives
//     in every 5th), against `grep -rc flux:` over the same tree; wall, CPU and peak RSS.
// Every contender is a whole process; contenders alternate (A B A B, reversed every other round).
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { assertOk, cpuMsOf, measureProcess } from './lib/measure.mjs'
import { BENCH_KEY, benchEnv, loadMockGateway } from './lib/mock.mjs'
import { runPaired } from './lib/paired.mjs'
import { BENCH_TMP, benchPhotos, CLI_BIN, freshDir, writeDirectiveProject } from './lib/projects.mjs'
import { formatMB, formatMs, formatRange } from './lib/stats.mjs'

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    pairs: { type: 'string', default: '5' },
    'scan-files': { type: 'string', default: '5000,50000' },
    only: { type: 'string' },
  },
})
if (!values.before)
  throw new Error('bench/startup.mjs: --before <checkout> is required (a built copy of the code before)')
const CLIS = { before: join(resolve(values.before), 'packages/core/dist/cli/bin.js'), after: CLI_BIN }
const pairs = Number(values.pairs)
const log = (line) => process.stderr.write(`${line}\n`)
const N = 48
const C = 4
const L = 400

if (values.only !== 'scan') console.log(await generationStartup())
if (values.only !== 'generation')
  for (const files of values['scan-files'].split(',').map(Number)) console.log(await scan(files))

async function generationStartup() {
  const photos = await benchPhotos(N)
  const { createMockGateway, createImageMaker } = await loadMockGateway()
  const grids = createImageMaker()
  await Promise.all(photos.map((p) => grids.make({ prompt: p.prompt, size: p.size })))
  let first
  let firstCpu
  let pid
  const gateway = await createMockGateway({
    apiKey: BENCH_KEY,
    latencyMs: L,
    images: {
      make(request) {
        if (first === undefined) {
          first = performance.now()
          firstCpu = cpuMsOf(pid)
        }
        return grids.make(request)
      },
    },
  })
  const dir = await writeDirectiveProject(join(BENCH_TMP, 'startup', 'cold'), photos)
  const run = (cli) => async () => {
    gateway.reset()
    first = undefined
    firstCpu = undefined
    const started = performance.now()
    const m = assertOk(
      await measureProcess(process.execPath, [cli, 'generate', '--root', dir, '--concurrency', String(C)], {
        cwd: dir,
        env: benchEnv(gateway),
        onSpawn: (id) => {
          pid = id
        },
      }),
      'generate',
    )
    if (gateway.requests !== N) throw new Error(`${gateway.requests} requests, not ${N}`)
    return {
      ...m,
      ratio: m.wallMs / (Math.ceil(N / C) * L),
      firstMs: first - started,
      firstCpuMs: firstCpu,
      maxInFlight: gateway.maxInFlight,
    }
  }
  try {
    const result = await runPaired({
      pairs,
      contenders: { before: run(CLIS.before), after: run(CLIS.after) },
      before: () => rm(join(dir, '.flux-cache'), { recursive: true, force: true }),
      log,
    })
    const row = (name) => {
      const s = (field, f = formatMs) => formatRange(result.summary(name, field), f)
      return `| ${name} | ${s('wallMs')} | **${s('ratio', (x) => x.toFixed(3))}** | ${s('firstMs')} | ${s('firstCpuMs')} | ${s('cpuMs')} | ${s('peakRssMB', formatMB)} |`
    }
    return [
      `**Generation start-up**: cold \`flux-images generate\`, N = ${N}, C = ${C}, L = ${L} ms (ideal ${formatMs(Math.ceil(N / C) * L)}), ${pairs} pairs.`,
      '',
      '| code | wall | wall / ideal | first request after spawn | CPU until the first request | CPU | peak RSS |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      row('before'),
      row('after'),
      '',
      `after / before, pair by pair: wall ${formatRange(result.ratio('after', 'before'), (x) => x.toFixed(3))}, first request ${formatRange(result.ratio('after', 'before', 'firstMs'), (x) => x.toFixed(2))}, CPU until it ${formatRange(result.ratio('after', 'before', 'firstCpuMs'), (x) => x.toFixed(2))}`,
    ].join('\n')
  } finally {
    await gateway.close()
  }
}

async function scan(files) {
  const dir = join(BENCH_TMP, 'startup', `scan-${files}`)
  await freshDir(dir)
  for (let f = 0; f < files; f++) {
    const sub = join(dir, 'content', `section-${String(f % 50).padStart(2, '0')}`)
    if (f < 50) await mkdir(sub, { recursive: true })
    await writeFile(join(sub, `post-${String(f).padStart(5, '0')}.md`), postText(f))
  }
  const env = benchEnv(undefined)
  const cli = (path) => async () =>
    assertOk(await measureProcess(process.execPath, [path, 'scan', '--root', dir], { cwd: dir, env }), 'scan')
  const result = await runPaired({
    pairs,
    contenders: {
      grep: async () => measureProcess('grep', ['-rc', 'flux:', dir], { env }),
      before: cli(CLIS.before),
      after: cli(CLIS.after),
    },
    log,
  })
  const row = (name) => {
    const s = (field, f = formatMs) => formatRange(result.summary(name, field), f)
    const vsGrep = name === 'grep' ? '1' : formatRange(result.ratio(name, 'grep'), (x) => x.toFixed(1))
    return `| ${name} | ${s('wallMs')} | ${vsGrep} | ${s('cpuMs')} | ${s('peakRssMB', formatMB)} |`
  }
  return [
    `**Scan**: ${files} markdown files, ${(files / 5) * 2} directives, no cache; \`flux-images scan --root <dir>\` vs \`grep -rc flux: <dir>\`, ${pairs} rounds.`,
    '',
    '| contender | wall | wall / grep (paired) | CPU | peak RSS |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('grep'),
    row('before'),
    row('after'),
    '',
    `after / before, pair by pair: wall ${formatRange(result.ratio('after', 'before'), (x) => x.toFixed(2))}, CPU ${formatRange(result.ratio('after', 'before', 'cpuMs'), (x) => x.toFixed(2))}, peak RSS ${formatRange(result.ratio('after', 'before', 'peakRssMB'), (x) => x.toFixed(2))}`,
  ].join('\n')
}

/** The post of bench/scale.mjs: frontmatter, a few paragraphs; every 5th post holds two directives. */
function postText(f) {
  const words = 'the tide came in over the flat sand while gulls turned above the harbour wall and the boats'
  const para = `${words} ${f} ${words}.`
  const k = f / 5
  const fm = ['---', `title: Post ${f}`, 'date: 2026-01-01', `tags: [coast, walk, ${f % 7}]`]
  const body = ['', `# Post ${f}`, '', para, '', para, '']
  if (f % 5 === 0) {
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
