// What a bucket writer can plant, and what a build that reads the bucket makes of it: oversized
// records, names that are not keys, originals that are not what their key says, refusals, lease
// holders that forge log lines, a lease that comes and goes. Over real HTTP (our S3 server), each
// test with its own prefix, its own local cache and its own counts.
import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDiskCache } from '../packages/core/src/cache/disk-cache.js'
import { requestKey } from '../packages/core/src/cache/request-key.js'
import {
  createLeases,
  createRemoteCache,
  createS3Client,
  type LeaseOptions,
  resolveRemoteConfig,
  type S3Client,
} from '../packages/core/src/remote/index.js'
import { MAX_RECORD_BYTES } from '../packages/core/src/remote/remote-cache.js'
import type { Logger } from '../packages/core/src/types.js'
import { image, request } from '../packages/core/test/contracts/store-contract.js'
import { cliEnv, makeProject, runCli } from './helpers/cli.js'
import { createS3Server, remoteOptionsFor, type S3Server } from './s3-server/index.js'

const REAL = { provider: 'test', placeholder: false }
const FAST_POLL = { pollMs: 10, pollMaxMs: 50 }
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

let s3: S3Server
let prefix: string
let n = 0
let warnings: string[]
let logger: Logger
const opened: { clients: S3Client[]; dirs: string[] } = { clients: [], dirs: [] }

beforeAll(async () => {
  s3 = await createS3Server()
})
afterAll(async () => {
  await s3.close()
})
beforeEach(() => {
  s3.reset()
  prefix = `hostile-${++n}`
  warnings = []
  logger = { info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) }
})
afterEach(async () => {
  s3.reset()
  await Promise.all(opened.clients.splice(0).map((c) => c.close()))
  await Promise.all(opened.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

/** One machine: its own local cache and client over this test's prefix. */
function machine(o: { mode?: 'read-write' | 'read-only'; leases?: Partial<LeaseOptions> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'flux-hostile-'))
  opened.dirs.push(dir)
  const config = resolveRemoteConfig(remoteOptionsFor(s3, prefix), {})
  if (!config) throw new Error('no remote configured')
  const client = createS3Client(config)
  opened.clients.push(client)
  const local = createDiskCache({ dir, logger, staleMs: 60_000 })
  const leases = createLeases({ client, logger, ...FAST_POLL, ...o.leases })
  const store = createRemoteCache({ local, client, leases, mode: o.mode ?? 'read-write', logger })
  return { dir, store, client }
}

/** Plants an object as any writer of the bucket could, under this test's prefix. */
const plant = (name: string, body: string | Buffer) => s3.putObject(`${prefix}/${name}`, body)
/** The log since the last reset, as `OP name status`, names without the prefix. */
const requests = () => s3.log.map((e) => `${e.op} ${e.key.replace(`${prefix}/`, '')} ${e.status}`)
/** What the local cache holds, by folder. */
async function localFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const sub of ['originals', 'moderation']) {
    for (const name of await readdir(join(dir, sub)).catch(() => [])) out.push(`${sub}/${name}`)
  }
  return out.sort()
}

