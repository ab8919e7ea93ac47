import { randomBytes } from 'node:crypto'
import { type FileHandle, open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Writes `data` to a fresh file in `tmpDir` (exclusive create, fsync) and returns its path.
 * The temp dir must be on the same filesystem as the final place, so that `rename` is atomic.
 * On failure the partial temp file is removed before the error is rethrown.
 */
export async function writeTemp(tmpDir: string, data: Uint8Array | string): Promise<string> {
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
