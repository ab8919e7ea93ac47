// Leases in a bucket over real HTTP: builds racing for one key (one wins, counted on the server),
// a stale lease taken over by exactly one of several, a holder killed with SIGKILL and taken
// over after the stale time, renewal and loss, and s3rver, where conditional writes are ignored
// and every racer "wins" (why the probe exists).
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FluxError } from '../packages/core/src/errors.js'
import {
  createLeases,
  createS3Client,
  type LeaseOptions,
  type LeaseOutcome,
  resolveRemoteConfig,
  type S3Client,
} from '../packages/core/src/remote/index.js'
import type { Logger } from '../packages/core/src/types.js'
import { createS3Server, remoteOptionsFor, type S3Server } from './s3-server/index.js'
import { type RunningS3rver, startS3rver } from './s3-server/s3rver.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const LEASE = (key: string) => `site/leases/${key}`
// Short waits between looks, so the tests run quickly; correctness never depends on them.
const FAST_POLL = { pollMs: 10, pollMaxMs: 50 }

let server: S3Server
const clients: S3Client[] = []
// Each test's own: emptied after every test.
const warnings: string[] = []
const logger: Logger = { info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) }

type Target = Pick<S3Server, 'url' | 'bucket' | 'region' | 'credentials'>

function clientFor(target: Target): S3Client {
  const config = resolveRemoteConfig(remoteOptionsFor(target), {})
  if (!config) throw new Error('no remote configured')
  const client = createS3Client(config)
  clients.push(client)
  return client
}

/** One build: its own client (its own connections) and its own holder name. */
function build(name: string, options: Partial<LeaseOptions> = {}, target: Target = server) {
  return createLeases({ client: clientFor(target), holder: name, logger, ...FAST_POLL, ...options })
}

/** `count` builds (`build 0`, `build 1`...) asking for the lease on `key` at once; `settled` fills in as they return. */
function race(count: number, key: string, options: Partial<LeaseOptions> = {}) {
  const settled: Array<LeaseOutcome | undefined> = Array(count).fill(undefined)
  const outcomes = Array.from({ length: count }, (_, i) =>
    build(`build ${i}`, options)
      .acquire(key)
      .then((o) => {
        settled[i] = o
        return o
      }),
  )
  return { settled, outcomes }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10))
}

beforeAll(async () => {
  server = await createS3Server()
})
afterEach(() => {
  server.reset()
  server.objects.clear()
  warnings.length = 0
})
afterAll(async () => {
  for (const client of clients) await client.close()
  await server?.close()
})

describe('builds racing for one lease', () => {
  it('of 8, exactly one acquires; the 7 others wait, then learn it was released', async () => {
    const { settled, outcomes } = race(8, 'k1')
    await until(() => settled.some((o) => o?.status === 'acquired'))
    const winner = settled.findIndex((o) => o?.status === 'acquired')
    // Every loser has read the lease (so knows its holder) before it is released.
    await until(() => server.count('GET', { key: LEASE('k1') }) === 7)
    expect(settled.filter((o) => o !== undefined)).toHaveLength(1)
    const won = settled[winner] as Extract<LeaseOutcome, { status: 'acquired' }>
    await won.lease.release()
    // Gone as release() returns: the 7 would otherwise wait for it to go stale.
    expect(server.objects.has(LEASE('k1'))).toBe(false)

    const all = await Promise.all(outcomes)
    expect(all.filter((o) => o.status === 'acquired')).toHaveLength(1)
    expect(all.filter((o) => o.status === 'released').map((o) => 'holder' in o && o.holder)).toEqual(
      Array(7).fill(`build ${winner}`),
    )
    const creates = server.log.filter((e) => e.op === 'PUT' && e.ifNoneMatch === '*')
    expect(creates.map((e) => e.status).sort()).toEqual([200, 412, 412, 412, 412, 412, 412, 412])
    expect(server.count('DELETE', { key: LEASE('k1'), status: 204 })).toBe(1)
    expect(server.objects.has(LEASE('k1'))).toBe(false)
  })

  it('a build that finds the lease free after a release takes it at once', async () => {
    const first = await build('first').acquire('k2')
    expect(first.status).toBe('acquired')
    if (first.status === 'acquired') await first.lease.release()
    expect(server.objects.has(LEASE('k2'))).toBe(false)
    const second = await build('second').acquire('k2')
    expect(second.status).toBe('acquired')
    expect(server.count('PUT', { key: LEASE('k2'), status: 200 })).toBe(2)
  })
})

