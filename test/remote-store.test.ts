// The layered store (local disk primary, a bucket read through and written back) over real HTTP:
// the store contract over our S3 server and over s3rver, then what only a shared cache shows,
// counted on the server's request log.
import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDiskCache } from '../packages/core/src/cache/disk-cache.js'
import type { OriginalStore } from '../packages/core/src/cache/original-store.js'
import { requestKey } from '../packages/core/src/cache/request-key.js'
import {
  createLeases,
  createRemoteCache,
  createS3Client,
  resolveRemoteConfig,
  type S3Client,
  type S3ClientOptions,
} from '../packages/core/src/remote/index.js'
import type { Logger } from '../packages/core/src/types.js'
import { image, request, testStore } from '../packages/core/test/contracts/store-contract.js'
import { createS3Server, remoteOptionsFor, type S3Server } from './s3-server/index.js'
import { type RunningS3rver, startS3rver } from './s3-server/s3rver.js'

/** A server the tests started, or a real bucket (`s3://bucket/prefix`, its endpoint and credentials from AWS_* and FLUX_REMOTE_*). */
type Target = Pick<S3Server, 'url' | 'bucket' | 'region' | 'credentials'> | { realBucket: string }
type Mode = 'read-write' | 'read-only'

/** Short waits between looks at a lease, so the tests run quickly; correctness never depends on them. */
const FAST_POLL = { pollMs: 10, pollMaxMs: 50 }
const silent: Logger = { info() {}, warn() {}, error() {} }

/** Everything one test opened, closed after it. */
const opened: { clients: S3Client[]; dirs: string[] } = { clients: [], dirs: [] }
async function closeOpened(): Promise<void> {
  await Promise.all(opened.clients.splice(0).map((c) => c.close()))
  await Promise.all(opened.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
}

function clientFor(target: Target, prefix: string, options: S3ClientOptions = {}): S3Client {
  const config =
    'realBucket' in target
      ? resolveRemoteConfig({ url: `${target.realBucket.replace(/\/+$/, '')}/${prefix}` }, process.env)
      : resolveRemoteConfig(remoteOptionsFor(target, prefix), {})
  if (!config) throw new Error('no remote configured')
  const client = createS3Client(config, options)
  opened.clients.push(client)
  return client
}

/** One machine: its own local cache directory, its own client, over `prefix` of the bucket. */
function machine(
  target: Target,
  prefix: string,
  o: { mode?: Mode; logger?: Logger; client?: S3ClientOptions; dir?: string } = {},
) {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'flux-remote-store-'))
  if (!o.dir) opened.dirs.push(dir)
  const logger = o.logger ?? silent
  const client = clientFor(target, prefix, o.client)
  const local = createDiskCache({ dir, logger, staleMs: 60_000 })
  const leases = createLeases({ client, logger, ...FAST_POLL })
  const store = createRemoteCache({ local, client, leases, mode: o.mode ?? 'read-write', logger })
  return { dir, store, client }
}

/** One byte of `bytes` flipped, in the middle. */
function flipped(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes)
  copy[copy.length >> 1] = (copy[copy.length >> 1] ?? 0) ^ 0xff
  return copy
}

/** The contract's subject over `target`: each test its own prefix, each store its own local directory. */
function contractOver(target: () => Target) {
  let n = 0
  return async () => {
    const prefix = `contract-${process.pid}-${++n}`
    const first = machine(target(), prefix)
    return {
      store: first.store,
      another: () => machine(target(), prefix).store,
      async tamper(key: string, what: 'image' | 'metadata', { placeholder = false } = {}) {
        if (placeholder) {
          // Placeholders stay local: the first machine's own file is damaged.
          const path = join(first.dir, 'placeholders', `${key}.png`)
          await writeFile(path, flipped(await readFile(path)))
          return
        }
        const name = what === 'image' ? `originals/${key}.png` : `originals/${key}.json`
        const found = await first.client.get(name)
        if (!found) throw new Error(`nothing stored at ${name}`)
        const text = found.body.toString('utf8')
        await first.client.put(
          name,
          what === 'image' ? flipped(found.body) : JSON.stringify({ ...JSON.parse(text), width: -1 }),
        )
      },
      async leases() {
        const keys: string[] = []
        for await (const object of first.client.list('leases/')) keys.push(object.key.slice('leases/'.length))
        return keys.sort()
      },
      cleanup: closeOpened,
    }
  }
}

