// A fleet of machines over one bucket, each a separate `flux-images generate` process with its own
// checkout and local cache: four started at once pay for each of 24 new images once and end with
// the same bytes; a holder killed (SIGKILL) mid-generation has its lease taken over after the
// stale time and its image is still paid once; on s3rver, which ignores conditional writes, a run
// says it may pay twice and completes.
import type { ChildProcess } from 'node:child_process'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createS3Client, resolveRemoteConfig } from '../packages/core/src/remote/index.js'
import { type CliRun, cliEnv, startCli } from './helpers/cli.js'
import {
  bucketKeys,
  bucketOriginals,
  copyProject,
  FLEET_IMAGES,
  generatedCount,
  localOriginals,
  occurrences,
  remoteCounts,
  remoteEnv,
  type ScannedImage,
  scanLocal,
} from './helpers/remote-project.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'
import { createS3Server, remoteOptionsFor, type S3Server } from './s3-server/index.js'
import { startS3rver } from './s3-server/s3rver.js'

const KEY = 'sk-flux-fleet-3c9e1a7b-DO-NOT-LEAK'

/** The fixture's 24 images (key, prompt), read once by a local scan of a pristine copy. */
let images: ScannedImage[]
const cleanups: Array<() => Promise<void>> = []
let children: ChildProcess[] = []

beforeAll(async () => {
  const pristine = await copyProject()
  images = await scanLocal(pristine.root)
  await pristine.cleanup()
  expect(images.map((i) => i.status)).toEqual(Array(FLEET_IMAGES).fill('missing'))
})

afterEach(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  children = []
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Started now, stopped (hanging requests included) after the test. */
async function gatewayFor(test: Parameters<typeof createMockGateway>[0] = {}): Promise<MockGateway> {
  const gateway = await createMockGateway({ apiKey: KEY, sizes: ['256x256'], ...test })
  cleanups.push(() => gateway.close())
  return gateway
}

async function s3Server(options: Parameters<typeof createS3Server>[0] = {}): Promise<S3Server> {
  const server = await createS3Server(options)
  cleanups.push(() => server.close())
  return server
}

async function machine(): Promise<string> {
  const project = await copyProject()
  cleanups.push(project.cleanup)
  return project.root
}

function generate(root: string, env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<CliRun> } {
  const run = startCli(['generate'], { cwd: root, env })
  children.push(run.child)
  return run
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 20))
}

/** Each of the fixture's prompts with the count given (the same for all unless `except` says). */
function eachPrompt(count: number, except: Record<string, number> = {}): Array<[string, number]> {
  return images.map((i) => [i.prompt, except[i.prompt] ?? count] as [string, number]).sort()
}
const sorted = (map: ReadonlyMap<string, number>) => [...map].sort()

describe('one build alone', () => {
  // A lease left behind holds every other machine up until it goes stale: with four builds that
  // is minutes of waiting. Alone, a build never waits, so one left behind shows as soon as it ends.
  it('deletes each lease as its image is written back: 24 created, 24 deleted, none left', async () => {
    const gateway = await gatewayFor()
    const server = await s3Server()
    const root = await machine()
    const env = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...remoteEnv(server) })
    const run = await generate(root, env).done
    expect(run.code, run.stderr).toBe(0)
    expect(gateway.generated).toBe(FLEET_IMAGES)
    const leases = server.log.filter((e) => e.key.startsWith('site/leases/') && !e.key.includes('probe-'))
    const created = leases.filter((e) => e.op === 'PUT' && e.ifNoneMatch === '*' && e.status === 200)
    const deleted = leases.filter((e) => e.op === 'DELETE' && e.status === 204)
    expect([created.length, deleted.length]).toEqual([FLEET_IMAGES, FLEET_IMAGES])
    expect(bucketKeys(server, 'leases')).toEqual([])
  })
})