describe('a write whose answer is lost', () => {
  it('a create that landed, its answer lost: the retry meets its own lease and acquires', async () => {
    server.fault = ({ requestNumber }) => (requestNumber === 1 ? { type: 'lost-answer' } : undefined)
    const outcome = await build('unlucky', { maxWaitMs: 5000 }).acquire('k9')
    expect(outcome.status).toBe('acquired')
    expect(server.log.map((e) => [e.op, e.status])).toEqual([
      ['PUT', 200],
      ['PUT', 412],
      ['GET', 200],
    ])
    if (outcome.status === 'acquired') await outcome.lease.release()
  })

  it('a renewal that landed, its answer lost: the lease is still held, on the new ETag', async () => {
    const outcome = await build('unlucky').acquire('k10')
    if (outcome.status !== 'acquired') throw new Error('not acquired')
    server.reset()
    server.fault = ({ requestNumber }) => (requestNumber === 1 ? { type: 'lost-answer' } : undefined)
    await outcome.lease.renew()
    expect(outcome.lease.signal.aborted).toBe(false)
    expect(outcome.lease.etag).toBe(server.objects.get(LEASE('k10'))?.etag)
    await outcome.lease.release()
    expect(server.objects.has(LEASE('k10'))).toBe(false)
  })
})

describe('a stale lease', () => {
  it('is taken over by exactly one of 6 builds; the others wait for that one', async () => {
    server.putObject(
      LEASE('k3'),
      JSON.stringify({ holder: 'a dead build', token: 'x' }),
      Date.now() - 120_000,
    )
    const { settled, outcomes } = race(6, 'k3', { staleMs: 5000 })
    await until(() => settled.some((o) => o?.status === 'acquired'))
    const winner = settled.find((o) => o?.status === 'acquired') as Extract<
      LeaseOutcome,
      { status: 'acquired' }
    >
    expect(winner.tookOverFrom).toBe('a dead build')
    // Each loser either lost the takeover race or found the winner's fresh lease: none took it.
    await until(() => server.log.filter((e) => e.op === 'PUT' && e.ifNoneMatch === '*').length === 6)
    expect(server.log.filter((e) => e.op === 'PUT' && e.ifMatch && e.status === 200)).toHaveLength(1)
    expect(settled.filter((o) => o !== undefined)).toHaveLength(1)
    await winner.lease.release()
    expect(server.objects.has(LEASE('k3'))).toBe(false)
    const all = await Promise.all(outcomes)
    expect(all.map((o) => o.status).sort()).toEqual(['acquired', ...Array(5).fill('released')])
    expect(warnings).toEqual([
      '[flux] Took over the lease on k3 from "a dead build", which stopped renewing it (a build that died): this build generates the image instead.',
    ])
  })

  // HTTP dates count whole seconds: a lease whose dates say 5 s old may be 4.001 s old. On a server
  // whose clock stands still, exactly at staleMs by its dates it is not stale; a second later it is.
  it('by its whole-second dates: at staleMs not yet, at staleMs + 1 s taken over', async () => {
    const modified = Math.floor(Date.now() / 1000) * 1000
    let clock = modified + 5000
    const clocked = await createS3Server({ now: () => clock })
    try {
      clocked.putObject(LEASE('k11'), JSON.stringify({ holder: 'a quiet build', token: 'z' }), modified)
      const early = await build('too early', { staleMs: 5000, maxWaitMs: 100 }, clocked)
        .acquire('k11')
        .catch((e: unknown) => e)
      expect(FluxError.is(early, 'FLUX_REMOTE_LEASE_WAIT')).toBe(true)
      expect(clocked.count('PUT', { status: 200 })).toBe(0)
      clock = modified + 6000
      const late = await build('on time', { staleMs: 5000, maxWaitMs: 100 }, clocked).acquire('k11')
      expect(late.status === 'acquired' && late.tookOverFrom).toBe('a quiet build')
      expect(clocked.count('PUT', { status: 200 })).toBe(1)
      if (late.status === 'acquired') await late.lease.release()
    } finally {
      await clocked.close()
    }
  })

  it('a lease still renewed is waited for; past maxWaitMs: FLUX_REMOTE_LEASE_WAIT naming its holder', async () => {
    const holder = await build('a slow build', { staleMs: 60_000 }).acquire('k4')
    expect(holder.status).toBe('acquired')
    const err = await build('a waiting build', { maxWaitMs: 200 })
      .acquire('k4')
      .catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_REMOTE_LEASE_WAIT')).toBe(true)
    expect((err as FluxError).message).toMatch(/^\[flux\] Waited \d+ s for "a slow build" to finish k4/)
    // It looked without writing: one create refused, then reads only.
    const waiterWrites = server.log.filter((e) => e.op === 'PUT' && e.ifNoneMatch === '*')
    expect(waiterWrites.map((e) => e.status)).toEqual([200, 412])
    expect(server.count('PUT', { key: LEASE('k4'), status: 200 })).toBe(1)
    if (holder.status === 'acquired') await holder.lease.release()
  })
})

