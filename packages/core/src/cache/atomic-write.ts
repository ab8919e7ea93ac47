import { randomBytes } from 'node:crypto'
import { type FileHandle, lstat, open, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/** What `writeTemp` names its files: the only names a cleanup of a temp folder ever removes. */
export const TEMP_FILE_NAME = /^[0-9a-f]{16}\.tmp$/

/**
 * Writes `data` to a fresh file in `tmpDir` (exclusive create, fsync) and returns its path.
 * The temp dir must be on the same filesystem as the final place, so that `rename` is atomic.
 * On failure the partial temp file is removed before the error is rethrown.
 */
export async function writeTemp(tmpDir: string, data: Uint8Array | string): Promise<string> {
  // Keep in step with TEMP_FILE_NAME.
  const path = join(tmpDir, `${randomBytes(8).toString('hex')}.tmp`)
  let handle: FileHandle | undefined
  try {
    handle = await open(path, 'wx', 0o644)
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
    handle = undefined
    return path
  } catch (err) {
    await handle?.close().catch(() => {})
    await discardTemp(path)
    throw err
  }
}

/** Moves a temp file over `target` atomically; removes the temp file if the rename fails. */
export async function commitTemp(tmpPath: string, target: string): Promise<void> {
  try {
    await rename(tmpPath, target)
  } catch (err) {
    await discardTemp(tmpPath)
    throw err
  }
}

/** Removes a temp file, ignoring a file that is already gone. */
export async function discardTemp(path: string | undefined): Promise<void> {
  if (path === undefined) return
  await unlink(path).catch(() => {})
}

/** `writeTemp` then `commitTemp`: readers see the old file or the new one, never a partial one. */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string,
  tmpDir: string,
): Promise<void> {
  await commitTemp(await writeTemp(tmpDir, data), target)
}

/** Flushes a directory's entries (the renames) to disk. Best effort: some platforms refuse it. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // Windows cannot open a directory; durability there rests on the filesystem.
  }
}

/** What `removeLeftovers` did. */
export interface LeftoverSweep {
  /** Files removed. */
  removed: number
  /** Set when `dir` is a symbolic link, so nothing in it was touched. */
  skipped?: string
}

/**
 * Removes what interrupted writes left in `dir`: regular files whose name matches `name` and that
 * were last modified before `olderThanMs` (epoch ms). Never reads a file, never follows a link:
 * when `dir` is a symbolic link nothing is removed, and an entry that is a link, a folder or
 * anything but a regular file is left alone. A missing or unreadable `dir` removes nothing.
 */
export async function removeLeftovers(
  dir: string,
  name: RegExp,
  olderThanMs: number,
): Promise<LeftoverSweep> {
  const self = await lstat(dir).catch(() => undefined)
  if (self?.isSymbolicLink()) return { removed: 0, skipped: 'it is a symbolic link' }
  if (!self?.isDirectory()) return { removed: 0 }
  let removed = 0
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile() || !name.test(entry.name)) continue
    const path = join(dir, entry.name)
    // lstat, not stat: a link swapped in since readdir is judged as a link and left alone.
    const found = await lstat(path).catch(() => undefined)
    if (!found?.isFile() || found.mtimeMs >= olderThanMs) continue
    if (
      await unlink(path).then(
        () => true,
        () => false,
      )
    )
      removed++
  }
  return { removed }
}
