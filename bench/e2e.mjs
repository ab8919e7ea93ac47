// Section 3: end to end, cold: prompts to optimized files in one process.
//
// The mock gateway (L = 400 ms) serves the 48 photo-like originals as the generated images; a
// whole process (bench/lib/flux-run.mjs: scan, generate with C = 4, optimize each image as soon
// as it is cached) runs on an empty cache. Paired with it, the same process on the same project
// with its originals cached (by the previous cold run) but its variants deleted: the optimization
// alone, same process start and scan. If
// optimization overlaps generation, the cold run costs max(generation limit, optimization) plus
// little: ratio = cold wall / max(ceil(N/C) x L, optimize-only wall), pair by pair.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertOk, measureProcess } from './lib/measure.mjs'
import { BENCH_KEY, benchEnv, loadMockGateway, servePhotos } from './lib/mock.mjs'
import { runPaired } from './lib/paired.mjs'
import { BENCH_TMP, benchPhotos, writeDirectiveProject } from './lib/projects.mjs'
import { formatMB, formatMs, formatRange, summarize } from './lib/stats.mjs'

const FLUX_RUN = fileURLToPath(new URL('lib/flux-run.mjs', import.meta.url))
const LATENCY_MS = 400
const C = 4

/** Runs section 3; resolves to its markdown and figures. */
export async function e2e({ full = false, log = () => {} } = {}) {
  const n = full ? 48 : 8
  const pairs = full ? 3 : 1
  const photos = await benchPhotos(48)
  // The quick run takes an even share of both sizes.
  const used = full ? photos : [...photos.slice(0, n / 2), ...photos.slice(24, 24 + n / 2)]
  const { createMockGateway } = await loadMockGateway()
  const gateway = await createMockGateway({
    apiKey: BENCH_KEY,
    latencyMs: LATENCY_MS,
    images: servePhotos(new Map(used.map((p) => [p.prompt, p]))),
  })
  const config = { concurrency: C, maxGenerations: 1000 }
  const root = join(BENCH_TMP, 'e2e')
  const project = await writeDirectiveProject(root, used, { config })
  const env = benchEnv(gateway)
  const run = async (dir, what) => {
    const m = assertOk(
      await measureProcess(process.execPath, ['--expose-gc', FLUX_RUN, dir], { cwd: dir, env }),
      what,
    )
    return { ...m, ...JSON.parse(m.stdout.trim().split('\n').pop()) }
  }
  const generationLimit = Math.ceil(n / C) * LATENCY_MS
  try {
    const result = await runPaired({
      pairs,
      contenders: {
        cold: async () => {
          gateway.reset()
          const m = await run(project, 'cold end to end')
          return { ...m, requests: gateway.requests }
        },
        'optimize only': async () => {
          gateway.reset()
          const m = await run(project, 'optimize only')
          return { ...m, requests: gateway.requests }
        },
      },
      // The first round runs cold first, so the optimize-only runs always find the originals.
      before: (name) =>
        rm(join(project, '.flux-cache', ...(name === 'cold' ? [] : ['variants'])), {
          recursive: true,
          force: true,
        }),
      log,
    })
    const runs = result.runs
    const ratio = summarize(
      runs.cold.map((m, i) => m.wallMs / Math.max(generationLimit, runs['optimize only'][i].wallMs)),
    )
    const row = (name) => {
      const s = (field) => result.summary(name, field)
      const r = runs[name]
      return `| ${name} | ${formatRange(s('wallMs'), formatMs)} | ${formatRange(s('cpuMs'), formatMs)} | ${formatRange(s('peakRssMB'), formatMB)} | ${[...new Set(r.map((m) => m.requests))].join(', ')} | ${[...new Set(r.map((m) => m.decodes))].join(', ')} | ${[...new Set(r.map((m) => m.encodes))].join(', ')} |`
    }
    const md = [
      `${n} photo-like originals (${n / 2} at 1024x1024, ${n / 2} at 1536x1024), mock L = ${LATENCY_MS} ms, C = ${C}, default image options (widths 480/960/1440 + original, AVIF + WebP + JPEG); ${pairs} pair(s), alternating. Generation limit ceil(${n}/${C}) x ${LATENCY_MS} ms = ${formatMs(generationLimit)}.`,
      '',
      '| run | wall | CPU (user+sys) | peak RSS | requests | decodes | encodes |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      row('cold'),
      row('optimize only'),
      '',
      `**Cold / max(generation limit, optimize only) = ${formatRange(ratio)}** (paired); cold minus optimize-only: ${formatRange(summarize(runs.cold.map((m, i) => m.wallMs - runs['optimize only'][i].wallMs)), formatMs)}.`,
    ].join('\n')
    return { md, ratio, n }
  } finally {
    await gateway.close()
  }
}
