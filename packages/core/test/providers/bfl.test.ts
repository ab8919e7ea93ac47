import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMockBfl, type MockBfl } from '../../../../test/mock-bfl/index.js'
import { FluxError } from '../../src/errors.js'
import { type BflProviderOptions, createBflProvider } from '../../src/providers/bfl.js'
import { createBflPool } from '../../src/providers/bfl-pool.js'
import type { CanonicalRequest, GenerateContext, JobReceipt, Provider } from '../../src/types.js'

const KEY = 'bfl-secret-key-0123456789'
let mock: MockBfl
let dir: string
const providers: Provider[] = []
let prompts = 0

beforeAll(async () => {
  mock = await createMockBfl({ apiKey: KEY })
  dir = await mkdtemp(join(tmpdir(), 'flux-bfl-'))
})
afterAll(async () => {
  await Promise.all(providers.map((p) => p.close?.()))
  await mock.close()
  await rm(dir, { recursive: true, force: true })
})
afterEach(() => {
  mock.releasePolls()
  mock.fault = undefined
  mock.siblingPolls = false
  mock.pendingPolls = 1
})

const provider = (extra: Partial<BflProviderOptions> = {}) => {
  const p = createBflProvider({
    apiKey: KEY,
    baseURL: mock.url,
    allowPrivateDownloads: true,
    retryBaseMs: 1,
    retryMaxMs: 5,
    pollIntervalMs: 10,
    ...extra,
  })
  providers.push(p)
  return p
}
const request = (extra: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
  model: 'flux-2-pro',
  prompt: `bfl prompt ${++prompts}`,
  size: '80x64',
  quality: 'standard',
  provider: 'bfl',
  safetyTolerance: 2,
  ...extra,
})
/** Counters' change over one call. */
async function counted<T>(run: () => Promise<T>) {
  const before = { submits: mock.submits, polls: mock.polls, downloads: mock.downloads }
  const outcome = await run().then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  )
  return {
    ...outcome,
    submits: mock.submits - before.submits,
    polls: mock.polls - before.polls,
    downloads: mock.downloads - before.downloads,
  }
}
const code = (err: unknown) => (FluxError.is(err) ? err.code : String(err))

describe('a submit', () => {
  it('sends every field explicitly: size, seed, safety_tolerance, png, disable_pup on FLUX.2 pro', async () => {
    const run = await counted(() => provider().generate(request({ seed: 42 })))
    expect(run.error).toBeUndefined()
    expect(mock.submitRecords.at(-1)).toMatchObject({
      model: 'flux-2-pro',
      fields: {
        width: 80,
        height: 64,
        seed: 42,
        safety_tolerance: 2,
        output_format: 'png',
        disable_pup: true,
      },
      inputImages: [],
    })
    expect(Object.keys(mock.submitRecords.at(-1)?.fields ?? {}).sort()).toEqual(
      ['disable_pup', 'height', 'output_format', 'prompt', 'safety_tolerance', 'seed', 'width'].sort(),
    )
    // One submit, one Pending poll, one Ready poll, one download without the key.
    expect([run.submits, run.polls, run.downloads]).toEqual([1, 2, 1])
    expect(mock.downloadsWithKey).toBe(0)
    expect(run.value).toMatchObject({ format: 'png', width: 80, height: 64, seed: 42, credits: 3 })
    expect(run.value?.jobId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('turns prompt upsampling off on other models, and sends an aspect ratio to Ultra', async () => {
    await provider().generate(request({ model: 'flux-pro-1.1', size: '256x320' }))
    expect(mock.submitRecords.at(-1)?.fields).toMatchObject({
      prompt_upsampling: false,
      width: 256,
      height: 320,
    })
    const ultra = await provider().generate(request({ model: 'flux-pro-1.1-ultra', size: '1920x1080' }))
    expect(mock.submitRecords.at(-1)?.fields).toMatchObject({
      aspect_ratio: '16:9',
      prompt_upsampling: false,
    })
    expect(ultra.credits).toBe(6)
  })

  it('sends two references as input_image and input_image_2, the files’ own bytes', async () => {
    const a = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } })
      .png()
      .toBuffer()
    const b = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00f' } })
      .png()
      .toBuffer()
    const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
    await writeFile(join(dir, 'a.png'), a)
    await writeFile(join(dir, 'b.png'), b)
    const references = new Map([
      [sha(a), join(dir, 'a.png')],
      [sha(b), join(dir, 'b.png')],
    ])
    await provider({ references }).generate(request({ references: [sha(a), sha(b)] }))
    expect(mock.submitRecords.at(-1)?.inputImages).toEqual([sha(a), sha(b)])
    // A file changed since its hash was taken: refused before anything is sent.
    await writeFile(join(dir, 'b.png'), a)
    const changed = await counted(() =>
      provider({ references }).generate(request({ references: [sha(a), sha(b)] })),
    )
    expect([code(changed.error), changed.submits]).toEqual(['FLUX_READ_FAILED', 0])
  })

  it('hands the receipt over before the first poll, without the key', async () => {
    const seen: { receipt: JobReceipt; polls: number }[] = []
    const before = mock.polls
    const ctx: GenerateContext = {
      onSubmitted: async (receipt) => {
        seen.push({ receipt, polls: mock.polls - before })
      },
    }
    await provider().generate(request(), ctx)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.polls).toBe(0)
    expect(seen[0]?.receipt).toMatchObject({ model: 'flux-2-pro', credits: 3, host: new URL(mock.url).host })
    expect(JSON.stringify(seen)).not.toContain(KEY)
  })

  it('a receipt given: polled, never submitted again', async () => {
    let receipt: JobReceipt | undefined
    const first = await provider().generate(request(), {
      onSubmitted: async (r) => {
        receipt = r
      },
    })
    if (!receipt) throw new Error('no receipt')
    const again = await counted(() => provider().generate(request(), { receipt }))
    expect([again.submits, again.polls, again.downloads]).toEqual([0, 1, 1])
    expect(again.value?.bytes.equals(first.bytes)).toBe(true)
  })
})

