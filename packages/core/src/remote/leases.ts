import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { fluxError } from '../errors.js'
import { quote } from '../redact.js'
import type { Logger } from '../types.js'
import { LEASE_DEFAULTS } from './remote-config.js'
import type { S3Client } from './s3-client.js'

export interface LeaseOptions {
  client: S3Client
  /**
   * A lease whose object was last written longer ago than this, on the server's clock, is
   * stale: its holder died, and another build takes it over. A live holder renews it every
   * `renewMs`. HTTP dates count whole seconds, so a lease is taken over between `staleMs` and
   * `staleMs + 2 s` after its last renewal.
   * @default 60_000
   */
  staleMs?: number
  /** How often a holder rewrites its lease. @default staleMs / 3 */
  renewMs?: number
  /** The first wait between two looks at a lease held by another build; it doubles up to `pollMaxMs`. @default 250 */
  pollMs?: number
  /** @default 5000 */
  pollMaxMs?: number
  /**
   * The longest wait for a key, then FLUX_REMOTE_LEASE_WAIT: for a holder that keeps renewing, or
   * (with `since`) across holders that take the lease and let it go without a result.
   * @default 1_800_000 (30 min)
   */
  maxWaitMs?: number
  /** Who this build is, in lease bodies and messages. @default `<host name> pid <pid>` */
  holder?: string
  logger?: Logger | undefined
}

/** The prefix of lease objects in the bucket: `leases/<cache key>`. */
export const LEASE_PREFIX = 'leases/'

/** A lease this build holds. Renewed on its own until `release()`. */
export interface Lease {
  readonly key: string
  readonly holder: string
  /** The ETag of the lease object as this build last wrote it. */
  readonly etag: string
  /** Aborted, with FLUX_REMOTE_LEASE_LOST as its reason, if another build takes the lease over. */
  readonly signal: AbortSignal
  /** Rewrites the lease now (it is also rewritten every `renewMs`). */
  renew(): Promise<void>
  /**
   * Writes `job` (a paid job's receipt: JSON, no secret) into the lease now and in every renewal,
   * so a build that takes the lease over from a dead holder resumes that job instead of paying again.
   */
  recordJob(job: unknown): Promise<void>
  /** Stops renewing and deletes the lease if it is still this build's. */
  release(): Promise<void>
}

export type LeaseOutcome =
  /**
   * This build may pay for the key; `tookOverFrom` names a dead holder whose stale lease it took,
   * and `job` is the job that holder had recorded (`recordJob`), if any: already paid for.
   */
  | { status: 'acquired'; lease: Lease; tookOverFrom?: string | undefined; job?: unknown }
  /** Another build held the lease and has let it go: look for its result before trying again. */
  | { status: 'released'; holder: string }

export interface Leases {
  /**
   * Takes the lease on `key` with a conditional create; if another build holds it, waits
   * (polling HEAD with backoff) until it is released or goes stale, and takes a stale one over
   * with a conditional write on its ETag. Of builds that race for one lease, one wins.
   */
  acquire(
    key: string,
    opts?: {
      signal?: AbortSignal | undefined
      /**
       * When the caller began waiting for `key`, if this acquisition follows one that ended
       * `released` without a result: `maxWaitMs` bounds the whole wait, so a lease that is taken
       * and let go again and again cannot keep a build waiting forever. Such a retry first waits
       * `pollMs`.
       */
      since?: number | undefined
    },
  ): Promise<LeaseOutcome>
}

interface SeenLease {
  etag: string
  lastModified: number
  serverTime: number | undefined
  /** As the lease's body says (any writer of the bucket chooses it): messages show it by `shown`. */
  holder: string
  token: string | undefined
  /** The job its holder recorded (`recordJob`), as the body says. */
  job: unknown
  /** When this build first saw this version, on its own clock (for stores without dates). */
  seenAt: number
}

const UNKNOWN_HOLDER = 'an unknown holder'

