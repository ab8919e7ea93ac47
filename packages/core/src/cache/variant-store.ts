import { readFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Logger } from '../types.js'
import { writeFileAtomic } from './atomic-write.js'
import { CACHE_LAYOUT } from './cache-layout.js'
import { cacheWriteError } from './cache-write-error.js'
import { makeDir, statIfPresent } from './fs-util.js'
import {
  parseRecord,
  VARIANT_FILE_PATTERN,
  VARIANT_MANIFEST_VERSION,
  type VariantManifest,
  VariantManifestSchema,
} from './records.js'

/**
 * Where the optimizer's output lives: variant files under content-hashed names, and one manifest
 * per variant key. Derived data (git-ignored, rebuilt when missing), so a damaged manifest or file
 * reads as absent and is made again, never served.
 */
export interface VariantStore {
  /** The absolute folder of the variant files (what URLs map to). */
  readonly filesDir: string
  /**
   * The manifest stored under the variant `key` if it passes its schema and every file it names is
   * there with its size; else undefined. Synchronous: a small JSON file and a `stat` per variant
   * take microseconds on the main thread, where each would be a thread-pool round trip (every page
   * of a warm build asks for its images again).
   */
  readManifest(key: string): VariantManifest | undefined
  /** Stores a manifest atomically, after its files. Throws FLUX_CACHE_WRITE. */
  writeManifest(manifest: VariantManifest): Promise<void>
  /**
   * Stores a variant file atomically under its content-hashed `name`; a file already there with the
   * same size (same name, same bytes: another build, another prompt) is kept. Throws FLUX_CACHE_WRITE.
   */
  writeFile(name: string, data: Uint8Array): Promise<void>
}

/** The variant store in `<dir>/variants/` (files/ and manifests/). Creates folders on the first write. */
export function createVariantStore({ dir, logger }: { dir: string; logger: Logger }): VariantStore {
  const root = join(resolve(dir), CACHE_LAYOUT.variants.dir)
  const filesDir = join(root, 'files')
  const manifestsDir = join(root, 'manifests')
  const tmpDir = join(resolve(dir), CACHE_LAYOUT.tmp.dir)

  let prepared: Promise<void> | undefined
  const prepare = () => {
    prepared ??= (async () => {
      for (const folder of [filesDir, manifestsDir, tmpDir]) await makeDir(folder)
    })().catch((err: unknown) => {
      prepared = undefined
      throw cacheWriteError(root, err)
    })
    return prepared
  }

  return {
    filesDir,

    readManifest(key) {
      let text: string
      try {
        text = readFileSync(join(manifestsDir, `${key}.json`), 'utf8')
      } catch {
        return undefined
      }
      const manifest = parseRecord(VariantManifestSchema, text, key, VARIANT_MANIFEST_VERSION)
      if (typeof manifest === 'string') {
        logger.debug?.(`[flux] Variant manifest ${key} ${manifest}; making the variants again.`)
        return undefined
      }
      for (const file of manifest.files) {
        if (statIfPresent(join(filesDir, file.file))?.size !== file.bytes) {
          logger.debug?.(`[flux] Variant ${file.file} is missing or damaged; making the variants again.`)
          return undefined
        }
      }
      return manifest
    },

    async writeManifest(manifest) {
      await prepare()
      try {
        const path = join(manifestsDir, `${manifest.key}.json`)
        await writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`, tmpDir)
      } catch (err) {
        throw cacheWriteError(manifestsDir, err)
      }
    },

    async writeFile(name, data) {
      if (!VARIANT_FILE_PATTERN.test(name)) throw new TypeError(`Unexpected variant file name "${name}".`)
      await prepare()
      const path = join(filesDir, name)
      if ((await stat(path).catch(() => undefined))?.size === data.length) return
      try {
        await writeFileAtomic(path, data, tmpDir)
      } catch (err) {
        throw cacheWriteError(filesDir, err)
      }
    },
  }
}