describe('metadata records are read up to MAX_RECORD_BYTES', () => {
  const keys = Array.from({ length: 12 }, (_, i) => requestKey(request(`planted ${i}`)))

  it('12 oversized records: each is corrupt (not missing), the remote stays up, the next key still reads', async () => {
    // 2 MiB each: JSON a parser would take (a long prompt), far over the cap.
    for (const key of keys) plant(`originals/${key}.json`, JSON.stringify({ key, pad: 'x'.repeat(2 << 20) }))
    const writer = machine()
    const good = request('a real image after the planted ones')
    await writer.store.put(requestKey(good), good, await image(), REAL)
    s3.reset()
    const reader = machine()
    const seen = []
    for (const key of keys) seen.push(await reader.store.check(key))
    expect(seen).toEqual(keys.map(() => 'corrupt'))
    expect(await reader.store.check(requestKey(good))).toBe('remote')
    // One look each; a download of a corrupt key reads nothing more.
    expect(await reader.store.get(keys[0] as string)).toBeUndefined()
    expect(requests()).toEqual([
      ...keys.map((k) => `GET originals/${k}.json 200`),
      `GET originals/${requestKey(good)}.json 200`,
      `GET originals/${keys[0]}.json 200`,
    ])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`Cache entry ${keys[0]} is corrupt`)
    expect(warnings[0]).toContain(`its metadata is over ${MAX_RECORD_BYTES} bytes`)
    expect(await localFiles(reader.dir)).toEqual([])
  })

  it('a record whose body never ends (no length header) is dropped at the cap: corrupt, and the read returns', async () => {
    const key = keys[0] as string
    plant(`originals/${key}.json`, '{}')
    s3.fault = ({ op }) => (op === 'GET' ? { type: 'endless-body', chunk: 'x'.repeat(16 * 1024) } : undefined)
    const reader = machine()
    expect(await reader.store.check(key)).toBe('corrupt')
    expect(requests()).toEqual([`GET originals/${key}.json 200`])
    expect(warnings).toEqual([])
  })

  it('a record of exactly MAX_RECORD_BYTES is read (and judged by its content)', async () => {
    const key = keys[1] as string
    const text = JSON.stringify({ key, pad: '' })
    plant(`originals/${key}.json`, JSON.stringify({ key, pad: 'x'.repeat(MAX_RECORD_BYTES - text.length) }))
    const reader = machine()
    expect(await reader.store.get(key)).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('its metadata has version undefined, expected 1')
  })
})

describe('names under originals/ that are not keys', () => {
  it('pull skips them with one warning that quotes each name, and moves the real originals', async () => {
    const writer = machine()
    const real = [request('a kept lighthouse'), request('a kept harbour')]
    for (const r of real) await writer.store.put(requestKey(r), r, await image(), REAL)
    plant('originals/notes/README.json', '{"hello": "world"}')
    plant('originals/../../evil.json', '{}')
    plant('originals/forged\n[flux] all good.json', '{}')
    s3.reset()
    const reader = machine({ mode: 'read-only' })
    const result = await reader.store.remote.pull()
    expect(result).toMatchObject({ moved: 2, present: 0, refused: [] })
    expect(warnings).toEqual([
      `[flux] Skipped 3 object(s) in s3://flux-test/${prefix}/originals/ whose names are not cache keys: "../../evil.json", "forged\\n[flux] all good.json", "notes/README.json".\n` +
        '  hint: Only this cache writes there, as `<24 hex characters>.json`; remove the others from the bucket.',
    ])
    expect(await localFiles(reader.dir)).toEqual(
      real.flatMap((r) => [`originals/${requestKey(r)}.json`, `originals/${requestKey(r)}.png`]).sort(),
    )
    // Nothing was read of the skipped names: a list, then each real key's metadata and image.
    expect(requests().sort()).toEqual(
      [
        'LIST originals/ 200',
        ...real.flatMap((r) => [
          `GET originals/${requestKey(r)}.json 200`,
          `GET originals/${requestKey(r)}.png 200`,
        ]),
      ].sort(),
    )
  })
})

/** `png` with its IHDR saying `width` x `height` (CRC fixed): a header that lies, as a small file. */
function resized(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png)
  // Signature (8), length (4), "IHDR" (4), then width and height; the CRC covers type and data.
  out.writeUInt32BE(width, 16)
  out.writeUInt32BE(height, 20)
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29)
  return out
}

