import { join } from 'node:path'
import * as v from 'valibot'
import { fluxError } from '../errors.js'
import type { JobReceipt } from '../types.js'
import { writeFileAtomic } from './atomic-write.js'
import { CACHE_LAYOUT } from './cache-layout.js'
import { cacheWriteError } from './cache-write-error.js'
import { makeDir, readTextIfPresent, unlinkIfPresent } from './fs-util.js'
import type { RemoteSide } from './original-store.js'
import { assertKey, REQUEST_KEY_PATTERN } from './request-key.js'

/** A receipt as a lease carries it: the fields of a job, and the provider that paid for it. */
const JobReceiptSchema = v.object({
  provider: v.string(),
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  pollingUrl: v.pipe(v.string(), v.url()),
  host: v.string(),
  model: v.string(),
  credits: v.optional(v.pipe(v.number(), v.minValue(0))),
  submitted: v.string(),
})

/** `jobs/<key>.json`: an accepted submit whose image is not stored yet. Holds no secret (no key, no image URL). */
const ReceiptRecordSchema = v.object({
  version: v.literal(1),
  key: v.pipe(v.string(), v.regex(REQUEST_KEY_PATTERN)),
  provider: v.string(),
  id: v.pipe(v.string(), v.minLength(1)),
  pollingUrl: v.pipe(v.string(), v.url()),
  host: v.string(),
  model: v.string(),
  credits: v.optional(v.pipe(v.number(), v.minValue(0))),
  submitted: v.string(),
})

type RemoteJobs = NonNullable<RemoteSide['jobs']>

/** The receipts of a cache directory's jobs in progress (see CACHE_LAYOUT.jobs). */
export interface ReceiptStore {
  /**
   * The receipt of `key`, or undefined when there is none. A file that does not read as a
   * receipt is FLUX_CACHE_CORRUPT: ignoring it could pay for the same image twice.
   */
  get(key: string): Promise<JobReceipt | undefined>
  /** Writes it atomically: after a crash it is there whole, or not at all. */
  put(key: string, provider: string, receipt: JobReceipt): Promise<void>
  /** Forgets it (the image is stored, or the job ended); true when there was one. */
  remove(key: string): Promise<boolean>
}

export function createReceiptStore({ dir }: { dir: string }): ReceiptStore {
  const jobsDir = join(dir, CACHE_LAYOUT.jobs.dir)
  const tmpDir = join(dir, CACHE_LAYOUT.tmp.dir)
  const path = (key: string) => join(jobsDir, `${assertKey(key)}.json`)
  return {
    async get(key) {
      const text = await readTextIfPresent(path(key))
      if (text === undefined) return undefined
      let parsed: v.SafeParseResult<typeof ReceiptRecordSchema> | undefined
      try {
        parsed = v.safeParse(ReceiptRecordSchema, JSON.parse(text))
      } catch {
        parsed = undefined
      }
      if (!parsed?.success || parsed.output.key !== key) {
        throw fluxError(
          'FLUX_CACHE_CORRUPT',
          { key, reason: `its job receipt ${path(key)} does not read as one` },
          {
            hint: `Remove ${path(key)} to submit the image again (paid again), or restore the file.`,
          },
        )
      }
      const { version: _, key: __, provider: ___, ...receipt } = parsed.output
      return receipt
    },
    async put(key, provider, receipt) {
      const record = {
        version: 1,
        key,
        provider,
        id: receipt.id,
        pollingUrl: receipt.pollingUrl,
        host: receipt.host,
        model: receipt.model,
        ...(receipt.credits !== undefined && { credits: receipt.credits }),
        submitted: receipt.submitted,
      }
      try {
        await Promise.all([makeDir(jobsDir), makeDir(tmpDir)])
        await writeFileAtomic(path(key), `${JSON.stringify(record, null, 2)}\n`, tmpDir)
      } catch (err) {
        throw cacheWriteError(dir, err)
      }
    },
    remove: (key) => unlinkIfPresent(path(key)),
  }
}

/**
 * `store`, with the jobs of a shared bucket's leases (`RemoteSide.jobs`): each receipt written is
 * also written into the key's lease, and a key with no receipt here gets the one a dead build
 * left in the lease this build took over (kept here too). A lease's job that does not read as a
 * receipt is ignored (the bucket is shared: anything may be in it); the provider checks its
 * polling URL before sending the key there.
 */
export function withLeaseJobs(store: ReceiptStore, jobs: RemoteJobs | undefined): ReceiptStore {
  if (!jobs) return store
  return {
    async get(key) {
      const own = await store.get(key)
      if (own) return own
      const parsed = v.safeParse(JobReceiptSchema, jobs.inherited(key))
      if (!parsed.success) return undefined
      await store.put(key, parsed.output.provider, parsed.output)
      const { provider: _, ...receipt } = parsed.output
      return receipt
    },
    async put(key, provider, receipt) {
      await store.put(key, provider, receipt)
      await jobs.record(key, { provider, ...receipt })
    },
    remove: (key) => store.remove(key),
  }
}