describe('four builds at once, one bucket', () => {
  it('24 new images: 24 generations in all, each prompt once; four caches and the bucket end with the same verified bytes; no lease left', async () => {
    // Each generation takes a moment, so the four runs overlap and contend for the same keys.
    const gateway = await gatewayFor({ latencyMs: 300 })
    const server = await s3Server()
    const roots = await Promise.all([machine(), machine(), machine(), machine()])
    const env = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...remoteEnv(server) })

    const runs = await Promise.all(roots.map((root) => generate(root, env).done))

    for (const run of runs) expect(run.code, run.stderr).toBe(0)
    // They did race (a precondition of what follows): some lease creates lost to another build (412).
    const lost = server.log.filter(
      (e) =>
        e.op === 'PUT' && e.key.startsWith('site/leases/') && !e.key.includes('probe-') && e.status === 412,
    )
    expect(lost.length).toBeGreaterThan(0)
    // Paid once per image: the gateway's own count, by prompt.
    expect(gateway.requests).toBe(FLEET_IMAGES)
    expect(gateway.generated).toBe(FLEET_IMAGES)
    expect(sorted(gateway.requestsByPrompt)).toEqual(eachPrompt(1))
    // Each build generated (and uploaded) some keys and downloaded every other: 24 uploads, 3 x 24 downloads.
    const counts = runs.map((r) => ({ generated: generatedCount(r.stderr), ...remoteCounts(r.stderr) }))
    const total = (field: 'generated' | 'downloaded' | 'uploaded') =>
      counts.reduce((sum, c) => sum + c[field], 0)
    expect([total('generated'), total('uploaded'), total('downloaded')]).toEqual([
      FLEET_IMAGES,
      FLEET_IMAGES,
      3 * FLEET_IMAGES,
    ])
    for (const c of counts) expect(c.generated + c.downloaded).toBe(FLEET_IMAGES)
    // One probe of conditional writes per build (3 PUTs and a DELETE each), before its first lease.
    const probes = server.log.filter((e) => e.key.startsWith('site/leases/probe-'))
    expect(probes.filter((e) => e.op === 'PUT')).toHaveLength(4 * 3)
    expect(probes.filter((e) => e.op === 'DELETE')).toHaveLength(4)

    // Every machine ends with the same bytes for every key, and so does the bucket.
    const keys = images.map((i) => i.key)
    const bucket = bucketOriginals(server)
    expect([...bucket.keys()]).toEqual(keys)
    expect(bucketKeys(server, 'originals')).toHaveLength(2 * FLEET_IMAGES) // image + metadata each
    for (const root of roots) {
      const local = await localOriginals(root)
      expect([...local.keys()]).toEqual(keys)
      for (const key of keys) expect(local.get(key)?.equals(bucket.get(key) as Buffer), key).toBe(true)
    }
    expect(bucketKeys(server, 'leases')).toEqual([])
    for (const run of runs) expect(run.stderr + run.stdout).not.toContain(server.credentials.secretAccessKey)
  })
})