/** A holder as messages show it: quoted and escaped, so its text cannot forge a log line. */
const shown = (holder: string) => (holder === UNKNOWN_HOLDER ? holder : quote(holder))

/** Leases over conditional writes, in the bucket of `client`. Correct only where `probeConditionalWrites` says so. */
export function createLeases(options: LeaseOptions): Leases {
  const { client, logger } = options
  const staleMs = options.staleMs ?? LEASE_DEFAULTS.staleMs
  const renewMs = options.renewMs ?? Math.max(1, Math.floor(staleMs / 3))
  const pollMs = options.pollMs ?? LEASE_DEFAULTS.pollMs
  const pollMaxMs = options.pollMaxMs ?? LEASE_DEFAULTS.pollMaxMs
  const maxWaitMs = options.maxWaitMs ?? LEASE_DEFAULTS.maxWaitMs
  const holder = options.holder ?? `${hostname()} pid ${process.pid}`

  const isStale = (seen: SeenLease) => {
    const age = Number.isFinite(seen.lastModified)
      ? (seen.serverTime ?? Date.now()) - seen.lastModified
      : Date.now() - seen.seenAt
    // Both dates are floored to whole seconds: a second less is the age it surely has.
    return age - 1000 >= staleMs
  }

  async function read(objectKey: string, signal: AbortSignal | undefined): Promise<SeenLease | undefined> {
    const found = await client.get(objectKey, { signal })
    if (!found) return undefined
    let body: { holder?: unknown; token?: unknown; job?: unknown } = {}
    try {
      body = JSON.parse(found.body.toString('utf8'))
    } catch {
      // Not a lease this code wrote: judged by its age alone.
    }
    return {
      etag: found.etag,
      lastModified: found.lastModified,
      serverTime: found.serverTime,
      holder: typeof body.holder === 'string' ? body.holder : UNKNOWN_HOLDER,
      token: typeof body.token === 'string' ? body.token : undefined,
      job: body.job,
      seenAt: Date.now(),
    }
  }

  return {
    async acquire(key, opts = {}) {
      const { signal } = opts
      const objectKey = `${LEASE_PREFIX}${key}`
      // Tells this acquisition's writes from any other's, this process's included.
      const token = randomUUID()
      // `writes` makes each write's bytes, so its ETag, differ from the one before.
      let writes = 0
      // The job paid for under this lease: written in every version of it from then on.
      const state: { job?: unknown } = {}
      const body = () =>
        JSON.stringify({
          holder,
          token,
          key,
          writes: ++writes,
          staleMs,
          expiresAt: new Date(Date.now() + staleMs).toISOString(),
          ...(state.job !== undefined && { job: state.job }),
        })
      const write = (condition: { ifNoneMatch: '*' } | { ifMatch: string }) =>
        client.put(objectKey, body(), { ...condition, contentType: 'application/json', signal })

      const hold = (etag: string, tookOverFrom?: string): LeaseOutcome => ({
        status: 'acquired',
        lease: holdLease({
          client,
          key,
          objectKey,
          holder,
          token,
          etag,
          renewMs,
          write,
          read,
          logger,
          state,
        }),
        tookOverFrom,
        ...(state.job !== undefined && { job: state.job }),
      })

      const { since } = opts
      if (since !== undefined) await pause(pollMs, signal)
      const created = await write({ ifNoneMatch: '*' })
      if (created) return hold(created.etag)
      const started = since ?? Date.now()
      let wait = pollMs
      // A GET, not a HEAD, after a lost race: the body says whose lease it is (ours, if a
      // retried write had landed the first time).
      let seen = await read(objectKey, signal)
      const waited = Date.now() - started
      if (since !== undefined && waited >= maxWaitMs) {
        const holder = seen ? shown(seen.holder) : UNKNOWN_HOLDER
        throw fluxError('FLUX_REMOTE_LEASE_WAIT', { key, holder, waitedMs: waited, letGo: true })
      }
      for (;;) {
        if (!seen) return { status: 'released', holder: UNKNOWN_HOLDER }
        if (seen.token === token) return hold(seen.etag)
        if (isStale(seen)) {
          // The dead holder's job travels on: should this build die too, the next one resumes it.
          state.job = seen.job
          const taken = await write({ ifMatch: seen.etag })
          if (taken) {
            logger?.warn(
              `[flux] Took over the lease on ${key} from ${shown(seen.holder)}, which stopped renewing it (a build that died): this build generates the image instead.`,
            )
            return hold(taken.etag, seen.holder)
          }
          seen = await read(objectKey, signal)
          continue
        }
        const waited = Date.now() - started
        if (waited >= maxWaitMs) {
          throw fluxError('FLUX_REMOTE_LEASE_WAIT', { key, holder: shown(seen.holder), waitedMs: waited })
        }
        await pause(Math.min(wait, maxWaitMs - waited), signal)
        wait = Math.min(wait * 2, pollMaxMs)
        const now = await client.head(objectKey, { signal })
        if (!now) return { status: 'released', holder: seen.holder }
        seen =
          now.etag === seen.etag
            ? { ...seen, lastModified: now.lastModified, serverTime: now.serverTime }
            : await read(objectKey, signal) // renewed or taken over: by whom?
      }
    },
  }
}