describe('polling', () => {
  it('follows a polling_url on a sibling host (another port of the API host)', async () => {
    mock.siblingPolls = true
    const run = await counted(() => provider().generate(request()))
    expect([code(run.error ?? 'ok'), run.submits, run.polls]).toEqual(['ok', 1, 2])
  })

  it('refuses a polling_url on a host that is not BFL’s nor baseURL’s: 0 polls, the key kept', async () => {
    mock.fault = () => ({ at: 'submit', type: 'foreign-polling-url' })
    const run = await counted(() => provider().generate(request()))
    expect([code(run.error), run.submits, run.polls]).toEqual(['FLUX_POLL_URL', 1, 0])
    expect(String(run.error)).toContain('127.0.0.2 is not a BFL host')
  })

  it('polls Pending until Ready, and no more', async () => {
    mock.pendingPolls = 3
    const run = await counted(() => provider().generate(request()))
    expect([run.submits, run.polls]).toEqual([1, 4])
  })

  it.each([
    ['moderated', 'FLUX_MODERATED'],
    ['error', 'FLUX_JOB_FAILED'],
    ['unknown-status', 'FLUX_JOB_FAILED'],
    ['gone', 'FLUX_JOB_LOST'],
  ] as const)('status from a %s job: %s after one submit', async (type, expected) => {
    mock.fault = () => ({ at: 'poll', type })
    const run = await counted(() => provider().generate(request()))
    expect([code(run.error), run.submits, run.downloads]).toEqual([expected, 1, 0])
    expect(String(run.error)).not.toContain(KEY)
  })

  it.each(['server-error-once', 'rate-limit-once'] as const)(
    'a poll answered by %s is retried: one submit',
    async (type) => {
      mock.fault = () => ({ at: 'poll', type })
      const run = await counted(() => provider().generate(request()))
      expect([code(run.error ?? 'ok'), run.submits, run.polls]).toEqual(['ok', 1, 3])
    },
  )

  it('a job still Pending at timeoutMs: FLUX_TRANSIENT that says the job is kept for the next run', async () => {
    mock.pendingPolls = Number.MAX_SAFE_INTEGER
    let id = ''
    const run = await counted(() =>
      provider({ timeoutMs: 300 }).generate(request(), {
        onSubmitted: async (r) => {
          id = r.id
        },
      }),
    )
    expect([code(run.error), run.submits]).toEqual(['FLUX_TRANSIENT', 1])
    expect(String(run.error)).toContain(`no result within 300 ms (timeoutMs); the job ${id} is kept`)
  })

  it('an expired image URL is polled again for a fresh one, never resubmitted', async () => {
    mock.fault = () => ({ at: 'poll', type: 'expired-url' })
    const run = await counted(() => provider().generate(request()))
    expect([code(run.error ?? 'ok'), run.submits, run.polls, run.downloads]).toEqual(['ok', 1, 3, 2])
  })

  it('an image URL that stays expired is reported (FLUX_DOWNLOAD), not resubmitted', async () => {
    mock.fault = () => ({ at: 'poll', type: 'always-expired-url' })
    const run = await counted(() => provider().generate(request()))
    expect([code(run.error), run.submits, run.downloads]).toEqual(['FLUX_DOWNLOAD', 1, 2])
  })
})

