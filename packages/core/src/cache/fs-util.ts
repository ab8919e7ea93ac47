import { type Stats, statSync } from 'node:fs'
import { mkdir, readFile, unlink } from 'node:fs/promises'

/** The `code` of a Node system error (ENOENT, EEXIST...), if it has one. */
export function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined
}

export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The file's text, or undefined when it does not exist. */
export async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    const code = codeOf(err)
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
}

/** The file's stats (synchronously: one call, no thread-pool trip), or undefined when it cannot be read. */
export function statIfPresent(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/** True when nothing is at `path` (one synchronous stat, no error object); false on any other answer. */
export function isAbsent(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) === undefined
  } catch {
    return false
  }
}

/** True when the file existed and was removed. */
export async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (err) {
    const code = codeOf(err)
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    throw err
  }
}

/**
 * `mkdir -p` that reports the real cause of a failure: Node's recursive mkdir says ENOENT where
 * the disk is read-only (EROFS) or full, so the step that failed is tried again on its own.
 */
export async function makeDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true })
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw err
    const step = (err as NodeJS.ErrnoException).path ?? path
    try {
      await mkdir(step)
    } catch (real) {
      const code = codeOf(real)
      if (code !== 'ENOENT' && code !== 'EEXIST') throw real
      throw err
    }
    // Someone removed and made the folder again meanwhile: one more try.
    await mkdir(path, { recursive: true })
  }
}
