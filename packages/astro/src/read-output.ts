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

/**
 * Finds the names of `names` that a file of the output references (for every file of the
 * output: one `referenced` set). Variant and card names are content-hashed ASCII
 * (`<slug>-<hash>-<width>.<ext>`), so a name found whole, in whatever URL (`/_flux/`, the site's
 * base, an absolute URL, JSON), is a reference; the text is read once, token by token, whatever
 * the number of names.
 */
export function createReferences(names: ReadonlySet<string>): {
  referenced: Set<string>
  read: (text: string) => void
} {
  const referenced = new Set<string>()
  const extensions = [...new Set([...names].map((name) => extname(name).slice(1)))]
  const alternatives = extensions.map((ext) => ext.replace(/[^\w]/g, '\\$&')).join('|')
  // A token starts where a name can (never mid-word), so the scan stays linear in the text.
  const token = new RegExp(`(?<![\\w-])[\\w-]+\\.(?:${alternatives})(?![\\w-])`, 'g')
  const read = (text: string) => {
    if (extensions.length === 0) return
    for (const [name] of text.matchAll(token)) if (names.has(name)) referenced.add(name)
  }
  return { referenced, read }
}
