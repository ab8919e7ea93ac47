import { describe, expect, it } from 'vitest'
import { FluxError, fluxError } from '../../src/errors.js'
import { AttemptFailure, backoffDelay, parseRetryAfter, type RetryOptions, retry } from '../../src/retry.js'

function options(
  extra: Partial<RetryOptions> = {},
): RetryOptions & { warnings: string[]; retries: number[] } {
  const warnings: string[] = []
  const retries: number[] = []
  return {
    maxRetries: 3,
    baseMs: 1,
    maxMs: 2,
    maxRetryAfterMs: 50,
    logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
    onRetry: (info) => retries.push(info.delayMs),
    warnings,
    retries,
    ...extra,
  }
}

/** An attempt function failing with the given failures in turn, then returning 'ok'. */
function script(...failures: unknown[]) {
  const calls = { n: 0 }
  const fn = async () => {
    const failure = failures[calls.n++]
    if (failure !== undefined) throw failure
    return 'ok'
  }
  return { fn, calls }
}

const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

describe('backoffDelay', () => {
  it('is full jitter under an exponential ceiling', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(0)
    expect(backoffDelay(1, 100, 10_000, () => 0.9999)).toBe(100)
    expect(backoffDelay(2, 100, 10_000, () => 0.9999)).toBe(200)
    expect(backoffDelay(4, 100, 10_000, () => 0.5)).toBe(400)
  })

  it('is capped, even for huge retry numbers', () => {
    expect(backoffDelay(8, 100, 1_000, () => 0.9999)).toBe(1_000)
    expect(backoffDelay(5_000, 100, 1_000, () => 0.9999)).toBe(1_000)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  it.each([
    [{}, undefined],
    [{ 'retry-after-ms': '250' }, 250],
    [{ 'retry-after': '3' }, 3_000],
    [{ 'retry-after': '1.5' }, 1_500],
    [{ 'retry-after': '3', 'retry-after-ms': '120' }, 120],
    [{ 'retry-after': ['2', '9'] }, 2_000],
    [{ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, 5_000],
    [{ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, 0],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'retry-after-ms': '-5' }, undefined],
  ])('%j -> %s', (headers, expected) => {
    expect(parseRetryAfter(headers, now)).toBe(expected)
  })
})

describe('retry', () => {
  it('retries transient failures up to maxRetries, then FLUX_TRANSIENT with the attempt count', async () => {
    const o = options({ maxRetries: 2 })
    const { fn, calls } = script(...Array(5).fill(new AttemptFailure('transient', '503 Service Unavailable')))
    const err = await caught(retry(fn, o))
    expect(FluxError.is(err, 'FLUX_TRANSIENT')).toBe(true)
    expect((err as FluxError).message).toContain('after 3 attempt(s): 503 Service Unavailable')
    expect(calls.n).toBe(3)
    expect(o.retries).toHaveLength(2)
    expect(o.warnings).toEqual([])
  })

  it('retries a lost answer once only, with a warning, however many retries remain', async () => {
    const o = options({ maxRetries: 10 })
    const final = fluxError('FLUX_BAD_IMAGE', { detail: 'garbled' })
    const lost = new AttemptFailure('lost', 'malformed answer', { final })
    const { fn, calls } = script(lost, lost, lost)
    expect(await caught(retry(fn, o))).toBe(final)
    expect(calls.n).toBe(2)
    expect(o.warnings).toEqual([
      '[flux] malformed answer: answer lost; retrying once: the gateway may bill twice',
    ])
  })

  it('does not retry a lost answer when maxRetries is 0', async () => {
    const o = options({ maxRetries: 0 })
    const { fn, calls } = script(new AttemptFailure('lost', 'reset'))
    const err = await caught(retry(fn, o))
    expect(FluxError.is(err, 'FLUX_TRANSIENT')).toBe(true)
    expect(calls.n).toBe(1)
    expect(o.warnings).toEqual([])
  })

  it('passes any other error through at once', async () => {
    const auth = fluxError('FLUX_AUTH', { status: 401, detail: 'no' })
    const { fn, calls } = script(auth)
    expect(await caught(retry(fn, options()))).toBe(auth)
    expect(calls.n).toBe(1)
  })

  it('waits what the gateway asked for, capped at maxRetryAfterMs', async () => {
    const o = options()
    const { fn } = script(
      new AttemptFailure('transient', '429', { retryAfterMs: 7 }),
      new AttemptFailure('transient', '429', { retryAfterMs: 60_000 }),
    )
    expect(await retry(fn, o)).toBe('ok')
    expect(o.retries).toEqual([7, 50])
  })

  it('uses the injected random for backoff', async () => {
    const o = options({ baseMs: 10, maxMs: 100, random: () => 0.5 })
    const t = new AttemptFailure('transient', 'reset before sending')
    const { fn } = script(t, t, t)
    await retry(fn, o)
    expect(o.retries).toEqual([5, 10, 20])
  })

  it('redacts what it logs and reports', async () => {
    const reasons: string[] = []
    const o = options({
      redact: (t) => t.replaceAll('s3cr3t', '[redacted]'),
      onRetry: (i) => reasons.push(i.reason),
    })
    const { fn } = script(new AttemptFailure('lost', 'echoed s3cr3t'))
    await retry(fn, o)
    expect([...reasons, ...o.warnings].join()).not.toContain('s3cr3t')
    expect(reasons).toEqual(['echoed [redacted]'])
  })

  it('ends with FLUX_INTERRUPTED when the signal is already aborted, without an attempt', async () => {
    const { fn, calls } = script()
    const err = await caught(retry(fn, options({ signal: AbortSignal.abort() })))
    expect(FluxError.is(err, 'FLUX_INTERRUPTED')).toBe(true)
    expect(calls.n).toBe(0)
  })

  it('ends a wait when the signal aborts', async () => {
    const controller = new AbortController()
    // A wait longer than the test's timeout: only the abort can end it.
    const o = options({
      maxRetryAfterMs: 10 * 60_000,
      signal: controller.signal,
      onRetry: () => controller.abort(),
    })
    const { fn, calls } = script(new AttemptFailure('transient', '429', { retryAfterMs: 10 * 60_000 }))
    const err = await caught(retry(fn, o))
    expect(FluxError.is(err, 'FLUX_INTERRUPTED')).toBe(true)
    expect(calls.n).toBe(1)
  })
})
