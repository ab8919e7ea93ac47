// A whole process that does what an adapter does before a build renders: scan the project,
// generate what is missing (bounded requests) and optimize every image into its variants as soon
// as it is in the cache (a separate sharp pool, overlapped with the requests still in flight).
//
//   node bench/lib/flux-run.mjs <root>       FLUX_API_KEY / FLUX_BASE_URL from the environment
//
// Prints one JSON line: the generate summary's counts, the optimizer's counters (decodes, encodes,
// peak originals held...), this process's own peak RSS (VmHWM) and its memory at the end. The project's
// flux.config.mjs, if any, supplies options (sizes, maxGenerations, image...).
import { ownPeakRssMB } from './measure.mjs'

const CORE_DIST = new URL('../../packages/core/dist/', import.meta.url)

const { createFlux } = await import(new URL('create-flux.js', CORE_DIST).href)
const { createCounters } = await import(new URL('optimize/index.js', CORE_DIST).href)
const { loadConfig } = await import(new URL('session/load-config.js', CORE_DIST).href)

const root = process.argv[2]
const silent = { info() {}, warn() {}, error: (m) => process.stderr.write(`${m}\n`) }
const counters = createCounters()
const flux = createFlux(
  { root, logger: silent, progress: 'off' },
  { env: process.env, fileConfig: (await loadConfig(root)).config, optimizeCounters: counters },
)
const summary = await flux.generate({ optimize: true })
await flux.close()
console.log(
  JSON.stringify({
    total: summary.total,
    generated: summary.generated,
    cached: summary.cached,
    failed: summary.failed.map((e) => e.toString()),
    decodes: counters.decodes,
    encodes: counters.encodes,
    peakHeld: counters.peakHeld,
    peakActive: counters.peakActive,
    ownPeakRssMB: ownPeakRssMB(),
    // At the end, after a full GC when exposed (--expose-gc): what stays allocated.
    ...endMemory(),
  }),
)
process.exitCode = summary.failed.length ? 1 : 0

function endMemory() {
  globalThis.gc?.()
  const m = process.memoryUsage()
  const mb = (b) => b / 2 ** 20
  return { endRssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external) }
}
