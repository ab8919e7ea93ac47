import { creditsToUsd } from '../bfl-models.js'
import type { CacheEntry, OriginalStore, ReceiptStore, RefusalStore } from '../cache/index.js'
import { FluxError, fluxError } from '../errors.js'
import type { FluxMode } from '../options.js'
import type { CanonicalRequest, JobReceipt, Provider, SourceLocation } from '../types.js'
import type { Budget } from './budget.js'
import type { RequestSlots } from './request-slots.js'

/** Failures after which a job's receipt is of no more use. */
const JOB_OVER = new Set([
  'FLUX_MODERATED',
  'FLUX_JOB_FAILED',
  'FLUX_JOB_LOST',
  'FLUX_BAD_IMAGE',
  'FLUX_DOWNLOAD',
])

/** `placeholder`: a local placeholder is served, made now or found in the cache. */
export type Outcome = 'cached' | 'generated' | 'placeholder'

export interface Obtained {
  entry: CacheEntry
  outcome: Outcome
}

/** What obtaining an original works with, as one object (tests pass fakes). */
export interface ObtainCollaborators {
  cache: OriginalStore
  /** The provider, made on first use: a run with everything cached makes none. */
  provider: () => Provider
  slots: RequestSlots
  budget: Budget
  /** What a request may cost in USD, charged to the budget before it is sent. @default 0 */
  estimate?: (request: CanonicalRequest) => number
  mode: FluxMode
  /** True when the images made are local placeholders (stored apart, not charged, not locked). */
  placeholder: boolean
  /** Why the provider cannot make `request` (reference images it does not take), checked before anything is spent. */
  refuse?: (request: CanonicalRequest) => FluxError | undefined
  /** With `placeholder`: serving one is an error (FLUX_REQUIRE_REAL), giving `placeholderReason`. */
  requireReal?: boolean
  /** Why the images made are placeholders (`no FLUX_API_KEY set`), for messages. */
  placeholderReason?: string
  /**
   * Receipts of submitted jobs (BFL): written before a job is first polled, resumed instead of
   * submitting again. Absent: no job survives the process (the gateway has none).
   */
  receipts?: ReceiptStore
  /** A paid generation starts (charged, about to be requested), with where its directives are written. */
  onGenerate?: (key: string, request: CanonicalRequest, locations: readonly SourceLocation[]) => void
}

export interface ObtainContext {
  signal?: AbortSignal | undefined
  /** Ask again for a prompt the gateway refused before (its refusal is otherwise remembered). */
  force?: boolean
  onStart?: () => void
  onRetry?: () => void
  /** Where the directives asking for it are written (for `onGenerate`). */
  locations?: readonly SourceLocation[]
  /** An auth or quota failure: every further request would fail the same way. */
  onFatal?: (err: FluxError) => void
}

export type ObtainOriginal = (
  key: string,
  request: CanonicalRequest,
  ctx?: ObtainContext,
) => Promise<Obtained>

/** `obtainOriginal` over fixed collaborators, where identical keys in flight share one promise. */
export function createObtainOriginal(collaborators: ObtainCollaborators): ObtainOriginal {
  const inFlight = new Map<string, Promise<Obtained>>()
  return (key, request, ctx = {}) => {
    const running = inFlight.get(key)
    if (running) return running
    const task = obtainOriginal(collaborators, key, request, ctx).finally(() => inFlight.delete(key))
    inFlight.set(key, task)
    return task
  }
}

/**
 * One original: read from the cache; else (never in frozen mode) check its remembered refusal,
 * then, holding its lock, read again, charge the budget, request it in a slot, store it, and
 * remember a refusal.
 */
export async function obtainOriginal(
  c: ObtainCollaborators,
  key: string,
  request: CanonicalRequest,
  ctx: ObtainContext,
): Promise<Obtained> {
  const hit = await c.cache.get(key)
  if (hit) return { entry: hit, outcome: 'cached' }
  if (c.mode === 'frozen') throw fluxError('FLUX_MISSING_FROZEN', { list: [request.prompt] })
  if (c.placeholder && c.requireReal) {
    throw fluxError('FLUX_REQUIRE_REAL', {
      images: 1,
      reason: c.placeholderReason ?? 'placeholder provider',
      list: [JSON.stringify(request.prompt)],
    })
  }
  const local = c.placeholder ? await c.cache.get(key, { placeholder: true }) : undefined
  if (local) return { entry: local, outcome: 'placeholder' }
  const refused = c.placeholder ? undefined : c.refuse?.(request)
  if (refused) throw refused
  return c.slots.stage(async () => {
    ctx.signal?.throwIfAborted()
    const provider = c.provider()
    if (!c.placeholder) await checkRefusal(c.cache.refusals, key, ctx.force ?? false)
    const generate = () => generateOnce(c, provider, key, request, ctx)
    // Placeholders are local and deterministic: no cross-process lock needed.
    return c.placeholder ? generate() : c.cache.withLock(key, generate, { signal: ctx.signal })
  })
}

/** Throws FLUX_MODERATED for a remembered refusal; with `force`, forgets it instead. */
async function checkRefusal(refusals: RefusalStore, key: string, force: boolean): Promise<void> {
  if (force) {
    await refusals.remove(key)
    return
  }
  const refused = await refusals.get(key)
  if (refused)
    throw fluxError('FLUX_MODERATED', { detail: `${refused.detail} (remembered from an earlier run)` })
}

/** Under the key's lock: another process may have stored it meanwhile; else pay for it once. */
async function generateOnce(
  c: ObtainCollaborators,
  provider: Provider,
  key: string,
  request: CanonicalRequest,
  ctx: ObtainContext,
): Promise<Obtained> {
  const again = await c.cache.get(key, { placeholder: c.placeholder })
  if (again) return { entry: again, outcome: again.placeholder ? 'placeholder' : 'cached' }
  const receipts = c.placeholder ? undefined : c.receipts
  // A job submitted by an earlier run (paid then): polled, never submitted or charged again.
  const receipt = await receipts?.get(key)
  let charge: ReturnType<Budget['charge']> | undefined
  if (!c.placeholder && !receipt) {
    charge = c.budget.charge(c.estimate?.(request))
    c.onGenerate?.(key, request, ctx.locations ?? [])
  }
  // Under the key's lock, before the first poll: a crash from here on resumes, never pays twice.
  const onSubmitted = async (r: JobReceipt) => {
    if (r.credits !== undefined) charge?.settle(creditsToUsd(r.credits))
    await receipts?.put(key, provider.name, r)
  }
  try {
    const image = await c.slots.request(provider, request, {
      signal: ctx.signal,
      ...(ctx.onStart && { onStart: ctx.onStart }),
      ...(ctx.onRetry && { onRetry: ctx.onRetry }),
      // Said before the slot is released, so no queued request starts after it.
      onError: (err) => {
        if (FluxError.is(err, 'FLUX_AUTH') || FluxError.is(err, 'FLUX_QUOTA')) ctx.onFatal?.(err)
      },
      ...(receipt && { receipt }),
      onSubmitted,
    })
    const entry = await c.cache.put(key, request, image, {
      provider: provider.name,
      placeholder: c.placeholder,
    })
    await receipts?.remove(key)
    return { entry, outcome: c.placeholder ? 'placeholder' : 'generated' }
  } catch (err) {
    if (FluxError.is(err, 'FLUX_MODERATED')) await c.cache.refusals.put(key, request, err.detail)
    // The job is over (refused, failed, gone): its receipt would only be polled to the same end.
    if (receipts && FluxError.is(err) && JOB_OVER.has(err.code)) await receipts.remove(key)
    throw err
  }
}
