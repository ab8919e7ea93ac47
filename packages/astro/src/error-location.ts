import { resolve } from 'node:path'
import { FluxError } from '@flux-images/core'

/**
 * The error with `loc` (an absolute file, a line, a column) on each located FluxError in it (one,
 * or an AggregateError's): what Astro reads to point at the directive, in the terminal and the
 * overlay. Without it Astro guesses a place from the first line of the stack that mentions `src`,
 * which, for a message listing directives, is garbled.
 */
export function withLoc<E>(err: E, root: string): E {
  const errors = err instanceof AggregateError ? err.errors : [err]
  for (const e of errors) {
    if (!FluxError.is(e) || !e.location) continue
    const { file, line, column } = e.location
    Object.assign(e, { loc: { file: resolve(root, file), line: line ?? 1, column: column ?? 1 } })
  }
  return err
}
