import type { OriginalStore, PickedStore } from '../cache/index.js'
import { FluxError } from '../errors.js'
import type { CanonicalRequest } from '../types.js'
import { CANDIDATE_MAX_AGE_MS } from './candidates.js'
import type { ScanReport } from './scan-report.js'

/**
 * Above this many entries to remove, `prune` asks for confirmation (as it does for every entry):
 * after editing a few prompts a prune removes a handful, so dozens at once point to a scan that
 * missed files.
 */
export const PRUNE_CONFIRM_ABOVE = 10

export interface PruneOptions {
  /** List what would be removed, remove nothing. @default false */
  dryRun?: boolean
  /** Remove even when that is every entry, or more than PRUNE_CONFIRM_ABOVE (the CLI's `--yes`). @default false */
  confirmed?: boolean
}

export interface PruneResult {
  /** The keys removed (or, in a dry run, that would be). */
  removed: string[]
  /** Candidates older than a week, removed (or that would be): a picked one lives on among the originals. */
  candidates: string[]
  /** The request each listed key was made for, from its metadata (a key without metadata has none). */
  requests: ReadonlyMap<string, CanonicalRequest>
  /** Set when nothing was removed for want of confirmation: the keys that would go, of how many. */
  unconfirmed?: { wouldRemove: string[]; total: number }
}

/**
 * Removes the cache entries (originals and placeholders) no directive of a fresh scan references.
 * Removes nothing, and returns `unconfirmed`, when that would be every entry or more than
 * PRUNE_CONFIRM_ABOVE of them, unless `confirmed`; throws when some file could not be scanned.
 */
export async function pruneCache(
  {
    scan,
    cache,
    candidates,
    now = Date.now(),
  }: { scan: () => Promise<ScanReport>; cache: PickedStore; candidates?: OriginalStore; now?: number },
  { dryRun = false, confirmed = false }: PruneOptions = {},
): Promise<PruneResult> {
  const report = await scan()
  if (report.errors.some((e) => e.code === 'FLUX_READ_FAILED' || e.code === 'FLUX_FRONTMATTER')) {
    // A file we could not read may reference entries: deleting them could destroy paid images.
    throw new FluxError('FLUX_READ_FAILED', 'Some files could not be scanned, so nothing was pruned.', {
      hint: `Fix these first:\n${report.errors.map((e) => `    ${e.message}`).join('\n')}`,
    })
  }
  const used = new Set(report.items.map((item) => item.key))
  // A directive's picked image is as used as its own.
  for (const pick of await cache.picks.list()) if (used.has(pick.key)) used.add(pick.pick)
  const metas = [...(await cache.list()), ...(await cache.listPlaceholders())]
  const keys = new Set(metas.map((m) => m.key))
  const removed = [...keys].filter((key) => !used.has(key)).sort()
  const requests = new Map(metas.filter((m) => !used.has(m.key)).map((m) => [m.key, m.request]))
  // A typo in include/exclude/root makes the scan find nothing, and every paid original looks unused.
  const sweeping =
    removed.length > 0 && (removed.length === keys.size || removed.length > PRUNE_CONFIRM_ABOVE)
  const expired = ((await candidates?.list()) ?? [])
    .filter((meta) => Date.parse(meta.created) < now - CANDIDATE_MAX_AGE_MS)
    .map((meta) => meta.key)
  if (!dryRun) for (const key of expired) await candidates?.remove(key)
  if (sweeping && !confirmed && !dryRun) {
    return {
      removed: [],
      requests,
      candidates: expired,
      unconfirmed: { wouldRemove: removed, total: keys.size },
    }
  }
  if (!dryRun) for (const key of removed) await cache.remove(key)
  return { removed, requests, candidates: expired }
}