describe('a holder killed mid-generation', () => {
  it('SIGKILL while its request is in flight: the other build takes the lease over after the stale time, and the image is paid once', async () => {
    // The first request for one prompt never answers while the test runs: its build is killed
    // meanwhile, so that generation never completes (the gateway bills nothing for it).
    const slow = images[Math.floor(FLEET_IMAGES / 2)] as ScannedImage
    const gateway = await gatewayFor({
      fault: ({ body, promptCount }) =>
        body.prompt === slow.prompt && promptCount === 1 ? { delayMs: 600_000 } : undefined,
    })
    // When each request reached the bucket (by its number in the log), on this process's clock.
    const arrived = new Map<number, number>()
    const server = await s3Server({
      fault: ({ requestNumber }) => void arrived.set(requestNumber, Date.now()),
    })
    const staleMs = 3000
    const env = cliEnv({
      FLUX_API_KEY: KEY,
      FLUX_BASE_URL: gateway.url,
      ...remoteEnv(server),
      FLUX_REMOTE_LEASE_STALE_MS: String(staleMs),
    })
    const roots = await Promise.all([machine(), machine()])
    const runs = roots.map((root) => generate(root, env))

    // Everything else is done and written back, every other lease released; the slow prompt is
    // at the gateway, its lease held.
    const slowLease = `site/leases/${slow.key}`
    await until(
      () =>
        gateway.requestsByPrompt.get(slow.prompt) === 1 &&
        gateway.inFlight === 1 &&
        bucketOriginals(server).size === FLEET_IMAGES - 1 &&
        bucketKeys(server, 'leases').join() === slowLease,
    )
    const holder = JSON.parse(server.objects.get(slowLease)?.body.toString() ?? '{}').holder as string
    const victim = runs.findIndex((r) => holder.endsWith(` pid ${r.child.pid}`))
    expect(victim, `lease held by ${holder}`).toBeGreaterThanOrEqual(0)
    const killed = runs[victim] as (typeof runs)[number]
    const survivor = runs[1 - victim] as (typeof runs)[number]
    const survivorRoot = roots[1 - victim] as string
    killed.child.kill('SIGKILL')
    const killedAt = Date.now()
    expect((await killed.done).signal).toBe('SIGKILL')

    const run = await survivor.done
    expect(run.code, run.stderr).toBe(0)
    expect(occurrences(run.stderr, 'Took over the lease')).toBe(1)
    expect(run.stderr).toContain(
      `[flux] Took over the lease on ${slow.key} from ${JSON.stringify(holder)}, which stopped renewing it (a build that died): this build generates the image instead.`,
    )
    // Taken over with a conditional write (If-Match), no sooner than the stale time after the
    // holder's last write. A lower bound only (a slow machine makes it later, never sooner); as
    // waiters look at most every 5 s, a threshold set too low can pass unseen here: the lease
    // tests pin the threshold itself.
    const leaseWrites = server.log
      .map((e, i) => ({ ...e, at: arrived.get(i + 1) as number }))
      .filter((e) => e.op === 'PUT' && e.key === slowLease && e.status === 200)
    const lastByHolder = leaseWrites.filter((e) => e.at < killedAt).at(-1)
    const takeover = leaseWrites.find((e) => e.at > killedAt)
    expect(takeover?.ifMatch).toMatch(/^"[0-9a-f]{32}"$/)
    expect((takeover?.at ?? 0) - (lastByHolder?.at ?? Number.POSITIVE_INFINITY)).toBeGreaterThanOrEqual(
      staleMs,
    )
    // Paid once: the killed build's request never completed; the survivor's did. Every other
    // prompt was asked for once.
    expect(sorted(gateway.requestsByPrompt)).toEqual(eachPrompt(1, { [slow.prompt]: 2 }))
    expect(sorted(gateway.generatedByPrompt)).toEqual(eachPrompt(1))
    expect(gateway.generated).toBe(FLEET_IMAGES)

    // The survivor's cache and the bucket: the same 24 verified originals; no lease left.
    const keys = images.map((i) => i.key)
    const bucket = bucketOriginals(server)
    const local = await localOriginals(survivorRoot)
    expect([...bucket.keys()]).toEqual(keys)
    expect([...local.keys()]).toEqual(keys)
    for (const key of keys) expect(local.get(key)?.equals(bucket.get(key) as Buffer), key).toBe(true)
    expect(bucketKeys(server, 'leases')).toEqual([])
    expect(run.stderr + run.stdout).not.toContain(server.credentials.secretAccessKey)
  })
})

describe('on s3rver, which ignores conditional writes', () => {
  it('one run says once that it may pay twice, completes, and leaves only originals in the bucket', async () => {
    const gateway = await gatewayFor()
    const s3rver = await startS3rver()
    cleanups.push(() => s3rver.close())
    const root = await machine()
    const env = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...remoteEnv(s3rver) })

    const run = await generate(root, env).done

    expect(run.code, run.stderr).toBe(0)
    expect(occurrences(run.stderr, 'may pay twice')).toBe(1)
    expect(gateway.requests).toBe(FLEET_IMAGES)
    expect(generatedCount(run.stderr)).toBe(FLEET_IMAGES)
    expect([...(await localOriginals(root)).keys()]).toEqual(images.map((i) => i.key))
    // Written back all the same; no lease or probe object left behind.
    const config = resolveRemoteConfig(remoteOptionsFor(s3rver), {})
    if (!config) throw new Error('no remote configured')
    const client = createS3Client(config)
    cleanups.push(() => client.close())
    const listed: string[] = []
    for await (const object of client.list('')) listed.push(object.key)
    expect(listed.filter((k) => k.startsWith('originals/'))).toHaveLength(2 * FLEET_IMAGES)
    expect(listed.filter((k) => !k.startsWith('originals/'))).toEqual([])
  })
})
