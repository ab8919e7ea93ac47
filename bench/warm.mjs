// Section 4: warm builds. The example blog (examples/astro-blog) scaled to 40 flux images, fully
// cached, against the same blog with every directive (and the integration) removed: whole
// `astro build` processes, alternating, ratio pair by pair. Each warm build must make zero
// requests (the mock counts them) and zero encodes (no file of the cache directory is added,
// removed or rewritten: inode, mtime and size unchanged). The Vite example is checked the same
// way. The copies live in <os temp>/flux-bench-warm and keep their .flux-cache between benchmark
// runs, so only the first run pays the cold build that fills it.
//
//   pnpm bench warm [--full]
//   BENCH_WARM_DIR=bench/.tmp/warm pnpm bench warm --full   the copies somewhere else
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assertOk, measureProcess } from './lib/measure.mjs'
import { BENCH_KEY, benchEnv, loadMockGateway } from './lib/mock.mjs'
import { runPaired } from './lib/paired.mjs'
import { benchPhotos, CLI_BIN } from './lib/projects.mjs'
import { cacheSnapshot, copySite, EXAMPLES, photoSource, snapshotChanges } from './lib/sites.mjs'
import { formatMB, formatMs, formatRange } from './lib/stats.mjs'

const IMAGES = 40

/** Runs section 4; resolves to its markdown and figures. */
export async function warm({ full = false, log = () => {} } = {}) {
  const pairs = full ? 5 : 3
  const photos = await benchPhotos(48)
  const { createMockGateway } = await loadMockGateway()
  const gateway = await createMockGateway({ apiKey: BENCH_KEY, images: photoSource(photos) })
  const env = benchEnv(gateway)
  // In the OS temp folder: on the machine of BENCHMARKS.md, files written under the repository
  // cost ~10x the kernel time of the same files elsewhere on the same disk, and the flux build
  // writes 23 MB more than the plain one. BENCH_WARM_DIR puts the copies somewhere else.
  const root = process.env.BENCH_WARM_DIR ?? join(tmpdir(), 'flux-bench-warm')
  try {
    const fluxBlog = await copySite(EXAMPLES.astroBlog, join(root, 'blog-flux'))
    const added = await scaleBlog(fluxBlog, env)
    const plainBlog = await copySite(EXAMPLES.astroBlog, join(root, 'blog-plain'))
    await scaleBlog(plainBlog, env, added)
    await stripFlux(plainBlog)
    const astro = (dir) =>
      measureProcess(process.execPath, [join(dir, 'node_modules/astro/bin/astro.mjs'), 'build'], {
        cwd: dir,
        env,
        stdout: 'ignore',
      })
    const checkedBuild = (dir, build, what) => async () => {
      await rm(join(dir, 'dist'), { recursive: true, force: true })
      const before = await cacheSnapshot(join(dir, '.flux-cache'))
      gateway.reset()
      const m = assertOk(await build(dir), what)
      const changes = snapshotChanges(before, await cacheSnapshot(join(dir, '.flux-cache')))
      return { ...m, requests: gateway.requests, cacheChanges: changes.length, changed: changes.slice(0, 5) }
    }

    log('  priming the blog (a cold build only the first time)')
    gateway.reset()
    const primed = assertOk(await astro(fluxBlog), 'priming astro build')
    log(`  primed in ${formatMs(primed.wallMs)}, ${gateway.requests} requests`)
    assertOk(await astro(plainBlog), 'first plain astro build')
    const cache = await cacheSnapshot(join(fluxBlog, '.flux-cache'))
    const originals = Object.keys(cache).filter((f) => /^originals\/.*\.png$/.test(f)).length
    const variantFiles = Object.keys(cache).filter((f) => f.startsWith('variants/files/')).length

    const result = await runPaired({
      pairs,
      contenders: {
        flux: checkedBuild(fluxBlog, astro, 'warm astro build'),
        plain: checkedBuild(plainBlog, astro, 'plain astro build'),
      },
      log,
    })
    const fluxRuns = result.runs.flux
    const ratio = result.ratio('flux', 'plain')
    const emitted = (await readdir(join(fluxBlog, 'dist', '_flux'))).length

    // The Vite example: warm builds after one priming build.
    const vite = await copySite(EXAMPLES.viteApp, join(root, 'vite-app'))
    const viteBuild = (dir) =>
      measureProcess(
        process.execPath,
        [join(dir, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'],
        {
          cwd: dir,
          env,
          stdout: 'ignore',
        },
      )
    assertOk(await viteBuild(vite), 'priming vite build')
    const viteRuns = []
    for (let i = 0; i < (full ? 5 : 3); i++) {
      const m = await checkedBuild(vite, viteBuild, 'warm vite build')()
      viteRuns.push(m)
      log(`  vite warm #${i + 1}: ${formatMs(m.wallMs)}`)
    }
    const viteImages = Object.keys(await cacheSnapshot(join(vite, '.flux-cache'))).filter((f) =>
      /^originals\/.*\.png$/.test(f),
    ).length

    const zero = (runs, field) => runs.every((m) => m[field] === 0)
    const row = (label, name) =>
      `| ${label} | ${formatRange(result.summary(name), formatMs)} | ${formatRange(result.summary(name, 'cpuMs'), formatMs)} | ${formatRange(result.summary(name, 'peakRssMB'), formatMB)} | ${result.runs[name].map((m) => m.requests).join(', ')} | ${result.runs[name].map((m) => m.cacheChanges).join(', ')} |`
    const sum = (field) => ({
      median: viteRuns.map((m) => m[field]).sort((a, b) => a - b)[viteRuns.length >> 1],
      min: Math.min(...viteRuns.map((m) => m[field])),
      max: Math.max(...viteRuns.map((m) => m[field])),
      n: viteRuns.length,
    })
    const md = [
      `The example blog copied to ${root} and scaled from ${IMAGES - added.images} to ${IMAGES} distinct flux images (${added.posts} more posts, each a frontmatter hero and body images), ${originals} originals and ${variantFiles} variant files in its cache, ${emitted} files emitted under dist/_flux. The plain copy has the same pages and text with every directive, \`<FluxImage>\`, the \`fluxImage()\` schema field and the \`flux()\` integration removed. ${pairs} pairs of whole \`astro build\` processes, alternating; dist/ removed before each (untimed).`,
      '',
      '| build | wall | CPU (user+sys) | peak RSS | requests (per build) | cache files changed (per build) |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      row(`warm, ${IMAGES} flux images`, 'flux'),
      row('plain, no directives', 'plain'),
      '',
      `**Warm / plain = ${formatRange(ratio)}** (paired). Zero requests in every warm build: ${zero(fluxRuns, 'requests') ? 'yes' : 'NO'}; zero encodes (no cache file added, removed or rewritten): ${zero(fluxRuns, 'cacheChanges') ? 'yes' : `NO (${fluxRuns.flatMap((m) => m.changed).join(', ')})`}.`,
      '',
      `Vite example (examples/vite-app, ${viteImages} images), ${viteRuns.length} warm \`vite build\` processes after one priming build: ${formatRange(sum('wallMs'), formatMs)} wall, ${formatRange(sum('peakRssMB'), formatMB)} peak RSS; requests per build ${viteRuns.map((m) => m.requests).join(', ')}; cache files changed per build ${viteRuns.map((m) => m.cacheChanges).join(', ')}.`,
    ].join('\n')
    return { md, ratio }
  } finally {
    await gateway.close()
  }
}

/**
 * Adds posts to the blog until it asks for IMAGES distinct images (counted by `flux-images scan`),
 * or the posts of an earlier call (`added`), so the plain copy has the same pages.
 */
export async function scaleBlog(dir, env, added) {
  const scan = assertOk(
    await measureProcess(process.execPath, [CLI_BIN, 'scan', '--json', '--root', dir], { cwd: dir, env }),
    'scan of the blog',
  )
  const images = added?.images ?? IMAGES - new Set(JSON.parse(scan.stdout).directives.map((d) => d.key)).size
  const posts = Math.ceil(images / 3)
  for (let p = 0, left = images; p < posts; p++) {
    const n = String(p + 1).padStart(2, '0')
    const body = ['Body text about the walk, a few sentences long, as in the other posts.', '']
    for (let b = 0; b < Math.min(2, left - 1); b++) {
      body.push(
        `![Detail ${b + 1} of walk ${n}](flux:Detail ${b + 1} seen on coastal walk ${n}, photograph)`,
        '',
      )
    }
    left -= 1 + Math.min(2, left - 1)
    const text = [
      '---',
      `title: Coastal walk ${n}`,
      `date: 2026-08-${n}`,
      `description: Walk ${n} along the coast.`,
      `hero: "flux: A coastal path on walk ${n}, wide landscape photograph?size=1536x1024&alt=Walk ${n}"`,
      '---',
      '',
      ...body,
    ].join('\n')
    await writeFile(join(dir, 'src/content/posts', `walk-${n}.md`), text)
  }
  return { images, posts }
}

/** Removes every directive, `<FluxImage>`, the schema field and the integration; throws if any `flux` is left. */
async function stripFlux(dir) {
  const files = (await readdir(join(dir, 'src'), { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
  for (const file of [...files, join(dir, 'astro.config.mjs')]) {
    let text = await readFile(file, 'utf8')
    text = text
      // `{cond && <FluxImage ... />}` goes whole, then any other `<FluxImage ... />`.
      .replace(/\{[^{}]*<FluxImage[^>]*\/>\s*\}\s*/g, '')
      .replace(/<FluxImage[\s\S]*?\/>\s*/g, '')
      // Frontmatter heroes: `hero: "flux: ..."` or `hero:` followed by an indented object.
      .replace(/^hero:.*\n(?: {2}.*\n)*/m, '')
      .replace(/,\s*flux\(\)/g, '')
      .split('\n')
      .filter((line) => !/flux/i.test(line))
      .join('\n')
    await writeFile(file, text)
  }
  for (const file of [...files, join(dir, 'astro.config.mjs')]) {
    if (/flux/i.test(await readFile(file, 'utf8'))) throw new Error(`bench: ${file} still mentions flux`)
  }
}
