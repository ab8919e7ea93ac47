// Astro's content store outlives a build or dev server: it writes `data-store.json` (through a
// `.tmp` file) on a 500 ms debounce timer, and a build that fails after the content sync started
// (a schema error, say) leaves that timer running. A site deleted before it fires turns the write
// into an ENOENT no one awaits: an unhandled error that fails the run at random. Astro has no
// public way to wait for it, so this records every store Astro opens in this process, and
// `settleContentStores()` writes what each still holds now and waits for it.
import { rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

interface ContentStore {
  waitUntilSaveComplete(): Promise<void>
}
type OpenStore = (...args: never[]) => Promise<ContentStore>
interface StoreClass {
  fromFile: OpenStore
  fromDir: OpenStore
}

// The module Astro's build, sync and dev import (not in astro's exports: reached by its path).
const ASTRO = dirname(createRequire(import.meta.url).resolve('astro/package.json'))
const MODULE = pathToFileURL(join(ASTRO, 'dist', 'content', 'mutable-data-store.js')).href
const { MutableDataStore } = (await import(MODULE)) as { MutableDataStore: StoreClass }

// On globalThis: a test file that loads this helper again in the same process shares the list.
const OPENED = Symbol.for('flux-images.test.astro-content-stores')
const global = globalThis as { [OPENED]?: ContentStore[] }
if (!global[OPENED]) {
  const opened: ContentStore[] = []
  global[OPENED] = opened
  for (const name of ['fromFile', 'fromDir'] as const) {
    const open = MutableDataStore[name]
    MutableDataStore[name] = async (...args) => {
      const store = await open.apply(MutableDataStore, args)
      opened.push(store)
      return store
    }
  }
}
const opened = global[OPENED]

/** Writes what every content store Astro opened in this process still holds, and waits for it. */
export async function settleContentStores(): Promise<void> {
  await Promise.all(opened.splice(0).map((store) => store.waitUntilSaveComplete()))
}

/**
 * Removes temporary Astro sites once no content store writes to them any more. Retries: a dev
 * server's image work may still be finishing files it started.
 */
export async function removeSites(dirs: readonly string[]): Promise<void> {
  await settleContentStores()
  await Promise.all(
    dirs.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })),
  )
}