describe('a holder that dies', () => {
  let child: ChildProcess | undefined
  afterEach(() => {
    child?.kill('SIGKILL')
  })

  it('killed with SIGKILL while holding a lease: taken over after the stale time by the waiting build', async () => {
    const script = `${repo}test/fixtures/lease-holder.mjs`
    if (!existsSync(`${repo}packages/core/dist/remote/index.js`)) throw new Error('run `pnpm build` first')
    const staleMs = 2000
    child = spawn(
      process.execPath,
      [
        script,
        JSON.stringify({ remote: remoteOptionsFor(server), key: 'k5', holder: 'the killed build', staleMs }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
    })
    await until(() => out === 'acquired\n')
    // The holder is alive: it renews (conditional writes on its own ETag).
    await until(() => server.log.filter((e) => e.op === 'PUT' && e.ifMatch && e.status === 200).length >= 1)

    let outcome: LeaseOutcome | undefined
    const waiting = build('the waiting build', { staleMs })
      .acquire('k5')
      .then((o) => {
        outcome = o
        return o
      })
    // The waiting build has looked twice and found the lease alive, renewed meanwhile.
    await until(() => server.count('HEAD', { key: LEASE('k5') }) >= 2)
    expect(outcome).toBeUndefined()
    child.kill('SIGKILL')
    await new Promise((resolve) => child?.once('exit', resolve))

    const taken = await waiting
    expect(taken.status).toBe('acquired')
    expect(taken.status === 'acquired' && taken.tookOverFrom).toBe('the killed build')
    expect(JSON.parse(server.objects.get(LEASE('k5'))?.body.toString() ?? '{}').holder).toBe(
      'the waiting build',
    )
    expect(warnings).toEqual([
      '[flux] Took over the lease on k5 from "the killed build", which stopped renewing it (a build that died): this build generates the image instead.',
    ])
    if (taken.status === 'acquired') await taken.lease.release()
  })
})

describe('a held lease', () => {
  it('is renewed by conditional writes on its own ETag, each a new version', async () => {
    const outcome = await build('renewer').acquire('k6')
    if (outcome.status !== 'acquired') throw new Error('not acquired')
    const { lease } = outcome
    const first = lease.etag
    await lease.renew()
    const second = lease.etag
    await lease.renew()
    expect(new Set([first, second, lease.etag]).size).toBe(3)
    expect(
      server.log
        .filter((e) => e.op === 'PUT' && e.key === LEASE('k6'))
        .map((e) => [e.ifNoneMatch ?? e.ifMatch, e.status]),
    ).toEqual([
      ['*', 200],
      [first, 200],
      [second, 200],
    ])
    await lease.release()
    expect(server.log.filter((e) => e.op === 'DELETE').map((e) => [e.ifMatch, e.status])).toEqual([
      [lease.etag, 204],
    ])
  })

  it('renewals failing through an outage are warned about once per lease, not at every interval', async () => {
    const outcome = await build('renewer in an outage', { renewMs: 20 }).acquire('k9')
    if (outcome.status !== 'acquired') throw new Error('not acquired')
    server.fault = () => ({ type: 'status', status: 503, code: 'SlowDown' })
    await until(() => server.count('PUT', { status: 503 }) >= 8)
    server.fault = undefined
    await outcome.lease.release()
    expect(warnings).toEqual([expect.stringMatching(/^\[flux\] could not renew the lease on k9: .*503/)])
  })

  it('taken over by another build is lost: its signal aborts, and its release leaves the new lease alone', async () => {
    const outcome = await build('overtaken').acquire('k7')
    if (outcome.status !== 'acquired') throw new Error('not acquired')
    server.putObject(LEASE('k7'), JSON.stringify({ holder: 'an impatient build', token: 'y' }))
    await outcome.lease.renew()
    expect(outcome.lease.signal.aborted).toBe(true)
    const reason = outcome.lease.signal.reason as FluxError
    expect(reason.code).toBe('FLUX_REMOTE_LEASE_LOST')
    expect(reason.message).toBe('[flux] The lease on k7 was lost: "an impatient build" took it over')
    await outcome.lease.release()
    expect(server.count('DELETE')).toBe(0)
    expect(JSON.parse(server.objects.get(LEASE('k7'))?.body.toString() ?? '{}').holder).toBe(
      'an impatient build',
    )
    expect(warnings).toEqual(['[flux] the lease on k7 was lost: "an impatient build" took it over'])
  })
})

describe('on s3rver, which ignores conditional writes', () => {
  let s3rver: RunningS3rver
  beforeAll(async () => {
    s3rver = await startS3rver()
  })
  afterAll(async () => {
    await s3rver?.close()
  })

  it('4 racing builds all "acquire" the same lease: leases cannot be trusted there', async () => {
    const builds = Array.from({ length: 4 }, (_, i) => build(`build ${i}`, {}, s3rver))
    const outcomes = await Promise.all(builds.map((b) => b.acquire('k8')))
    expect(outcomes.map((o) => o.status)).toEqual(['acquired', 'acquired', 'acquired', 'acquired'])
    for (const o of outcomes) if (o.status === 'acquired') await o.lease.release()
  })
})

describe('what leases log', () => {
  it('a takeover, a renewal outage and a loss: warnings naming builds and keys only, never the secret key', async () => {
    server.putObject(LEASE('a'), JSON.stringify({ holder: 'a dead build', token: 'x' }), Date.now() - 120_000)
    const taker = await build('a taker', { staleMs: 5000 }).acquire('a')
    if (taker.status !== 'acquired') throw new Error('not acquired')
    await taker.lease.release()

    const renewer = await build('a renewer', { renewMs: 20 }).acquire('b')
    if (renewer.status !== 'acquired') throw new Error('not acquired')
    server.fault = () => ({ type: 'status', status: 503, code: 'SlowDown' })
    await until(() => server.count('PUT', { status: 503 }) >= 2)
    server.fault = undefined
    await renewer.lease.release()

    const overtaken = await build('overtaken').acquire('c')
    if (overtaken.status !== 'acquired') throw new Error('not acquired')
    server.putObject(LEASE('c'), JSON.stringify({ holder: 'an impatient build', token: 'y' }))
    await overtaken.lease.renew()
    await overtaken.lease.release()

    expect(warnings).toEqual([
      '[flux] Took over the lease on a from "a dead build", which stopped renewing it (a build that died): this build generates the image instead.',
      expect.stringMatching(/^\[flux\] could not renew the lease on b: .*503/),
      '[flux] the lease on c was lost: "an impatient build" took it over',
    ])
    for (const line of warnings) expect(line).not.toContain(server.credentials.secretAccessKey)
  })
})
