import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative, sep } from 'node:path'
import { scanSource } from '../directives/index.js'
import { planRequests } from '../engine/plan.js'
import type { RequestDefaults } from '../engine/resolve-request.js'
import type { ScanReport } from '../engine/scan-report.js'
import type { ResolvedOptions } from '../options.js'
import type { CanonicalRequest, Directive, SourceLocation } from '../types.js'

/** One image a project file writes: its request, and each directive that writes it there. */
export interface WrittenImage {
  request: CanonicalRequest
  /** The file (absolute path) and the directive as last read from it. */
  written: Array<{ path: string; directive: Directive }>
}

/**
 * The keys of the images that the project's files write, for the dev server: it pays only for
 * those, never for a `flux:` id that a page or a script made up. Known from the project's scan,
 * then kept current: a file the host reports as changed, and a file that asks for an image it was
 * not known to write, are read and scanned again before the answer.
 */
export interface WrittenDirectives {
  /** Whether a project file writes the image `key`; `file` is the source asking for it, when known. */
  has(key: string, file?: string): Promise<boolean>
  /** A file was added, changed or removed (the host's watcher): read again when next needed. */
  changed(file: string): void
  /** Where the project writes the image `key`, as last read. */
  where(key: string): SourceLocation[]
  /** The image `key` as the project writes it (files reported changed read again first), or undefined. */
  lookup(key: string): Promise<WrittenImage | undefined>
}

export function writtenDirectives({
  options,
  scan,
}: {
  options: Pick<ResolvedOptions, 'root' | 'cacheDir'> & RequestDefaults
  /** The project's scan, taken on first need. */
  scan: () => Promise<ScanReport>
}): WrittenDirectives {
  // Per file (absolute path), the keys its directives resolve to, with the directives that write each.
  const byFile = new Map<string, Map<string, { request: CanonicalRequest; directives: Directive[] }>>()
  const stale = new Set<string>()
  let scanned: Promise<void> | undefined

  const known = (key: string) => [...byFile.values()].some((keys) => keys.has(key))
  const index = (directives: readonly Directive[]) => {
    for (const { key, request, directives: written } of planRequests(directives, options).items)
      for (const directive of written) {
        const path = join(options.root, directive.location.file)
        const keys = byFile.get(path) ?? new Map()
        const found = keys.get(key) ?? { request, directives: [] }
        found.directives.push(directive)
        byFile.set(path, keys.set(key, found))
      }
  }

  /** A file of the project's own: inside the root, outside dependencies and the cache. */
  const ownFile = (file: string) => {
    const path = isAbsolute(file) ? file : join(options.root, file)
    const rest = relative(options.root, path)
    const inside = rest !== '' && !rest.startsWith('..') && !isAbsolute(rest)
    const cache = relative(options.cacheDir, path)
    const inCache = !cache.startsWith('..') && !isAbsolute(cache)
    return inside && !inCache && !rest.split(sep).includes('node_modules') ? path : undefined
  }

  async function reread(path: string): Promise<void> {
    const text = await readFile(path, 'utf8').catch(() => undefined)
    if (text === undefined) {
      byFile.delete(path)
      return
    }
    byFile.delete(path)
    index(scanSource(relative(options.root, path).split(sep).join('/'), text).directives)
  }

  /** Reads again the files reported changed (and `asking`), after the first scan. */
  async function current(asking?: string): Promise<void> {
    scanned ??= scan().then((report) => index(report.directives))
    await scanned
    if (asking) stale.add(asking)
    if (stale.size === 0) return
    const files = [...stale]
    stale.clear()
    await Promise.all(files.map(reread))
  }

  return {
    async has(key, file) {
      scanned ??= scan().then((report) => index(report.directives))
      await scanned
      if (known(key)) return true
      await current(file === undefined ? undefined : ownFile(file))
      return known(key)
    },
    changed(file) {
      const path = ownFile(file)
      if (path) stale.add(path)
    },
    where: (key) =>
      [...byFile.values()].flatMap((keys) => keys.get(key)?.directives.map((d) => d.location) ?? []),
    async lookup(key) {
      await current()
      let found: WrittenImage | undefined
      for (const [path, keys] of byFile) {
        const image = keys.get(key)
        if (!image) continue
        found ??= { request: image.request, written: [] }
        for (const directive of image.directives) found.written.push({ path, directive })
      }
      return found
    },
  }
}
