// Section 11: the check of the build output (and of every `astro dev` page) for a `flux:` left where
// a URL goes (`findUnresolved`, packages/astro/src/unresolved-output.ts), over hostile pages of
// growing size, before and after it was made linear (issue 23).
//
//   pnpm build && node bench/output-check.mjs           after: 80 KB, 400 KB, 2 MB; before: while under 1 s, and the review's page at 400 KB
//   node bench/output-check.mjs --full                  before at 400 KB for every page too (several minutes)
//   pnpm bench output                                   the same through bench/run.mjs
//
// "Before" is the file as it was at BEFORE_COMMIT, read with git and compiled by Vite; "after" is the
// built package. Wall time in this process: best of 3 runs after; one run before (seconds to
// minutes each). The tests check what comes back from such pages; the speed is recorded here.
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BENCH_TMP } from './lib/projects.mjs'

/** The last commit with the quadratic check. */
const BEFORE_COMMIT = '0b985e2'
const SIZES = [80_000, 400_000, 2_000_000]

/** `unit` repeated to about `size` characters. */
const fill = (unit, size) => unit.repeat(Math.round(size / unit.length))

/** Hostile pages of about `size` characters, by the part of the check they load; and a real one. */
const PAGES = [
  ['srcset: "flux:a,a,a,…" (the review\'s)', (size) => `<img srcset="flux:${fill('a,', size)}">`],
  ['srcset: ", /a.jpg 1x,flux:b" repeated', (size) => `<img srcset="${fill(', /a.jpg 1x,flux:b', size)}">`],
  ['unclosed `<style>url(flux:x` repeated', (size) => `<p>flux:</p>${fill('<style>url(flux:x', size)}`],
  ['CSS: unclosed `url(flux:a ` repeated', (size) => `<style>${fill('url(flux:a ', size)}</style>`],
  ['XML: unclosed `<a ` repeated', (size) => `flux:${fill('<a ', size)}`, 'xml'],
  [
    'a real page: resolved `<picture>`s, 170 bytes each',
    (size) =>
      `<html><body>${fill('<picture><source type="image/avif" srcset="/_flux/a-1.avif 480w, /_flux/a-2.avif 960w"><img src="/_flux/a-1.jpg" alt="flux: a harbour" width="960" height="640"></picture>', size)}</body></html>`,
  ],
]

const kb = (n) => (n >= 1e6 ? `${Math.round(n / 1e5) / 10} MB` : `${Math.round(n / 1e3)} KB`)
const ms = (t) =>
  t === undefined ? 'not run' : t >= 1000 ? `${(t / 1000).toFixed(1)} s` : `${t.toFixed(1)} ms`

function time(work, runs) {
  let least = Number.POSITIVE_INFINITY
  let result
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    result = work()
    least = Math.min(least, performance.now() - start)
  }
  return { ms: least, found: result.length }
}

/** The check as it was at BEFORE_COMMIT. */
async function loadBefore() {
  const source = execFileSync('git', ['show', `${BEFORE_COMMIT}:packages/astro/src/unresolved-output.ts`], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
  })
  const dir = join(BENCH_TMP, 'output-check')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `unresolved-output-${BEFORE_COMMIT}.ts`)
  await writeFile(file, source.replace("from './read-output.js'", "from '@flux-images/astro'"))
  const { runnerImport } = await import('vite')
  return (await runnerImport(file, { configFile: false, logLevel: 'silent' })).module.findUnresolved
}

/** Runs section 11; resolves to its markdown and figures. */
export async function outputCheck({ full = false, log = () => {} } = {}) {
  const after = (await import(new URL('../packages/astro/dist/unresolved-output.js', import.meta.url).href))
    .findUnresolved
  const before = await loadBefore()
  const rows = []
  for (const [name, make, kind = 'html'] of PAGES) {
    // Both compiled before timing: a first call costs several times a warm one.
    for (const check of [after, before]) check(make(8_000), kind)
    const cells = []
    let previous = 0
    for (const size of SIZES) {
      const page = make(size)
      const now = time(() => after(page, kind), 3)
      // Before runs while it takes seconds, not minutes: at the first size, after one under 1 s, and
      // at 400 KB for the review's page (or every page, with --full).
      const runBefore =
        size === SIZES[0] || previous < 1000 || (size === SIZES[1] && (full || name.includes('review')))
      const then = runBefore ? time(() => before(page, kind), 1) : undefined
      previous = then?.ms ?? Number.POSITIVE_INFINITY
      if (then && then.found !== now.found)
        throw new Error(`${name}: before found ${then.found}, after ${now.found}`)
      log(`  ${name}, ${kb(page.length)}: before ${ms(then?.ms)}, after ${ms(now.ms)} (${now.found} found)`)
      cells.push(`${ms(then?.ms)} → ${ms(now.ms)}`)
    }
    rows.push(`| ${name} | ${cells.join(' | ')} |`)
  }
  const md = [
    `Before (${BEFORE_COMMIT}, one run) → after (best of 3), wall time in one process; each page holds the same finds before and after.`,
    '',
    `| page | ${SIZES.map(kb).join(' | ')} |`,
    `| --- | ${SIZES.map(() => '---:').join(' | ')} |`,
    ...rows,
  ].join('\n')
  return { md, rows }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { md } = await outputCheck({
    full: process.argv.includes('--full'),
    log: (l) => process.stderr.write(`${l}\n`),
  })
  console.log(md)
}
