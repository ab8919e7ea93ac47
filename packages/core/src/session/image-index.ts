import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative, sep } from 'node:path'
import { writtenField } from '../directives/frontmatter/field-directive.js'
import { scanSource } from '../directives/index.js'
import { planRequests } from '../engine/plan.js'
import type { RequestDefaults } from '../engine/resolve-request.js'
import type { ScanReport } from '../engine/scan-report.js'
import type { ImageResult } from '../optimize/index.js'
import type { ResolvedOptions } from '../options.js'
import type { CanonicalRequest, Directive, SourceLocation } from '../types.js'

/** One directive of a project file, as the scan found it, with the request and key it resolves to. */
export interface IndexedDirective {
  directive: Directive
  request: CanonicalRequest
  key: string
}

/** One image the project's files write: its request, and each directive that writes it, where. */
export interface WrittenImage {
  request: CanonicalRequest
  /** The file (absolute path) and the directive as last read from it. */
  written: Array<{ path: string; directive: Directive }>
}

/**
 * The project's images, known once: every directive of every file (its span, location and key),
 * from the session's one scan, and each image once made. Hosts look an image up where it is
 * written instead of reading, parsing and keying it again. Kept current in dev: a file the host
 * reports as changed, and a file that asks for an image it was not known to write, are read and
 * scanned again (that file only) before the answer. The dev server pays only for the images the
 * project's files write, never for a `flux:` id that a page or a script made up.
 */
export interface ImageIndex {
  /** The project's scan, taken once (the build's, when it ran first). */
  scan(): Promise<ScanReport>
  /** The scan with each image's status as a run left it (the files' directives stay). */
  settle(report: ScanReport): void
  /** Forgets the scan: the next need scans the project again (another build of one session). */
  forget(): void
  /** The directives of `file` (absolute) as the scan found them; undefined for a file it did not read (or that writes none). */
  find(file: string): Promise<readonly Directive[] | undefined>
  /**
   * The directive a frontmatter field holds, by its value as a host's YAML parse gave it (a
   * string, or the object form) and its path where known, matched against the value each scanned
   * field holds as written: nothing is parsed. Undefined when no scanned field holds it, or when
   * several do that differ (the same text in two files whose `ref`s resolve apart).
   */
  field(value: unknown, path?: readonly (string | number)[]): Promise<IndexedDirective | undefined>
  /** An image made in this process: looked up by key instead of verified and optimized again. */
  made(key: string): ImageResult | undefined
  /** Records an image once made. */
  remember(image: ImageResult): void
  /** Whether a project file writes the image `key`; `file` is the source asking for it, when known. */
  has(key: string, file?: string): Promise<boolean>
  /** A file was added, changed or removed (the host's watcher): read again when next needed. */
  changed(file: string): void
  /** Where the project writes the image `key`, as last read. */
  where(key: string): SourceLocation[]
  /** The image `key` as the project writes it (files reported changed read again first), or undefined. */
  lookup(key: string): Promise<WrittenImage | undefined>
}

export function imageIndex({
  options,
  scan,
}: {
  options: Pick<ResolvedOptions, 'root' | 'cacheDir'> & RequestDefaults
  /** The project's scan, taken on first need. */
  scan: () => Promise<ScanReport>
}): ImageIndex {
  // Per file (absolute path), its directives with their keys, in source order.
  const byFile = new Map<string, IndexedDirective[]>()
  const images = new Map<string, ImageResult>()
  const stale = new Set<string>()
  let report: Promise<ScanReport> | undefined
  // Frontmatter directives by their field's value as written; made on first need, after each change.
  let fields: Map<string, IndexedDirective[]> | undefined

  const load = (directives: readonly Directive[]) => {
    fields = undefined
    for (const { key, request, directives: written } of planRequests(directives, options).items)
      for (const directive of written) {
        const path = join(options.root, directive.location.file)
        byFile.set(path, [...(byFile.get(path) ?? []), { directive, request, key }])
      }
  }
  const scanned = () => {
    report ??= scan().then((found) => {
      load(found.directives)
      return found
    })
    return report
  }
  const known = (key: string) => [...byFile.values()].some((entries) => entries.some((e) => e.key === key))

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
    byFile.delete(path)
    fields = undefined
    if (text !== undefined)
      load(scanSource(relative(options.root, path).split(sep).join('/'), text).directives)
  }
  const fresh = async () => {
    await scanned()
    if (stale.size === 0) return
    const files = [...stale]
    stale.clear()
    await Promise.all(files.map(reread))
  }

  return {
    scan: scanned,
    settle(settled) {
      report = Promise.resolve(settled)
    },
    forget() {
      report = undefined
      byFile.clear()
      fields = undefined
      stale.clear()
    },
    async find(file) {
      await fresh()
      return byFile.get(file)?.map((e) => e.directive)
    },
    async field(value, path) {
      await fresh()
      if (!fields) {
        fields = new Map()
        for (const entry of [...byFile.values()].flat()) {
          const written = entry.directive.field?.written
          if (written === undefined) continue
          const same = fields.get(written)
          if (same) same.push(entry)
          else fields.set(written, [entry])
        }
      }
      const written = writtenField(value)
      const found = (written === undefined ? undefined : fields.get(written))?.filter(
        ({ directive }) => path === undefined || samePath(directive.field?.path ?? [], path),
      )
      return found?.every((e) => e.key === found[0]?.key) ? found[0] : undefined
    },
    made: (key) => images.get(key),
    remember(image) {
      images.set(image.key, image)
    },
    async has(key, file) {
      await scanned()
      if (known(key)) return true
      const asking = file === undefined ? undefined : ownFile(file)
      if (asking) stale.add(asking)
      if (stale.size === 0) return false
      await fresh()
      return known(key)
    },
    changed(file) {
      const path = ownFile(file)
      if (path) stale.add(path)
    },
    where: (key) =>
      [...byFile.values()].flatMap((entries) =>
        entries.filter((e) => e.key === key).map((e) => e.directive.location),
      ),
    async lookup(key) {
      await fresh()
      let found: WrittenImage | undefined
      for (const [path, entries] of byFile)
        for (const { directive, request } of entries.filter((e) => e.key === key)) {
          found ??= { request, written: [] }
          found.written.push({ path, directive })
        }
      return found
    },
  }
}

const samePath = (a: readonly (string | number)[], b: readonly (string | number)[]) =>
  a.length === b.length && a.every((segment, i) => segment === b[i])
