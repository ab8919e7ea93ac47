// Copies of the example sites under bench/.tmp, built as their users build them.
//
//   await copySite(EXAMPLES.astroBlog, dest)      the site's sources (no dist, .astro, node_modules),
//                                                 its node_modules linked, dest/.flux-cache kept
//   await cacheSnapshot(dir)                      { relative path: 'inode mtime size' } of every file
//   photoSource(photos, createImageMaker())       a mock `images` source: a photo-like PNG of any size
//
// The copies sit inside the repository (git-ignored) and link the example's own node_modules, so
// they resolve the same astro, vite and @flux-images packages as the examples do.
import { createHash } from 'node:crypto'
import { cp, mkdir, readdir, rm, stat, symlink } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
/** @type {import('sharp').default} */
const sharp = require('sharp')

export const EXAMPLES = {
  astroBlog: fileURLToPath(new URL('../../examples/astro-blog', import.meta.url)),
  viteApp: fileURLToPath(new URL('../../examples/vite-app', import.meta.url)),
}
const SKIP = new Set(['node_modules', 'dist', '.astro', '.flux-cache', 'flux-report.html'])

/** A fresh copy of a site's sources at `dest`, keeping `dest/.flux-cache` (the point of a warm build). */
export async function copySite(src, dest) {
  await mkdir(dest, { recursive: true })
  for (const name of await readdir(dest)) {
    if (name !== '.flux-cache') await rm(join(dest, name), { recursive: true, force: true })
  }
  for (const name of await readdir(src)) {
    if (!SKIP.has(name)) await cp(join(src, name), join(dest, name), { recursive: true })
  }
  await symlink(join(src, 'node_modules'), join(dest, 'node_modules'), 'dir')
  return dest
}

/** Every file under `dir` with what a rewrite would change (inode, mtime, size); {} if absent. */
export async function cacheSnapshot(dir) {
  const files = {}
  let entries = []
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true })
  } catch {
    return files
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const { ino, mtimeMs, size } = await stat(path)
    files[path.slice(dir.length + 1)] = `${ino} ${mtimeMs} ${size}`
  }
  return files
}

/** What changed between two snapshots: added, removed and rewritten files. */
export function snapshotChanges(before, after) {
  const changed = []
  for (const [file, sig] of Object.entries(after)) if (before[file] !== sig) changed.push(file)
  for (const file of Object.keys(before)) if (!(file in after)) changed.push(file)
  return changed
}

/**
 * A mock `images` source for prompts the benchmark did not make pictures for: one of `photos`
 * (chosen by the prompt's hash), cropped to the requested size, as a PNG like a generator's.
 * Made on first request and memoised.
 */
export function photoSource(photos) {
  const made = new Map()
  return {
    make({ prompt, size }) {
      const key = `${prompt}\n${size}`
      if (!made.has(key)) {
        const [width, height] = size.split('x').map(Number)
        const pick = photos[createHash('sha256').update(prompt).digest().readUInt32BE(0) % photos.length]
        made.set(
          key,
          sharp(pick.bytes)
            .resize(width, height, { fit: 'cover' })
            .png({ compressionLevel: 6, adaptiveFiltering: true })
            .toBuffer()
            .then((bytes) => ({ bytes, width, height })),
        )
      }
      return made.get(key)
    },
  }
}
