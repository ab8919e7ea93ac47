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

/** Every text file under `outDir`, read once, sorted by path (a missing folder has none). */
export async function readOutput(outDir: string): Promise<OutputFile[]> {
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
  return Promise.all(paths.map(async (path) => ({ path, text: await readFile(path, 'utf8') })))
}

/**
 * The names among `names` that some output file references. Variant and card names are
 * content-hashed ASCII (`<slug>-<hash>-<width>.<ext>`), so a name found whole, in whatever URL
 * (`/_flux/`, the site's base, an absolute URL, JSON), is a reference: each file is read once,
 * token by token, whatever the number of names.
 */
export function referencedNames(files: readonly OutputFile[], names: ReadonlySet<string>): Set<string> {
  const extensions = new Set([...names].map((name) => extname(name).slice(1)))
  if (extensions.size === 0) return new Set()
  const alternatives = [...extensions].map((ext) => ext.replace(/[^\w]/g, '\\$&')).join('|')
  // A token starts where a name can (never mid-word), so the scan stays linear in the text.
  const token = new RegExp(`(?<![\\w-])[\\w-]+\\.(?:${alternatives})(?![\\w-])`, 'g')
  const found = new Set<string>()
  for (const { text } of files) {
    for (const [name] of text.matchAll(token)) if (names.has(name)) found.add(name)
  }
  return found
}
