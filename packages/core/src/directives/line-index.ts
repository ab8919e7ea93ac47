/** A 1-based line and column; columns count UTF-16 code units, as editors and source maps do. */
export interface LineColumn {
  line: number
  column: number
}

export interface LineIndex {
  /** The line and column of a string offset (clamped to the text). */
  locate(offset: number): LineColumn
  /** The offset where each line starts, in order (`\n`, `\r\n` and a lone `\r` end a line). */
  readonly starts: readonly number[]
}

/** Indexes the line starts of `text` once, so each lookup is a binary search. */
export function createLineIndex(text: string, firstLine = 1): LineIndex {
  // A byte order mark is not a column anyone sees in an editor.
  const starts: number[] = [text.charCodeAt(0) === 0xfeff ? 1 : 0]
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1)
  }
  return {
    starts,
    locate(offset) {
      const at = Math.max(0, Math.min(offset, text.length))
      const index = lastAtOrBefore(starts, at)
      return { line: firstLine + index, column: at - (starts[index] ?? 0) + 1 }
    },
  }
}

/** Index of the last element of an ascending array that is <= value (0 when none is). */
export function lastAtOrBefore(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if ((sorted[mid] ?? 0) <= value) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** Index of the first element of an ascending array that is > value (`sorted.length` when none is). */
export function firstAfter(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((sorted[mid] ?? 0) > value) hi = mid
    else lo = mid + 1
  }
  return lo
}
