import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pLimit from 'p-limit'
import { glob } from 'tinyglobby'
import { scanSource } from '../directives/index.js'
import { type FluxError, fluxError } from '../errors.js'
import type { Directive } from '../types.js'

// Reading files is cheap and I/O bound; a few at a time keeps file descriptors in check.
const READ_CONCURRENCY = 16

export interface ProjectScan {
  /** Every directive, in file order then source order. Locations are relative to the root, with `/`. */
  directives: Directive[]
  /** Problems found while reading and scanning (unreadable files, malformed frontmatter...). */
  errors: FluxError[]
  /** Files scanned, relative to the root. */
  files: string[]
}

/** Finds every directive under `root` in the files matching `include` and not `exclude`. */
export async function scanProject({
  root,
  include,
  exclude,
  read = (path) => readFile(path, 'utf8'),
}: {
  root: string
  include: readonly string[]
  exclude: readonly string[]
  /** Reads one file as text (replaceable in tests). */
  read?: (path: string) => Promise<string>
}): Promise<ProjectScan> {
  const files = (await glob([...include], { cwd: root, ignore: [...exclude], onlyFiles: true })).sort()
  const limit = pLimit(READ_CONCURRENCY)
  const results = await Promise.all(
    files.map((file) =>
      limit(async () => {
        let text: string
        try {
          text = await read(join(root, file))
        } catch (cause) {
          const reason = cause instanceof Error ? cause.message.replace(root, '.') : String(cause)
          return {
            directives: [],
            errors: [
              fluxError('FLUX_READ_FAILED', { reason }, { location: { file, line: 1, column: 1 }, cause }),
            ],
          }
        }
        // Cheap pre-check: most source files hold no directive at all.
        if (!text.includes('flux:') && !text.includes('FluxImage')) return { directives: [], errors: [] }
        return scanSource(file, text)
      }),
    ),
  )
  return {
    directives: results.flatMap((r) => r.directives),
    errors: results.flatMap((r) => r.errors),
    files,
  }
}