describe('an original is checked against its key, and its header against the budget', () => {
  const asked = request('a lighthouse at dawn')
  const key = requestKey(asked)

  /** Replaces what the bucket holds for `key` with `bytes` and metadata that says `claims`. */
  async function plantOriginal(bytes: Buffer, claims: Record<string, unknown>) {
    const writer = machine()
    await writer.store.put(key, asked, await image(), REAL)
    const meta = JSON.parse((await writer.client.get(`originals/${key}.json`))?.body.toString('utf8') ?? '{}')
    plant(`originals/${key}.png`, bytes)
    plant(
      `originals/${key}.json`,
      JSON.stringify({ ...meta, bytes: bytes.length, sha256: sha256(bytes), ...claims }),
    )
    s3.reset()
  }

  /** Read-through, scan and pull all refuse it, with one warning saying `why`; nothing is kept. */
  async function refusedEverywhere(why: string, scan: 'remote' | 'corrupt') {
    const build = machine({ mode: 'read-only' })
    expect(await build.store.check(key)).toBe(scan)
    expect(await build.store.get(key)).toBeUndefined()
    expect(await build.store.check(key)).toBe('corrupt')
    expect(await localFiles(build.dir)).toEqual([])
    const pulled = machine({ mode: 'read-only' })
    expect(await pulled.store.remote.pull()).toMatchObject({ moved: 0, refused: [key] })
    expect(await localFiles(pulled.dir)).toEqual([])
    expect(warnings).toHaveLength(2)
    for (const warning of warnings) {
      expect(warning).toContain(`Cache entry ${key} is corrupt: (in s3://flux-test/${prefix}/) ${why}`)
    }
  }

  it('a 20000x20000 PNG whose metadata says 1024x1024 is refused by its header, never decoded', async () => {
    const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
      .png()
      .toBuffer()
    await plantOriginal(resized(small, 20000, 20000), {
      width: 1024,
      height: 1024,
      requestedSize: '1024x1024',
    })
    await refusedEverywhere('its image is refused: the png image is 20000x20000 pixels (400.0 MP)', 'remote')
  })

  it("another prompt's image filed under this key is refused by the request's hash, at the first look", async () => {
    const other = request('a prompt nobody here wrote')
    const bytes = (await image('#ff0000')).bytes as Buffer
    await plantOriginal(bytes, { request: other })
    await refusedEverywhere("its metadata's request does not hash to its key", 'corrupt')
    // Refused on its metadata: no image was downloaded.
    expect(s3.count('GET', { key: `${prefix}/originals/${key}.png` })).toBe(0)
  })

  it('an image whose header disagrees with its metadata (32x24 said to be 64x64) is refused', async () => {
    const bytes = (await image()).bytes as Buffer
    await plantOriginal(bytes, { width: 64, height: 64 })
    await refusedEverywhere('its image is a 32x24 png, its metadata says 64x64 png', 'remote')
  })

  it('a true original still reads through and pulls (the checks pass what this cache wrote)', async () => {
    const writer = machine()
    await writer.store.put(key, asked, await image(), REAL)
    expect((await machine({ mode: 'read-only' }).store.get(key))?.meta.key).toBe(key)
    expect(await machine({ mode: 'read-only' }).store.remote.pull()).toMatchObject({ moved: 1, refused: [] })
    expect(warnings).toEqual([])
  })
})

