import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../cache/atomic-write.js'
import { makeDir, readTextIfPresent } from '../cache/fs-util.js'
import {
  CACHE_LAYOUT,
  type CacheEntry,
  createDiskCache,
  type OriginalStore,
  type PickedStore,
  pickCanonical,
  requestKey,
} from '../cache/index.js'
import { fluxError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { CanonicalRequest, Logger } from '../types.js'

/** Unpicked candidates older than this are removed by `prune`: a week to compare and choose. */
export const CANDIDATE_MAX_AGE_MS = 7 * 24 * 3600 * 1000

/** One image of a directive: 0 is its own, 1 and up the candidates made for it. */
export interface Candidate {
  number: number
  key: string
  /** Where its original is (the local cache). */
  path: string
  width: number
  height: number
  /** The one the directive shows (its pick, or 0 when there is none). */
  shown: boolean
}

/**
 * The request of candidate `n` of the directive whose request is `request` (key `key`): the same
 * request, numbered, with a seed drawn from both (a provider that honours seeds makes another
 * picture; the number keeps keys apart where one does not).
 */
export function candidateRequest(request: CanonicalRequest, key: string, n: number): CanonicalRequest {
  const seed = Number.parseInt(createHash('sha256').update(`${key}#${n}`).digest('hex').slice(0, 8), 16)
  return { ...pickCanonical(request), seed: seed & 0x7fffffff, candidate: n }
}

/** What candidates work with, as one object. */
export interface CandidateCollaborators {
  options: Pick<ResolvedOptions, 'cacheDir'>
  /** The project's store (picks honoured): originals, where a picked candidate is copied. */
  cache: PickedStore
  /** Obtains (generates when missing) one original into `store`, bounded and budgeted like any. */
  obtain: (request: CanonicalRequest, store: OriginalStore) => Promise<CacheEntry>
  logger: Logger
}

/** The local store of candidates: `<cacheDir>/candidates/`, never committed. */
export function candidateStore(cacheDir: string, logger: Logger): OriginalStore {
  return createDiskCache({ dir: join(cacheDir, CACHE_LAYOUT.candidates.dir), logger })
}

/** Candidates of one directive: list, make more, pick one (0 goes back to its own). */
export function createCandidates(c: CandidateCollaborators) {
  let store: OriginalStore | undefined
  const candidates = () => (store ??= candidateStore(c.options.cacheDir, c.logger))

  async function list(request: CanonicalRequest): Promise<Candidate[]> {
    const key = requestKey(request)
    const pick = await c.cache.picks.get(key)
    const found: Candidate[] = []
    const own = await c.cache.unpicked.get(key)
    if (own) found.push(describe(0, key, own, !pick))
    const metas = await candidates().list()
    for (const meta of metas) {
      const n = meta.request.candidate
      if (n === undefined || requestKey(candidateRequest(request, key, n)) !== meta.key) continue
      const entry = await candidates().get(meta.key)
      if (entry) found.push(describe(n, meta.key, entry, pick?.candidate === n))
    }
    // A picked candidate whose local copy is gone is still an original of the project.
    if (pick && !found.some((f) => f.number === pick.candidate)) {
      const entry = await c.cache.unpicked.get(pick.pick)
      if (entry) found.push(describe(pick.candidate, pick.pick, entry, true))
    }
    return found.sort((a, b) => a.number - b.number)
  }

  return {
    list,
    /** Makes `count` more candidates (numbered after the last), each a paid generation. */
    async make(request: CanonicalRequest, count: number): Promise<Candidate[]> {
      const key = requestKey(request)
      const last = Math.max(0, ...(await list(request)).map((f) => f.number))
      // Never committed: a `.gitignore` of its own, before the first file.
      const dir = join(c.options.cacheDir, CACHE_LAYOUT.candidates.dir)
      await makeDir(dir)
      if ((await readTextIfPresent(join(dir, '.gitignore'))) === undefined)
        await writeFileAtomic(
          join(dir, '.gitignore'),
          '# Written by flux-images: candidates stay local until picked.\n*\n',
          dir,
        )
      const numbers = Array.from({ length: count }, (_, i) => last + 1 + i)
      await Promise.all(numbers.map((n) => c.obtain(candidateRequest(request, key, n), candidates())))
      return (await list(request)).filter((f) => numbers.includes(f.number))
    },
    /** Shows candidate `n` for the directive from now on (copied among the originals, recorded in `picks/`); 0 goes back. */
    async pick(request: CanonicalRequest, n: number): Promise<void> {
      const key = requestKey(request)
      if (n === 0) {
        await c.cache.picks.remove(key)
        return
      }
      const chosen = (await list(request)).find((f) => f.number === n)
      if (!chosen) {
        const numbers = (await list(request)).map((f) => f.number).join(', ') || 'none'
        throw fluxError('FLUX_INVALID_OPTION_VALUE', {
          key: 'candidate',
          value: String(n),
          expected: `one of the candidates made for it (${numbers})`,
        })
      }
      const entry = await candidates().get(chosen.key)
      if (entry) {
        const { meta } = entry
        await c.cache.withLock(chosen.key, async () => {
          if (await c.cache.get(chosen.key)) return
          await c.cache.put(
            chosen.key,
            meta.request,
            {
              bytes: await readFile(entry.path),
              format: meta.format,
              width: meta.width,
              height: meta.height,
              ...(meta.revisedPrompt === undefined ? {} : { revisedPrompt: meta.revisedPrompt }),
              created: Date.parse(meta.created) / 1000,
            },
            { provider: meta.provider, placeholder: false },
          )
        })
      }
      await c.cache.picks.set({ key, pick: chosen.key, candidate: n })
    },
  }
}

function describe(number: number, key: string, entry: CacheEntry, shown: boolean): Candidate {
  return { number, key, path: entry.path, width: entry.meta.width, height: entry.meta.height, shown }
}