/** Waits `ms`; FLUX_INTERRUPTED when `signal` aborts first. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : undefined).catch(() => {
    throw fluxError('FLUX_INTERRUPTED', {})
  })
}

function holdLease(a: {
  client: S3Client
  key: string
  objectKey: string
  holder: string
  token: string
  etag: string
  renewMs: number
  write: (condition: { ifMatch: string }) => Promise<{ etag: string } | undefined>
  read: (objectKey: string, signal: AbortSignal | undefined) => Promise<SeenLease | undefined>
  logger: Logger | undefined
  state: { job?: unknown }
}): Lease {
  let etag = a.etag
  let released = false
  const lost = new AbortController()
  // Renewals and the release run one at a time, each on the ETag the previous one wrote.
  let queue: Promise<void> = Promise.resolve()
  const serial = (step: () => Promise<void>) => {
    const next = queue.then(step)
    queue = next.catch(() => {})
    return next
  }

  const lose = (reason: string) => {
    clearInterval(timer)
    a.logger?.warn(`[flux] the lease on ${a.key} was lost: ${reason}`)
    lost.abort(fluxError('FLUX_REMOTE_LEASE_LOST', { key: a.key, reason }))
  }

  const renew = () =>
    serial(async () => {
      if (released || lost.signal.aborted) return
      const written = await a.write({ ifMatch: etag })
      if (written) {
        etag = written.etag
        return
      }
      const seen = await a.read(a.objectKey, undefined)
      // Our own renewal may have landed on a try whose answer was lost.
      if (seen?.token === a.token) etag = seen.etag
      else lose(seen ? `${shown(seen.holder)} took it over` : 'it was deleted')
    })

  // Said once per lease: a remote that is down fails every renewal, and the store warns about it too.
  let warned = false
  const timer = setInterval(() => {
    renew().catch((err: unknown) => {
      if (warned) return
      warned = true
      a.logger?.warn(
        `[flux] could not renew the lease on ${a.key}: ${err instanceof Error ? err.message : err}`,
      )
    })
  }, a.renewMs)
  timer.unref()

  return {
    key: a.key,
    holder: a.holder,
    get etag() {
      return etag
    },
    signal: lost.signal,
    renew,
    recordJob(job) {
      a.state.job = job
      return renew()
    },
    release: () =>
      serial(async () => {
        if (released) return
        released = true
        clearInterval(timer)
        if (lost.signal.aborted) return
        await a.client.delete(a.objectKey, { ifMatch: etag })
      }),
  }
}