describe('refusals read from the bucket', () => {
  const asked = request('a prompt a gateway once refused')
  const key = requestKey(asked)
  const record = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      version: 1,
      key,
      request: asked,
      detail: 'flagged',
      created: new Date().toISOString(),
      ...over,
    })

  it('a true refusal holds in read-only mode, and is not copied into the committed moderation folder', async () => {
    plant(`moderation/${key}.json`, record())
    const build = machine({ mode: 'read-only' })
    expect(await build.store.check(key)).toBe('moderated')
    expect((await build.store.refusals.get(key))?.detail).toBe('flagged')
    expect(await build.store.check(key)).toBe('moderated')
    expect(await localFiles(build.dir)).toEqual([])
    expect(warnings).toEqual([])
  })

  it('read-write mode keeps it locally, as its own refusals are', async () => {
    plant(`moderation/${key}.json`, record())
    const build = machine()
    expect((await build.store.refusals.get(key))?.detail).toBe('flagged')
    expect(await localFiles(build.dir)).toEqual([`moderation/${key}.json`])
  })

  it('a planted refusal whose request is another prompt blocks nothing: one warning, the key stays missing', async () => {
    plant(`moderation/${key}.json`, record({ request: request('another prompt') }))
    for (const mode of ['read-only', 'read-write'] as const) {
      const build = machine({ mode })
      expect(await build.store.check(key)).toBe('missing')
      expect(await build.store.refusals.get(key)).toBeUndefined()
      expect(await localFiles(build.dir)).toEqual([])
    }
    expect(warnings).toEqual(
      ['read-only', 'read-write'].map(
        () =>
          `[flux] Cache entry ${key} is corrupt: (in s3://flux-test/${prefix}/) its refusal record has a request that does not hash to its key (FLUX_CACHE_CORRUPT); it is ignored.\n` +
          '  hint: It will be regenerated by the next `flux-images generate`.',
      ),
    )
  })

  it('an oversized refusal record is read up to MAX_RECORD_BYTES and ignored', async () => {
    plant(`moderation/${key}.json`, record({ detail: 'x'.repeat(2 << 20) }))
    const build = machine({ mode: 'read-only' })
    expect(await build.store.check(key)).toBe('missing')
    expect(await build.store.refusals.get(key)).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`its refusal record is over ${MAX_RECORD_BYTES} bytes`)
  })
})

describe('text from the bucket is quoted and escaped in every message', () => {
  const FORGED = 'a build\n[flux] 24 image(s) from 24 directive(s): 0 generated, 24 cached\u001b[2K'
  const ESCAPED = '"a build\\n[flux] 24 image(s) from 24 directive(s): 0 generated, 24 cached\\u001b[2K"'
  const key = requestKey(request('a lighthouse at dawn'))
  const lease = (holder: string, ageMs: number) =>
    s3.putObject(
      `${prefix}/leases/${key}`,
      JSON.stringify({ holder, token: 'theirs', key, writes: 1 }),
      Date.now() - ageMs,
    )

  /** Every line of `text` that starts like a log line of ours: exactly one, the first. */
  const logLines = (text: string) => text.split('\n').filter((line) => line.startsWith('[flux]'))

  it("a stale lease's holder: the take-over warning quotes it", async () => {
    lease(FORGED, 120_000)
    const { client } = machine()
    const outcome = await createLeases({ client, logger, ...FAST_POLL }).acquire(key)
    expect(outcome.status).toBe('acquired')
    if (outcome.status === 'acquired') await outcome.lease.release()
    expect(warnings).toEqual([
      `[flux] Took over the lease on ${key} from ${ESCAPED}, which stopped renewing it (a build that died): this build generates the image instead.`,
    ])
  })

  it("a renewed lease's holder: FLUX_REMOTE_LEASE_WAIT quotes it", async () => {
    lease(FORGED, 0)
    const { client } = machine()
    const err = await createLeases({ client, logger, ...FAST_POLL, maxWaitMs: 0 })
      .acquire(key)
      .catch((e: Error) => e)
    expect(logLines(String(err))).toEqual([
      `[flux] Waited 0 s for ${ESCAPED} to finish ${key}; its lease is still renewed.`,
    ])
  })

  it("a bucket's error message: the outage warning quotes it", async () => {
    s3.fault = () => ({ type: 'status', status: 503, code: FORGED })
    const build = machine()
    expect(await build.store.check(key)).toBe('missing')
    expect(warnings).toHaveLength(1)
    expect(logLines(warnings[0] as string)).toHaveLength(1)
    expect(warnings[0]).toMatch(/^\[flux\] The remote cache failed \[GET\]/)
    expect(warnings[0]).toContain(`503 Service Unavailable ("${ESCAPED.slice(1, -1)}: Injected failure.")`)
  })

  it('a malformed field of a metadata record: the corrupt warning quotes the value', async () => {
    const writer = machine()
    const asked = request('a lighthouse at dawn')
    await writer.store.put(key, asked, await image(), REAL)
    const meta = JSON.parse(s3.objects.get(`${prefix}/originals/${key}.json`)?.body.toString('utf8') ?? '{}')
    plant(`originals/${key}.json`, JSON.stringify({ ...meta, sha256: FORGED }))
    expect(await machine().store.get(key)).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(logLines(warnings[0] as string)).toHaveLength(1)
    // Shown as JSON, cut to 60 characters.
    expect(warnings[0]).toContain(
      `its metadata is malformed at sha256: expected /^[0-9a-f]{64}$/, got ${ESCAPED.slice(0, 57)}... (FLUX_CACHE_CORRUPT)`,
    )
  })
})

