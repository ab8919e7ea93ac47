import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { scanSource } from '../directives/index.js'
import type { Directive, SourceLocation } from '../types.js'

/**
 * Where in a source file the first directive that `match`es is, for a message about an image
 * an adapter met at run time (the host gives the file, not the position). The file is named
 * relative to `root`; when the file cannot be read or holds no match, its first line.
 */
export async function locateDirective(
  root: string,
  path: string,
  match: (directive: Directive) => boolean,
): Promise<SourceLocation> {
  const file = relative(root, path).split('\\').join('/')
  const text = await readFile(path, 'utf8').catch(() => '')
  return scanSource(file, text).directives.find(match)?.location ?? { file, line: 1, column: 1 }
}
