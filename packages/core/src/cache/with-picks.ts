import type { OriginalStore } from './original-store.js'
import type { PickStore } from './pick-store.js'

/** A store whose lookups honour picks, with the picks and the store without them. */
export interface PickedStore extends OriginalStore {
  readonly picks: PickStore
  /** The same store, each key its own image (for listing a directive's candidates). */
  readonly unpicked: OriginalStore
}

/**
 * `store`, where reading the image of a key that has a pick reads the picked image instead: every
 * entry point that reads the cache (builds, frozen mode, dev, the shared bucket's read-through)
 * shows the pick. A pick whose image is missing falls back to the key's own.
 */
export function withPicks(store: OriginalStore, picks: PickStore): PickedStore {
  const target = async (key: string) => (await picks.get(key))?.pick
  return {
    ...store,
    picks,
    unpicked: store,
    async get(key, opts) {
      const picked = await target(key)
      return (picked && (await store.get(picked, opts))) || store.get(key, opts)
    },
    async check(key) {
      const picked = await target(key)
      const status = picked ? await store.check(picked) : undefined
      return status === 'cached' || status === 'remote' ? status : store.check(key)
    },
  }
}
