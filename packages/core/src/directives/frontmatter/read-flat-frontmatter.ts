/** A string value of flat frontmatter: its key, its text and where it is written (offsets in the YAML). */
export interface FlatValue {
  key: string
  value: string
  start: number
  end: number
}

// The common frontmatter is flat: `key: value` lines at the margin, values plain, quoted without
// escapes, or flow lists of such. Anything else (indentation, block scalars, anchors, tags,
// escapes, tabs, a `flux` key, a key twice...) is left to the YAML library, so this reader never
// has to know what the library would do with it.
const KEY = /^([A-Za-z_][\w-]*):(?: +|$)/
// Keys the core schema reads as null or a boolean: two of them could be the same key.
const NON_STRING_KEY = /^(?:null|Null|NULL|true|True|TRUE|false|False|FALSE)$/
const BLANK = /^ *$/
// After a value: spaces, then maybe a comment.
const TAIL = /^(?: +(?:#.*)?)?$/
// A plain value's first character: none of YAML's indicators.
const PLAIN_START = /^[\w(/$~+.]/
const FLOW_ITEM = /^(?:\w[\w ./+-]*|"[^"\\]*"|'[^']*')$/
// Control characters, tabs, a BOM, line separators and a `\r` alone: left to the YAML library.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose.
const UNUSUAL = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\ufeff\u2028\u2029]|\r(?!\n)/

/**
 * The string values holding `flux` in `yaml` when it is flat frontmatter, in order, with their
 * offsets, exactly as the YAML library reads them; undefined when it is anything else (the
 * caller parses it with the library then).
 */
export function readFlatFrontmatter(yaml: string): FlatValue[] | undefined {
  if (UNUSUAL.test(yaml)) return undefined
  const values: FlatValue[] = []
  const keys = new Set<string>()
  let lineStart = 0
  while (lineStart < yaml.length) {
    const newline = yaml.indexOf('\n', lineStart)
    const next = newline < 0 ? yaml.length : newline + 1
    let lineEnd = newline < 0 ? yaml.length : newline
    if (yaml.charCodeAt(lineEnd - 1) === 13) lineEnd--
    const line = yaml.slice(lineStart, lineEnd)
    if (!BLANK.test(line) && !line.startsWith('#')) {
      const key = KEY.exec(line)
      if (key === null) return undefined
      const name = key[1] as string
      if (name === 'flux' || NON_STRING_KEY.test(name) || keys.has(name)) return undefined
      keys.add(name)
      if (!readValue(name, line, key[0].length, lineStart, values)) return undefined
    }
    lineStart = next
  }
  return values
}

/** Reads the value of `key` on `line` from `at` into `values`; false when it is not a flat value. */
function readValue(key: string, line: string, at: number, base: number, values: FlatValue[]): boolean {
  const first = line[at]
  if (first === undefined || first === '#') return true
  if (first === '"' || first === "'") {
    const close = line.indexOf(first, at + 1)
    if (close < 0 || !TAIL.test(line.slice(close + 1))) return false
    const value = line.slice(at + 1, close)
    if (first === '"' && value.includes('\\')) return false
    if (value.includes('flux')) values.push({ key, value, start: base + at, end: base + close + 1 })
    return true
  }
  if (first === '[') {
    const close = line.indexOf(']', at)
    if (close < 0 || !TAIL.test(line.slice(close + 1))) return false
    const inner = line.slice(at + 1, close)
    // A list's strings are values too; lists that could hold a directive go to the library.
    if (inner.includes('flux')) return false
    return inner.trim() === '' || inner.split(',').every((item) => FLOW_ITEM.test(item.trim()))
  }
  if (!PLAIN_START.test(first)) return false
  const comment = line.search(/ #/)
  let end = comment < 0 ? line.length : comment
  while (line.charCodeAt(end - 1) === 32) end--
  const value = line.slice(at, end)
  // `a: b: c` is an error in YAML; a value ending in `:` is not plain either.
  if (value.includes(': ') || value.endsWith(':')) return false
  // Only a value holding `flux` can be a directive (and no number, boolean or null holds it).
  if (value.includes('flux')) values.push({ key, value, start: base + at, end: base + end })
  return true
}
