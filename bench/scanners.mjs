// Section 6: speed of the pure steps that the tests no longer time (a test that fails on a busy
// machine is a bug; these figures are the record instead).
//
// (a) Every scanner over the adversarial 100 KB inputs of the core's tests
//     (packages/core/test/directives/adversarial-inputs.ts) and the frontmatter scanner over the
//     20 KB YAML ones: the slowest input per scanner, best of 3 runs each. Target: under 200 ms (a
//     quadratic step on 100 KB costs seconds).
// (b) The placeholder provider making a 1536x1024 PNG: median of 7 after one to warm sharp up.
//     Target: well under 100 ms.
import { fileURLToPath } from 'node:url'
import { createPlaceholderProvider, parseDirective } from '@flux-images/core'

const { scanCode, scanFrontmatter, scanHtml, scanMarkdown, scanSource } = await import(
  new URL('directives/index.js', import.meta.resolve('@flux-images/core')).href
)

import { formatRange, summarize } from './lib/stats.mjs'

const SCAN_TARGET_MS = 200
const PLACEHOLDER_TARGET_MS = 100

const SCANNERS = [
  ['scanMarkdown', (t) => scanMarkdown(t, 'a.md')],
  ['scanMarkdown (MDX)', (t) => scanMarkdown(t, 'a.mdx')],
  ['scanHtml', (t) => scanHtml(t, 'a.html')],
  ['scanCode', (t) => scanCode(t, 'a.ts')],
  ['scanSource (astro)', (t) => scanSource('a.astro', t)],
  ['scanSource (svelte)', (t) => scanSource('a.svelte', t)],
  ['parseDirective', (t) => parseDirective(`flux:${t}`)],
]

/** The tests' inputs (TypeScript), compiled by Vite. */
async function loadInputs() {
  const { runnerImport } = await import('vite')
  const entry = fileURLToPath(
    new URL('../packages/core/test/directives/adversarial-inputs.ts', import.meta.url),
  )
  return (await runnerImport(entry, { configFile: false, logLevel: 'silent' })).module
}

/** Milliseconds of the best of `runs` calls. */
function best(work, runs = 3) {
  let least = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    work()
    least = Math.min(least, performance.now() - start)
  }
  return least
}

/** Runs section 6; resolves to its markdown and figures. */
export async function scanners({ log = () => {} } = {}) {
  const { INPUTS, YAML_INPUTS } = await loadInputs()
  const rows = []
  const all = [
    ...SCANNERS.map(([name, scan]) => [name, scan, INPUTS, '100 KB']),
    ['scanFrontmatter', (t) => scanFrontmatter(`---\n${t}\n---\n`, 'a.md'), YAML_INPUTS, '20 KB'],
  ]
  for (const [name, scan, inputs, size] of all) {
    scan('warm up ![a](flux:b) '.repeat(100))
    let slowest = { label: '', ms: 0 }
    let total = 0
    for (const [label, text] of inputs) {
      const ms = best(() => scan(text))
      total += ms
      if (ms > slowest.ms) slowest = { label, ms }
    }
    log(`  ${name}: slowest ${slowest.label} ${slowest.ms.toFixed(1)} ms`)
    rows.push({ name, size, count: inputs.length, slowest, total })
  }

  const provider = createPlaceholderProvider()
  const request = {
    model: 'flux-1.1-pro',
    prompt: 'A neon-lit harbour at night',
    size: '1536x1024',
    quality: 'standard',
  }
  await provider.generate(request)
  const times = []
  for (let i = 0; i < 7; i++) {
    const start = performance.now()
    await provider.generate({ ...request, prompt: `${request.prompt} ${i}` })
    times.push(performance.now() - start)
  }
  const placeholder = summarize(times)
  log(`  placeholder 1536x1024: ${formatRange(placeholder, (v) => `${v.toFixed(1)} ms`)}`)

  const md = [
    `(a) Scanners over the tests' adversarial inputs, best of 3 runs per input; target: the slowest under ${SCAN_TARGET_MS} ms.`,
    '',
    '| scanner | inputs | slowest input | its time | all inputs |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.count} x ${r.size} | ${r.slowest.label} | ${r.slowest.ms.toFixed(1)} ms | ${r.total.toFixed(0)} ms |`,
    ),
    '',
    `(b) Placeholder provider, a 1536x1024 PNG, 7 runs: ${formatRange(placeholder, (v) => `${v.toFixed(1)} ms`)} (median (min..max)); target: under ${PLACEHOLDER_TARGET_MS} ms.`,
  ].join('\n')
  return { md, rows, placeholder }
}