let server: S3Server | undefined
let s3rver: RunningS3rver | undefined

testStore(
  'layered: local disk over our S3 server',
  contractOver(() => {
    if (!server) throw new Error('server not started')
    return server
  }),
  { seenByAnother: 'remote', removeIsLocal: true },
)
testStore(
  'layered: local disk over s3rver',
  contractOver(() => {
    if (!s3rver) throw new Error('s3rver not started')
    return s3rver
  }),
  // s3rver ignores If-None-Match: two machines both "create" a lease (probeConditionalWrites says so).
  { exclusiveAcrossStores: false, seenByAnother: 'remote', removeIsLocal: true },
)

// Opt-in, never in CI: the contract against a real bucket, e.g. FLUX_TEST_REAL_BUCKET=s3://my-bucket/flux-contract
// with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL_S3 for R2 or MinIO) set.
// Each test writes under its own prefix and removes everything it wrote.
const realBucket = process.env.CI ? undefined : process.env.FLUX_TEST_REAL_BUCKET
if (realBucket) {
  const target = { realBucket }
  const contract = contractOver(() => target)
  testStore(
    'layered: local disk over a real bucket',
    async () => {
      const subject = await contract()
      const client = clientFor(target, '')
      return {
        ...subject,
        async cleanup() {
          const prefix = `contract-${process.pid}-`
          for await (const object of client.list(prefix)) await client.delete(object.key)
          await subject.cleanup?.()
        },
      }
    },
    { seenByAnother: 'remote', removeIsLocal: true },
  )
}

beforeAll(async () => {
  server = await createS3Server()
  s3rver = await startS3rver()
})
afterAll(async () => {
  await server?.close()
  await s3rver?.close()
})

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const REAL = { provider: 'test', placeholder: false }

