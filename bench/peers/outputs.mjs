// What a contender wrote, read back after its timed run: every image file under a folder, named
// by (source, width, format) from the file's own pixels and its name's source prefix, with its
// sha256 and size. Compares two such sets.
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import sharp from 'sharp'

const IMAGE = /\.(avif|webp|png|jpe?g)$/

/**
 * `Map<"source width format", { sha256, bytes, path }>` of the image files under `dir` (recursive)
 * whose name starts with a source's name. Throws on two files for one key.
 */
export async function readOutputs(dir, sourceNames) {
  const names = [...sourceNames].sort((a, b) => b.length - a.length)
  const out = new Map()
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  for (const entry of entries) {
    if (!entry.isFile() || !IMAGE.test(entry.name)) continue
    const source = names.find(
      (n) => entry.name.startsWith(n) && !/[0-9a-z]/i.test(entry.name[n.length] ?? ''),
    )
    if (!source) continue
    const path = join(entry.parentPath, entry.name)
    const data = await readFile(path)
    const { width, format } = await sharp(data).metadata()
    const name = format === 'heif' ? 'avif' : format
    const key = `${source} ${width} ${name}`
    if (out.has(key)) throw new Error(`two outputs for ${key}: ${basename(out.get(key).path)}, ${entry.name}`)
    out.set(key, { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length, path })
  }
  return out
}

/** Keys in both with equal hashes, keys whose bytes differ, and keys only one side has. */
export function compareOutputs(a, b) {
  const same = []
  const differ = []
  const onlyA = [...a.keys()].filter((k) => !b.has(k))
  const onlyB = [...b.keys()].filter((k) => !a.has(k))
  for (const [key, file] of a) {
    const other = b.get(key)
    if (!other) continue
    if (other.sha256 === file.sha256) same.push(key)
    else differ.push(key)
  }
  return {
    same,
    differ,
    onlyA,
    onlyB,
    equal: differ.length === 0 && onlyA.length === 0 && onlyB.length === 0,
  }
}
