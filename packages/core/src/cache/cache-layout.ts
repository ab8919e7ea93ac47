/** The cache directory when the user names none, relative to the project root. */
export const DEFAULT_CACHE_DIR = '.flux-cache'

/**
 * What lives where in a cache directory. Every file name is built from a request key (24 hex
 * characters), never from a prompt. `committed` says whether the folder belongs in git: originals
 * and refusals cost money to make again; everything else is local or can be rebuilt.
 */
export const CACHE_LAYOUT = {
  originals: {
    dir: 'originals',
    committed: true,
    holds: '<key>.<ext>: generated originals; <key>.json: their metadata (request, model, size, hash)',
  },
  moderation: {
    dir: 'moderation',
    committed: true,
    holds: '<key>.json: prompts the gateway refused, so a build does not pay for them again',
  },
  picks: {
    dir: 'picks',
    committed: true,
    holds: '<key>.json: the candidate chosen for a directive (`flux-images pick`), by the key of its image',
  },
  candidates: {
    dir: 'candidates',
    committed: false,
    holds: 'other images made for a directive (`flux-images candidates`), until one is picked',
  },
  placeholders: {
    dir: 'placeholders',
    committed: false,
    holds: '<key>.<ext> + <key>.json: local placeholder images, replaced once a real one is made',
  },
  variants: { dir: 'variants', committed: false, holds: 'optimized variants derived from the originals' },
  // Not committed: a receipt is worth something for the hours BFL keeps a task, on the machine (or
  // CI cache) that submitted it; committed, it would outlive its task and make every clone report
  // a lost job. A fleet shares jobs through the bucket's leases instead.
  jobs: {
    dir: 'jobs',
    committed: false,
    holds: '<key>.json: receipts of submitted jobs (id, polling URL) not stored yet, resumed after a crash',
  },
  locks: { dir: 'locks', committed: false, holds: '<key>.lock: who is generating a key right now' },
  tmp: { dir: 'tmp', committed: false, holds: 'files being written, renamed into place when complete' },
} as const

export type CacheArea = keyof typeof CACHE_LAYOUT

/** The `.gitignore` written inside the cache directory on first use. */
export const CACHE_GITIGNORE = [
  '# Written by flux-images. originals/ and moderation/ are meant to be committed;',
  '# the folders below are local or derived and are rebuilt when missing.',
  ...Object.values(CACHE_LAYOUT)
    .filter((area) => !area.committed)
    .map((area) => `/${area.dir}/`),
  '',
].join('\n')
