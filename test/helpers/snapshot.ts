import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** Every file under `dir` (relative path) with what a rewrite would change: inode, mtime, size. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const { ino, mtimeMs, size } = await stat(path)
    files[path.slice(dir.length + 1)] = `${ino} ${mtimeMs} ${size}`
  }
  return files
}
