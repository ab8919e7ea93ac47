// Section 1: cold `flux-images generate` against the physical limit.
//
// The mock gateway answers every request after L = 400 ms; with C requests in flight, N distinct
// images cannot take less than ceil(N / C) x L. Each run is a whole `flux-images generate` process
// (node start, config, scan, requests, decode checks, cache writes, exit) on an empty cache, and
// the mock records how many requests it held at once, which must equal C.
//
// Two image sources, both made before any run (the mock renders nothing while a run is timed):
// - photos: 48 photo-like PNGs of 1.8-3.0 MB, what a generator returns; each answer is ~4 MB of
//   base64 JSON to serialize (in this process: the mock's cost), send, parse and decode;
// - grids: the mock's own small PNGs (2x2 colour grids stretched to size), pre-rendered: the same
//   protocol with little to carry, i.e. how close the engine itself gets to the limit.
//
// A warm `generate` of the same project (everything cached, no request) runs in the same rounds:
// it is the fixed cost (process start, scan, cache checks) inside every cold figure.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { assertOk, measureProcess } from './lib/measure.mjs'
import { BENCH_KEY, benchEnv, loadMockGateway, servePhotos } from './lib/mock.mjs'
import { runPaired } from './lib/paired.mjs'
import { BENCH_TMP, benchPhotos, CLI_BIN, writeDirectiveProject } from './lib/projects.mjs'
import { formatMB, formatMs, formatRange, summarize } from './lib/stats.mjs'

const LATENCY_MS = 400
const N = 48

/** Runs section 1; resolves to its markdown and figures. */
export async function generation({ full = false, log = () => {} } = {}) {
  const concurrencies = [4, 8, 16]
  const gridConcurrencies = full ? concurrencies : [4]
  const rounds = full ? 5 : 3
  const photos = await benchPhotos(N)
  const { createMockGateway, createImageMaker } = await loadMockGateway()
  const grids = createImageMaker()
  await Promise.all(photos.map((p) => grids.make({ prompt: p.prompt, size: p.size })))
  const gateways = {
    photos: await createMockGateway({
      apiKey: BENCH_KEY,
      latencyMs: LATENCY_MS,
      images: servePhotos(new Map(photos.map((p) => [p.prompt, p]))),
    }),
    grids: await createMockGateway({ apiKey: BENCH_KEY, latencyMs: LATENCY_MS, images: grids }),
  }
  const root = join(BENCH_TMP, 'generation')
  const cold = await writeDirectiveProject(join(root, 'cold'), photos)
  const warm = await writeDirectiveProject(join(root, 'warm'), photos)
  const cli = (gateway, dir, c) =>
    measureProcess(process.execPath, [CLI_BIN, 'generate', '--root', dir, '--concurrency', String(c)], {
      cwd: dir,
      env: benchEnv(gateway),
    })
  try {
    assertOk(await cli(gateways.photos, warm, 16), 'priming the warm project')
    const contenders = {}
    const coldRun = (kind, c) => async () => {
      const gateway = gateways[kind]
      gateway.reset()
      const m = assertOk(await cli(gateway, cold, c), `generate ${kind} C=${c}`)
      if (gateway.requests !== N) throw new Error(`${kind} C=${c}: ${gateway.requests} requests, not ${N}`)
      return { ...m, maxInFlight: gateway.maxInFlight, requests: gateway.requests, ideal: idealMs(c) }
    }
    for (const c of concurrencies) contenders[`photos C=${c}`] = coldRun('photos', c)
    for (const c of gridConcurrencies) contenders[`grids C=${c}`] = coldRun('grids', c)
    contenders.warm = async () => {
      gateways.photos.reset()
      const m = assertOk(await cli(gateways.photos, warm, 4), 'warm generate')
      return { ...m, requests: gateways.photos.requests }
    }
    const result = await runPaired({
      pairs: rounds,
      contenders,
      before: (name) =>
        name === 'warm' ? undefined : rm(join(cold, '.flux-cache'), { recursive: true, force: true }),
      log,
    })

    const rows = Object.keys(contenders)
      .filter((name) => name !== 'warm')
      .map((name) => {
        const runs = result.runs[name]
        const [kind, c] = [name.split(' ')[0], Number(name.split('=')[1])]
        const ratio = summarize(runs.map((m) => m.wallMs / m.ideal))
        const inFlight = [...new Set(runs.map((m) => m.maxInFlight))].join(', ')
        const s = (field) => result.summary(name, field)
        return {
          kind,
          c,
          ratio,
          maxInFlight: runs.map((m) => m.maxInFlight),
          line: `| ${kind} | ${c} | ${formatMs(idealMs(c))} | ${formatRange(s('wallMs'), formatMs)} | **${formatRange(ratio)}** | ${formatRange(s('cpuMs'), formatMs)} | ${formatRange(s('peakRssMB'), formatMB)} | ${inFlight} |`,
        }
      })
    const sizes = photos.map((p) => p.bytes.length / 2 ** 20)
    const gridSizes = await Promise.all(photos.map(async (p) => (await grids.make(p)).bytes.length / 1024))
    const md = [
      `N = ${N} distinct directives (${N / 2} at 1024x1024, ${N / 2} at 1536x1024), L = ${LATENCY_MS} ms, answers as \`b64_json\`; ${rounds} rounds, the contenders alternating (order reversed every other round); the cache emptied before every cold run. Images: **photos** = photo-like PNGs of ${Math.min(...sizes).toFixed(1)}-${Math.max(...sizes).toFixed(1)} MiB; **grids** = the mock's own PNGs (${Math.round(Math.min(...gridSizes))}-${Math.round(Math.max(...gridSizes))} KiB), pre-rendered.`,
      '',
      '| images | C | ideal ceil(N/C) x L | wall | wall / ideal | CPU (user+sys) | peak RSS | mock max in flight |',
      '| --- | -: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => r.line),
      '',
      ...rows
        .filter((r) => r.maxInFlight.some((m) => m !== r.c))
        .map(
          (r) =>
            `**Bound broken**: ${r.kind} C = ${r.c} had ${r.maxInFlight.join(', ')} requests in flight at once.\n`,
        ),
      `Warm \`generate\` of the same project (process start, config, scan of 12 files, 48 cache checks, no request): ${formatRange(result.summary('warm'), formatMs)} wall, ${formatRange(result.summary('warm', 'cpuMs'), formatMs)} CPU, ${[...new Set(result.runs.warm.map((m) => m.requests))].join(', ')} requests.`,
    ].join('\n')
    return { md, rows, warm: result.summary('warm') }
  } finally {
    await Promise.all(Object.values(gateways).map((g) => g.close()))
  }
}

function idealMs(c) {
  return Math.ceil(N / c) * LATENCY_MS
}