describe('submit failures', () => {
  it('402 is FLUX_QUOTA, 403 FLUX_AUTH, moderation FLUX_MODERATED: one submit each', async () => {
    for (const [type, expected] of [
      ['payment', 'FLUX_QUOTA'],
      ['auth', 'FLUX_AUTH'],
      ['moderated', 'FLUX_MODERATED'],
    ] as const) {
      mock.fault = () => ({ at: 'submit', type })
      const run = await counted(() => provider().generate(request()))
      expect([code(run.error), run.submits, run.polls]).toEqual([expected, 1, 0])
    }
  })

  it('a wrong key is FLUX_AUTH, and the key is in no message', async () => {
    const run = await counted(() => provider({ apiKey: `${KEY}-wrong` }).generate(request()))
    expect([code(run.error), run.submits]).toEqual(['FLUX_AUTH', 1])
    expect(String(run.error)).not.toContain(KEY)
  })

  it('429 is retried after Retry-After, in seconds or as a date', async () => {
    for (const retryAfter of ['0', new Date(Date.now() - 1000).toUTCString()]) {
      mock.fault = ({ number }) =>
        number === mock.submits && !retried.has(retryAfter) ? mark(retryAfter) : undefined
      const run = await counted(() => provider().generate(request()))
      expect([code(run.error ?? 'ok'), run.submits]).toEqual(['ok', 2])
    }
  })

  it('a 500 to a submit is not retried (BFL may have accepted it): one submit', async () => {
    mock.fault = () => ({ at: 'submit', type: 'server-error' })
    const run = await counted(() => provider({ maxRetries: 4 }).generate(request()))
    expect([code(run.error), run.submits]).toEqual(['FLUX_TRANSIENT', 1])
  })

  it('a connection lost after the submit reached BFL is not retried (it may be billed): one submit', async () => {
    mock.fault = () => ({ at: 'submit', type: 'reset-after-accept' })
    const charged = mock.charged
    const run = await counted(() => provider({ maxRetries: 4 }).generate(request()))
    expect([code(run.error), run.submits, run.polls]).toEqual(['FLUX_TRANSIENT', 1, 0])
    expect(String(run.error)).toContain('not retried, as BFL may have accepted (and billed) it')
    expect(mock.charged - charged).toBe(3)
  })

  it('a connection refused before opening is retried (nothing reached BFL)', async () => {
    const run = await counted(() =>
      provider({ baseURL: 'http://127.0.0.1:9', maxRetries: 2 }).generate(request()),
    )
    expect([code(run.error), run.submits]).toEqual(['FLUX_TRANSIENT', 0])
    expect(String(run.error)).toContain('after 3 attempt(s)')
  })
})

describe('the mock’s strictness', () => {
  it('refuses an unknown field with 422, naming it', async () => {
    const res = await fetch(`${mock.url}/v1/flux-2-pro`, {
      method: 'POST',
      headers: { 'x-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a cat', width: 64, height: 64, size: '64x64' }),
    })
    expect(res.status).toBe(422)
    expect(await res.json()).toEqual({
      detail: [{ loc: ['body', 'size'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' }],
    })
  })
})

const retried = new Set<string>()
function mark(retryAfter: string) {
  retried.add(retryAfter)
  return { at: 'submit' as const, type: 'rate-limit' as const, retryAfter }
}

describe('the pool of jobs in flight', () => {
  it('a 429 to every submit of the first wave halves the bound once: 4 in flight become 2 (the mock’s count), said once', async () => {
    const said: string[] = []
    const logger = { info: (line: string) => said.push(line), warn() {}, error() {} }
    const p = provider({ concurrency: 4, logger })
    const first = mock.submits
    mock.fault = ({ number }) =>
      number - first <= 4 ? { at: 'submit', type: 'rate-limit', retryAfter: '0' } : undefined
    // Jobs earlier tests left pending still count at the mock: these count from here.
    const before = mock.inFlight
    mock.resetMaxInFlight()
    mock.holdPolls()
    const run = counted(() => Promise.all([1, 2, 3, 4].map(() => p.generate(request()))))
    await mock.whenPollsHeld(2)
    expect(mock.inFlight - before).toBe(2)
    mock.releasePolls()
    const { error, submits } = await run
    expect(error).toBeUndefined()
    // Four refused, four accepted; never more than two jobs at once after the 429s.
    expect([submits, mock.maxInFlight - before]).toEqual([8, 2])
    expect(said).toEqual([
      '[flux] BFL answered 429 Too Many Requests: at most 2 jobs in flight now (was 4), growing back by one as each 2 finish without one.',
    ])
  })

  it('flux-kontext-max: at most 6 jobs in flight, whatever the bound', async () => {
    const p = provider({ concurrency: 24 })
    // Jobs earlier tests left pending still count at the mock: these count from here.
    const before = mock.inFlight
    mock.resetMaxInFlight()
    mock.holdPolls()
    const run = counted(() =>
      Promise.all(Array.from({ length: 8 }, () => p.generate(request({ model: 'flux-kontext-max' })))),
    )
    await mock.whenPollsHeld(6)
    expect(mock.inFlight - before).toBe(6)
    mock.releasePolls()
    const { error, submits } = await run
    expect(error).toBeUndefined()
    expect([submits, mock.maxInFlight - before]).toEqual([8, 6])
  })

  it('halves once per bound (429s to jobs sent under the same bound say one thing), then grows back one per bound’s worth of jobs', async () => {
    const pool = createBflPool(8)
    const tickets = await Promise.all([1, 2, 3].map(() => pool.acquire({ name: 'flux-2-pro' })))
    for (const t of tickets) t.rateLimited()
    expect(pool.limit).toBe(4)
    for (const t of tickets) t.release()
    const later = await pool.acquire({ name: 'flux-2-pro' })
    later.rateLimited()
    later.release()
    expect(pool.limit).toBe(2)
    for (const expected of [2, 3, 3, 3, 4]) {
      ;(await pool.acquire({ name: 'flux-2-pro' })).release(true)
      expect(pool.limit).toBe(expected)
    }
  })
})