describe('a lease that is created and deleted again and again', () => {
  const asked = request('a lighthouse at dawn')
  const key = requestKey(asked)

  it('bounds the wait: past maxWaitMs, FLUX_REMOTE_LEASE_WAIT says the lease kept being let go, nothing paid', async () => {
    // Another writer creates the lease just before each of this build's creates, and deletes it
    // just before each look: every try ends "released" with no result.
    const stop = new AbortController()
    s3.fault = ({ op, key: name }) => {
      if (name !== `${prefix}/leases/${key}`) return undefined
      // With the wait unbounded, the build would go round for ever: stopped here, it fails the test.
      if (s3.count('PUT', { key: name }) > 50) stop.abort(new Error('still waiting after 50 tries'))
      return op === 'PUT'
        ? { type: 'precondition-failed' }
        : { type: 'status', status: 404, code: 'NoSuchKey' }
    }
    const build = machine({ leases: { maxWaitMs: 0 } })
    let paid = 0
    const err = await build.store
      .withLock(
        key,
        async () => {
          paid++
        },
        { signal: stop.signal },
      )
      .catch((e: unknown) => e)
    expect(stop.signal.aborted).toBe(false)
    expect(paid).toBe(0)
    expect(String(err)).toBe(
      `[flux] Waited 0 s for ${key}: its lease was taken and let go again and again, and no image or refusal was stored (last seen held by an unknown holder). Nothing was generated for it.\n` +
        '  hint: Another build is still generating this image, or something else writes to `leases/` in the bucket: check what does, run again once it has stopped, or raise `maxWaitMs`.',
    )
    expect(requests().filter((r) => !r.includes('probe-'))).toEqual([
      `PUT leases/${key} 412`,
      `GET leases/${key} 404`,
      `HEAD originals/${key}.json 404`,
      `HEAD moderation/${key}.json 404`,
      `PUT leases/${key} 412`,
      `GET leases/${key} 404`,
    ])
  })

  it('over a real wait (maxWaitMs 200): the same error, after at most 200 / pollMs + 1 tries (each try first waits pollMs)', async () => {
    const stop = new AbortController()
    s3.fault = ({ op, key: name }) => {
      if (name !== `${prefix}/leases/${key}`) return undefined
      if (s3.count('PUT', { key: name }) > 50) stop.abort(new Error('still waiting after 50 tries'))
      return op === 'PUT'
        ? { type: 'precondition-failed' }
        : { type: 'status', status: 404, code: 'NoSuchKey' }
    }
    const build = machine({ leases: { maxWaitMs: 200 } })
    const err = await build.store
      .withLock(key, async () => {}, { signal: stop.signal })
      .catch((e: unknown) => e)
    expect(stop.signal.aborted).toBe(false)
    expect(String(err)).toMatch(
      /^\[flux\] Waited \d+ s for [0-9a-f]{24}: its lease was taken and let go again and again/,
    )
    expect(s3.count('PUT', { key: `${prefix}/leases/${key}` })).toBeLessThanOrEqual(
      200 / FAST_POLL.pollMs + 1,
    )
  })
})

