// A remote that is down during a real run (`flux-images generate`, a separate process): refusing
// connections, answering 503 to everything, or hanging. With a warm local cache the run completes
// without the gateway and without asking the remote at all (so no warning); with a cold one it
// generates as local mode would, after one warning. Either way exit code 0, and a local cache that
// `flux-images scan` finds whole. The delay each outage adds
// over a run with no remote is measured and printed, not asserted (a busy machine is no failure).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type CliRun, cliEnv, runCli } from './helpers/cli.js'
import {
  copyProject,
  FLEET_IMAGES,
  generatedCount,
  localOriginals,
  occurrences,
  remoteCounts,
  remoteEnv,
  scanLocal,
} from './helpers/remote-project.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'
import { createS3Server, type S3Fault, type S3Server } from './s3-server/index.js'

const KEY = 'sk-flux-outage-5d2b8e4f-DO-NOT-LEAK'
const WARNING = 'FLUX_REMOTE_UNAVAILABLE'

let gateway: MockGateway
/** A checkout whose local cache holds all 24 originals (generated with no remote). */
let warm: { root: string; cleanup: () => Promise<void> }
let warmBytes: Map<string, Buffer>
const cleanups: Array<() => Promise<void>> = []
/** Wall time of each run, by case, for the delay table printed at the end. */
const timings = new Map<string, number>()
/** Requests the remote received (answered or not) before the run went local, by case. */
const remoteRequests = new Map<string, number>()

const localEnv = () => cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url })

async function checkout(cache: 'warm' | 'cold'): Promise<string> {
  const project = await copyProject(cache === 'warm' ? warm.root : undefined)
  cleanups.push(project.cleanup)
  return project.root
}

async function generate(root: string, env: NodeJS.ProcessEnv, label: string): Promise<CliRun> {
  const run = await runCli(['generate'], { cwd: root, env })
  timings.set(label, run.ms)
  return run
}

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY, sizes: ['256x256'] })
  warm = await copyProject()
  const seeded = await runCli(['generate'], { cwd: warm.root, env: localEnv() })
  if (seeded.code !== 0) throw new Error(`seeding the warm cache failed: ${seeded.stderr}`)
  warmBytes = await localOriginals(warm.root)
  expect(warmBytes.size).toBe(FLEET_IMAGES)
  gateway.reset()
})

afterEach(async () => {
  gateway.reset()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  await warm?.cleanup()
  await gateway?.close()
  // Measured, not asserted: what each outage adds to a run with no remote configured.
  const rows = [...timings].map(([label, ms]) => {
    const base = timings.get(label.endsWith('warm') ? 'no remote, warm' : 'no remote, cold') ?? Number.NaN
    const asked = remoteRequests.has(label) ? `, ${remoteRequests.get(label)} remote request(s)` : ''
    return `  ${label.padEnd(24)} ${(ms / 1000).toFixed(2)} s  (${ms >= base ? '+' : ''}${((ms - base) / 1000).toFixed(2)} s${asked})`
  })
  console.info(`[outage timings] generate of ${FLEET_IMAGES} images\n${rows.join('\n')}`)
})

describe('no remote (the baseline the delays are measured against)', () => {
  it('warm: 0 requests; cold: 24 generations', async () => {
    const warmRun = await generate(await checkout('warm'), localEnv(), 'no remote, warm')
    expect(warmRun.code, warmRun.stderr).toBe(0)
    expect(gateway.requests).toBe(0)
    gateway.reset()
    const coldRun = await generate(await checkout('cold'), localEnv(), 'no remote, cold')
    expect(coldRun.code, coldRun.stderr).toBe(0)
    expect(gateway.requests).toBe(FLEET_IMAGES)
  })
})

/** Refused: a closed port (the server stops listening). Otherwise every request meets `fault`. */
type Outage = { name: string; fault?: S3Fault }

const OUTAGES: Outage[] = [
  { name: 'refused' },
  { name: '503', fault: { type: 'status', status: 503, code: 'SlowDown' } },
  { name: 'hang', fault: { type: 'hang' } },
]

describe.each(OUTAGES)('a remote that is down ($name)', (outage) => {
  let server: S3Server
  beforeAll(async () => {
    server = await createS3Server({ fault: outage.fault && (() => outage.fault) })
    if (!outage.fault) await server.refuse()
  })
  beforeEach(() => {
    server.reset()
  })
  afterAll(async () => {
    await server.close()
  })
  const env = () => cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...remoteEnv(server) })

  // A build whose local cache holds every image never asks the remote: it has nothing to warn about.
  it('warm local cache: completes without asking the remote (no request, no warning), 0 gateway requests, exit 0, the cache untouched', async () => {
    const root = await checkout('warm')
    const run = await generate(root, env(), `${outage.name}, warm`)

    expect(run.code, run.stderr).toBe(0)
    expect(occurrences(run.stderr, WARNING), run.stderr).toBe(0)
    expect(server.log).toEqual([])
    expect(gateway.requests).toBe(0)
    expect(generatedCount(run.stderr)).toBe(0)
    expect(remoteCounts(run.stderr)).toEqual({ downloaded: 0, uploaded: 0 })
    expect((await scanLocal(root)).map((i) => i.status)).toEqual(Array(FLEET_IMAGES).fill('cached'))
    expect(await localOriginals(root)).toEqual(warmBytes)
    expect(run.stderr).not.toContain(server.credentials.secretAccessKey)
  })

  it('cold local cache: generates all 24 as local mode would, one warning, exit 0, all cached', async () => {
    const root = await checkout('cold')
    const run = await generate(root, env(), `${outage.name}, cold`)

    expect(run.code, run.stderr).toBe(0)
    expect(occurrences(run.stderr, WARNING), run.stderr).toBe(1)
    expect(gateway.requests).toBe(FLEET_IMAGES)
    expect(gateway.generated).toBe(FLEET_IMAGES)
    expect(generatedCount(run.stderr)).toBe(FLEET_IMAGES)
    // Nothing written to a remote that is down, and nothing read from it.
    expect(remoteCounts(run.stderr)).toEqual({ downloaded: 0, uploaded: 0 })
    remoteRequests.set(`${outage.name}, cold`, server.log.length)
    expect((await scanLocal(root)).map((i) => i.status)).toEqual(Array(FLEET_IMAGES).fill('cached'))
    expect(await localOriginals(root)).toEqual(warmBytes)
    expect(run.stderr).not.toContain(server.credentials.secretAccessKey)
  })
})