describe('the layered store, counted on the server', () => {
  const a = request('a lighthouse at dawn')
  const b = request('a harbour at night')
  const keyA = requestKey(a)
  const keyB = requestKey(b)
  let s3: S3Server
  let prefix: string
  let warnings: string[]
  let logger: Logger
  let n = 0

  beforeEach(() => {
    if (!server) throw new Error('server not started')
    s3 = server
    s3.reset()
    prefix = `counted-${++n}`
    warnings = []
    logger = { info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) }
  })
  afterEach(async () => {
    s3.reset()
    await closeOpened()
  })

  /** The log since the last reset, as `OP key status`, keys without the prefix. */
  const requests = () =>
    s3.log.map(
      (e) =>
        `${e.op} ${e.key.replace(`${prefix}/`, '').replace(/probe-[0-9a-f-]{36}$/, 'probe-*')} ${e.status}`,
    )

  it('writes back image first, metadata last; a second machine reads 1 original through with 2 GETs, then 0 requests', async () => {
    const first = machine(s3, prefix, { logger })
    const given = await image()
    await first.store.put(keyA, a, given, REAL)
    // No refusal known for the key: nothing to clear, no DELETE.
    expect(requests()).toEqual([`PUT originals/${keyA}.png 200`, `PUT originals/${keyA}.json 200`])
    s3.reset()

    const second = machine(s3, prefix, { logger })
    const read = await second.store.get(keyA)
    expect(requests()).toEqual([`GET originals/${keyA}.json 200`, `GET originals/${keyA}.png 200`])
    expect(read?.path.startsWith(second.dir)).toBe(true)
    expect(await readFile(read?.path ?? '')).toEqual(given.bytes)
    expect(read?.meta.sha256).toBe(sha256(given.bytes))
    s3.reset()
    expect(await second.store.get(keyA)).toEqual(read)
    expect(await second.store.check(keyA)).toBe('cached')
    expect(requests()).toEqual([])
    // Same metadata on both machines (the local `stamp` aside), same layout on disk.
    const { stamp: _s, ...meta } = read?.meta ?? {}
    const { stamp: _t, ...firstMeta } = (await first.store.get(keyA))?.meta ?? {}
    expect(meta).toEqual(firstMeta)
    expect((await readdir(join(second.dir, 'originals'))).sort()).toEqual([`${keyA}.json`, `${keyA}.png`])
    expect(warnings).toEqual([])
  })

  it("a real image clears the key's shared refusal (the one case a write-back deletes)", async () => {
    const first = machine(s3, prefix, { logger })
    await first.store.refusals.put(keyA, a, 'flagged')
    s3.reset()
    await first.store.put(keyA, a, await image(), REAL)
    expect(requests()).toEqual([
      `PUT originals/${keyA}.png 200`,
      `PUT originals/${keyA}.json 200`,
      `DELETE moderation/${keyA}.json 204`,
    ])
    expect(await machine(s3, prefix).store.check(keyA)).toBe('remote')
  })

  it('a key missing everywhere costs one GET of its metadata per look, and stores nothing', async () => {
    const m = machine(s3, prefix, { logger })
    expect(await m.store.get(keyA)).toBeUndefined()
    expect(requests()).toEqual([`GET originals/${keyA}.json 404`])
    expect(await m.store.keys()).toEqual([])
  })

  it('read-only: reads through, writes nothing to the bucket (0 PUT, 0 DELETE), takes no lease', async () => {
    const writer = machine(s3, prefix)
    await writer.store.put(keyA, a, await image(), REAL)
    s3.reset()
    const reader = machine(s3, prefix, { mode: 'read-only', logger })
    expect((await reader.store.get(keyA))?.meta.key).toBe(keyA)
    const paid = await reader.store.withLock(keyB, async () =>
      reader.store.put(keyB, b, await image('#00aa00'), REAL),
    )
    await reader.store.refusals.put(keyB, b, 'flagged')
    await reader.store.refusals.remove(keyB)
    await reader.store.remove(keyA)
    expect(s3.count('PUT')).toBe(0)
    expect(s3.count('DELETE')).toBe(0)
    expect(requests()).toEqual([`GET originals/${keyA}.json 200`, `GET originals/${keyA}.png 200`])
    expect(await reader.store.check(keyB)).toBe('cached')
    expect(paid.meta.key).toBe(keyB)
    expect([...s3.objects.keys()].filter((k) => k.startsWith(`${prefix}/`)).sort()).toEqual([
      `${prefix}/originals/${keyA}.json`,
      `${prefix}/originals/${keyA}.png`,
    ])
  })

  it("a scan's look serves the download (2 GETs a key, no HEAD); metadata replaced since is read again, not refused", async () => {
    const writer = machine(s3, prefix)
    await writer.store.put(keyA, a, await image('#112233'), REAL)
    await writer.store.put(keyB, b, await image('#445566'), REAL)
    s3.reset()
    const reader = machine(s3, prefix, { logger })
    expect(await reader.store.check(keyA)).toBe('remote')
    expect(await reader.store.check(keyB)).toBe('remote')
    expect((await reader.store.get(keyA))?.meta.key).toBe(keyA)
    expect(requests()).toEqual([
      `GET originals/${keyA}.json 200`,
      `GET originals/${keyB}.json 200`,
      `GET originals/${keyA}.png 200`,
    ])
    // Another build replaces keyB (a repaired key) after this one looked at it.
    const replaced = await image('#778899')
    await machine(s3, prefix).store.put(keyB, b, replaced, REAL)
    s3.reset()
    const got = await reader.store.get(keyB)
    expect(got?.meta.sha256).toBe(sha256(replaced.bytes))
    expect(requests()).toEqual([
      `GET originals/${keyB}.png 200`,
      `GET originals/${keyB}.json 200`,
      `GET originals/${keyB}.png 200`,
    ])
    expect(warnings).toEqual([])
  })

  it('a tampered remote original (bytes changed, metadata kept) is refused with a warning naming the key', async () => {
    const writer = machine(s3, prefix)
    await writer.store.put(keyA, a, await image(), REAL)
    const object = s3.objects.get(`${prefix}/originals/${keyA}.png`)
    if (!object) throw new Error('no image uploaded')
    s3.putObject(`${prefix}/originals/${keyA}.png`, flipped(object.body))
    s3.reset()

    const reader = machine(s3, prefix, { logger })
    expect(await reader.store.get(keyA)).toBeUndefined()
    expect(await reader.store.check(keyA)).toBe('corrupt')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(keyA)
    expect(warnings[0]).toContain('does not match its sha256')
    // Nothing of it reached the local cache.
    expect(await readdir(join(reader.dir, 'originals')).catch(() => [])).toEqual([])
    // `check` remembers the refusal: the image is downloaded once.
    expect(s3.count('GET', { key: `${prefix}/originals/${keyA}.png` })).toBe(1)
  })

  it('the fleet pays once: a machine that finds the lease held waits and reads the result through', async () => {
    const first = machine(s3, prefix, { logger })
    const second = machine(s3, prefix, { logger })
    let paid = 0
    const pay = (m: { store: OriginalStore }, color: string) =>
      m.store.withLock(keyA, async () => {
        const got = await m.store.get(keyA)
        if (got) return got
        paid++
        return m.store.put(keyA, a, await image(color), REAL)
      })
    let letGo = () => {}
    const gate = new Promise<void>((resolve) => {
      letGo = resolve
    })
    let entered = () => {}
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const one = first.store.withLock(keyA, async () => {
      entered()
      await gate
      paid++
      return first.store.put(keyA, a, await image('#aa0000'), REAL)
    })
    await inside
    const two = pay(second, '#0000aa')
    // The second machine is waiting on the lease: it has looked at it, and not paid.
    while (s3.count('HEAD', { key: `${prefix}/leases/${keyA}` }) === 0)
      await new Promise((r) => setTimeout(r, 5))
    expect(paid).toBe(0)
    letGo()
    const mine = await one
    // Released as its run ends (a machine waiting on a lease never released would wait for it to go stale).
    expect(s3.objects.has(`${prefix}/leases/${keyA}`)).toBe(false)
    expect(s3.count('DELETE', { key: `${prefix}/leases/${keyA}`, status: 204 })).toBe(1)
    const theirs = await two
    expect(paid).toBe(1)
    expect(theirs.meta.sha256).toBe(mine.meta.sha256)
    expect(await readFile(theirs.path)).toEqual(await readFile(mine.path))
    expect(s3.count('PUT', { key: `${prefix}/originals/${keyA}.png` })).toBe(1)
    // The lease: created by the first (200), refused to the second (412), never taken by it.
    expect(
      s3.log.filter((e) => e.key === `${prefix}/leases/${keyA}` && e.op === 'PUT').map((e) => e.status),
    ).toEqual([200, 412])
    expect(s3.objects.has(`${prefix}/leases/${keyA}`)).toBe(false)
    expect(warnings).toEqual([])
  })

  it('a holder that fails pays nothing: the machine waiting on it takes the lease and pays, once', async () => {
    const first = await machine(s3, prefix, { logger })
    const second = await machine(s3, prefix, { logger })
    let entered = () => {}
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    let fail = (_: Error) => {}
    const failing = first.store.withLock(keyA, () => {
      entered()
      return new Promise<never>((_, reject) => {
        fail = reject
      })
    })
    await inside
    let paid = 0
    const two = second.store.withLock(keyA, async () => {
      const got = await second.store.get(keyA)
      if (got) return got
      paid++
      return second.store.put(keyA, a, await image(), REAL)
    })
    while (s3.count('HEAD', { key: `${prefix}/leases/${keyA}` }) === 0)
      await new Promise((r) => setTimeout(r, 5))
    const boom = new Error('the gateway failed')
    fail(boom)
    await expect(failing).rejects.toBe(boom)
    // Released as its run failed: the machine waiting on it takes it without waiting for it to go stale.
    expect(s3.count('DELETE', { key: `${prefix}/leases/${keyA}`, status: 204 })).toBe(1)
    expect((await two).meta.key).toBe(keyA)
    expect(paid).toBe(1)
    // Created by the first, refused to the second, then created by the second once the first let go.
    expect(
      s3.log.filter((e) => e.key === `${prefix}/leases/${keyA}` && e.op === 'PUT').map((e) => e.status),
    ).toEqual([200, 412, 200])
    expect(s3.count('DELETE', { key: `${prefix}/leases/${keyA}`, status: 204 })).toBe(2)
    expect(s3.objects.has(`${prefix}/leases/${keyA}`)).toBe(false)
    expect(warnings).toEqual([])
  })

  describe('outages: one warning, local results, a local cache left whole', () => {
    /** A machine whose local cache already holds keyB, and whose client gives up quickly. */
    async function seeded() {
      const dir = await mkdtemp(join(tmpdir(), 'flux-remote-store-'))
      opened.dirs.push(dir)
      const kept = await createDiskCache({ dir, logger: silent }).put(keyB, b, await image('#00aa00'), REAL)
      const m = machine(s3, prefix, { logger, dir, client: { timeoutMs: 300, attempts: 1 } })
      return { ...m, kept }
    }

    /** What every outage must leave: local answers, local writes, one warning. */
    async function usesLocal(m: Awaited<ReturnType<typeof seeded>>) {
      expect(await m.store.get(keyB)).toEqual(m.kept)
      expect(await m.store.get(keyA)).toBeUndefined()
      expect(await m.store.check(keyA)).toBe('missing')
      const paid = await m.store.withLock(keyA, async () => m.store.put(keyA, a, await image(), REAL))
      expect(await m.store.get(keyA)).toEqual(paid)
      await m.store.refusals.put(keyA, a, 'flagged')
      expect(await m.store.remove(keyA)).toBe(true)
      expect(await m.store.keys()).toEqual([keyB])
      expect(warnings).toHaveLength(1)
    }

    it('a remote that refuses connections', async () => {
      const m = await seeded()
      await s3.refuse()
      try {
        await usesLocal(m)
        expect(warnings[0]).toContain('connection refused (ECONNREFUSED)')
        expect(warnings[0]).toContain('local cache only')
      } finally {
        await s3.accept()
      }
    })

    it('a remote that answers 503: one request, then none', async () => {
      const m = await seeded()
      s3.fault = () => ({ type: 'status', status: 503, code: 'SlowDown' })
      await usesLocal(m)
      expect(requests()).toEqual([`GET originals/${keyA}.json 503`])
      expect(warnings[0]).toContain('503 Service Unavailable ("SlowDown')
    })

    it('a remote that hangs: one request, then none', async () => {
      const m = await seeded()
      s3.fault = () => ({ type: 'hang' })
      await usesLocal(m)
      expect(requests()).toEqual([`GET originals/${keyA}.json 0`])
      expect(warnings[0]).toContain('no answer within 300 ms')
    })

    it('a remote that fails while a lease is held: the lease is still released, the entry kept locally', async () => {
      const m = await seeded()
      s3.fault = ({ op, key }) =>
        op === 'PUT' && key.includes('/originals/') ? { type: 'status', status: 503 } : undefined
      const paid = await m.store.withLock(keyA, async () => m.store.put(keyA, a, await image(), REAL))
      expect(await m.store.get(keyA)).toEqual(paid)
      expect(requests()).toEqual([
        // Before the first lease: does the bucket honour conditional writes? (It does.)
        'PUT leases/probe-* 200',
        'PUT leases/probe-* 412',
        'PUT leases/probe-* 412',
        'DELETE leases/probe-* 204',
        `PUT leases/${keyA} 200`,
        `PUT originals/${keyA}.png 503`,
        `DELETE leases/${keyA} 204`,
      ])
      expect(s3.objects.has(`${prefix}/leases/${keyA}`)).toBe(false)
      expect(warnings).toHaveLength(1)
    })

    it('operations that fail at once, in parallel, still give one warning', async () => {
      const m = await seeded()
      s3.fault = () => ({ type: 'status', status: 500, code: 'InternalError' })
      const keys = ['a', 'b', 'c'].map((p) => requestKey(request(`parallel ${p}`)))
      expect(await Promise.all(keys.map((k) => m.store.get(k)))).toEqual([undefined, undefined, undefined])
      expect(s3.count('GET', { status: 500 })).toBe(3)
      expect(warnings).toHaveLength(1)
    })

    it('a remote that hangs in the middle of a download leaves nothing of it in the local cache', async () => {
      const writer = machine(s3, prefix)
      await writer.store.put(keyA, a, await image(), REAL)
      s3.reset()
      const m = await seeded()
      s3.fault = ({ key }) => (key.endsWith('.png') ? { type: 'slow-body', stallMs: 5_000 } : undefined)
      expect(await m.store.get(keyA)).toBeUndefined()
      expect(requests()).toEqual([`GET originals/${keyA}.json 200`, `GET originals/${keyA}.png 200`])
      expect((await readdir(join(m.dir, 'originals'))).sort()).toEqual([`${keyB}.json`, `${keyB}.png`])
      expect(await m.store.check(keyA)).toBe('missing')
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain('no answer within 300 ms')
    })
  })
})