describe('from the CLI', () => {
  /** A checkout whose committed `.env` points the remote at this test's prefix of our server (plain http, loopback). */
  async function checkout() {
    const p = await makeProject({
      '.env': `FLUX_REMOTE_URL=s3://${s3.bucket}/${prefix}\nFLUX_REMOTE_ENDPOINT=${s3.url}\nFLUX_REMOTE_REGION=${s3.region}\n`,
      'src/post.md': '![a](<flux:a lighthouse at dawn?model=flux-schnell>)\n',
    })
    opened.dirs.push(p.root)
    return p.root
  }
  const aws = (extra: Record<string, string> = {}) =>
    cliEnv({
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      ...extra,
    })

  it('scan with the endpoint from .env and the credentials from the environment: one warning naming both, no value', async () => {
    const run = await runCli(['scan'], { cwd: await checkout(), env: aws() })
    expect(run.code).toBe(0)
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('[flux]'))
    expect(lines.filter((l) => !l.startsWith('[flux] Shared cache:'))).toEqual([
      '[flux] FLUX_REMOTE_ENDPOINT is set by .env only, while the environment gives AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: requests signed with them would go to an address that a file of the checkout chose.',
    ])
    expect(run.stdout + run.stderr).not.toContain(s3.credentials.accessKeyId)
    expect(run.stdout + run.stderr).not.toContain(s3.credentials.secretAccessKey)
  })

  it('a frozen build over a planted 20000x20000 original: refused at its directive, not cached, nothing kept', async () => {
    const root = await checkout()
    const asked = {
      model: 'flux-schnell',
      prompt: 'a lighthouse at dawn',
      size: '1024x1024',
      quality: 'standard',
    } as const
    const key = requestKey(asked)
    const writer = machine()
    await writer.store.put(key, asked, await image(), REAL)
    const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
      .png()
      .toBuffer()
    const bomb = resized(small, 20000, 20000)
    const meta = JSON.parse(s3.objects.get(`${prefix}/originals/${key}.json`)?.body.toString('utf8') ?? '{}')
    plant(`originals/${key}.png`, bomb)
    plant(
      `originals/${key}.json`,
      JSON.stringify({ ...meta, bytes: bomb.length, sha256: sha256(bomb), width: 1024, height: 1024 }),
    )
    const run = await runCli(['generate'], { cwd: root, env: aws({ FLUX_MODE: 'frozen' }) })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      `[flux] Cache entry ${key} is corrupt: (in s3://flux-test/${prefix}/) its image is refused: the png image is 20000x20000 pixels`,
    )
    expect(run.stderr).toMatch(/src\/post\.md:1:7/)
    expect(run.stderr).toMatch(/0 generated, 0 cached/)
    expect(await localFiles(join(root, '.flux-cache'))).toEqual([])
  })

  it('pull over names that are not keys exits 0: one warning, no stack', async () => {
    const writer = machine()
    const asked = request('a kept lighthouse')
    await writer.store.put(requestKey(asked), asked, await image(), REAL)
    plant('originals/notes/README.json', '{}')
    plant('originals/../../evil.json', '{}')
    const run = await runCli(['pull'], { cwd: await checkout(), env: aws() })
    expect(run.code).toBe(0)
    expect(run.stderr).not.toMatch(/TypeError|\n\s+at /)
    expect(run.stderr.split('\n').filter((l) => l.startsWith('[flux] Skipped'))).toEqual([
      `[flux] Skipped 2 object(s) in s3://flux-test/${prefix}/originals/ whose names are not cache keys: "../../evil.json", "notes/README.json".`,
    ])
    expect(run.stdout).toContain('Downloaded 1 original(s)')
  })
})
