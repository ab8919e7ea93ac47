import { readdir, readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'

/** One text file of a build's output: its absolute path and its content. */
export interface OutputFile {
  path: string
  text: string
}

/** Files a browser, a crawler or a server reads as text, and so where an image URL can be written. */
const TEXT_EXTENSIONS = new Set([
  '.html',
  '.htm',
  '.xml',
  '.rss',
  '.atom',
  '.xsl',
  '.svg',
  '.css',
  '.js',
  '.mjs',
  '.cjs',
  '.json',
  '.jsonld',
  '.webmanifest',
  '.txt',
  '.md',
])

/**
 * Hands each text file under `outDir` to `visit`, one at a time, sorted by path (a missing folder
 * has none): the output is read once, and never held whole in memory.
 */
export async function readOutput(
  outDir: string,
  visit: (file: OutputFile) => void | Promise<void>,
): Promise<void> {
  const entries = await readdir(outDir, { recursive: true, withFileTypes: true }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return []
      throw err
    },
  )
  const paths = entries
    .filter((e) => e.isFile() && TEXT_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .sort()
  for (const path of paths) await visit({ path, text: await readFile(path, 'utf8') })
}
