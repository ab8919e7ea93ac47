import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'
import type { Node, Scalar, YAMLMap } from 'yaml'
import type { FrontmatterField, ParsedDirective } from '../../types.js'
import { DIRECTIVE_KEYS } from '../grammar/grammar.js'
import { parseDirective } from '../grammar/parse-directive.js'
import { runScan, type ScanContext, type ScanResult } from '../scan-context.js'
import { fieldDirective, writtenField } from './field-directive.js'
import { readFlatFrontmatter } from './read-flat-frontmatter.js'

// The YAML library is 72 modules: it loads with the first frontmatter the flat reader leaves to
// it, so a CLI run or a build over flat frontmatter never pays for it. (Synchronously: scanners
// are synchronous.)
let yamlLibrary: typeof Yaml | undefined
const loadYaml = (): typeof Yaml => {
  yamlLibrary ??= createRequire(import.meta.url)('yaml') as typeof Yaml
  return yamlLibrary
}

/** Where a file's `---` frontmatter is: its YAML, and where the body starts. */
export interface FrontmatterRange {
  contentStart: number
  contentEnd: number
  bodyStart: number
}

/**
 * Finds, anywhere in the YAML frontmatter at the top of a file (maps and sequences, any depth),
 * string values `"flux: prompt?opts"` and objects `{ flux: "prompt?opts", size, model, quality,
 * seed, alt }` (read by `fieldDirective`). Kind `frontmatter`; the location is the value's first
 * character in the file; `field` is the value's path and form. Malformed YAML gives one FLUX_FRONTMATTER error at the problem, no directives.
 */
export function scanFrontmatter(text: string, file: string): ScanResult {
  return runScan(text, file, 1, (ctx) => {
    const range = findFrontmatter(ctx.text)
    if (range !== undefined) scanFrontmatterRange(ctx, range)
  })
}

/** The `---` fenced block at the very top of `text` (after a BOM), closed by `---` or `...`. */
export function findFrontmatter(text: string): FrontmatterRange | undefined {
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const first = nextLine(text, start)
  if (!isFence(text, start, first.end, false)) return undefined
  let line = first
  while (line.next < text.length) {
    const lineStart = line.next
    line = nextLine(text, lineStart)
    if (isFence(text, lineStart, line.end, true)) {
      return { contentStart: first.next, contentEnd: lineStart, bodyStart: line.next }
    }
  }
  return undefined
}

function nextLine(text: string, start: number): { end: number; next: number } {
  let i = start
  while (i < text.length && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++
  const next =
    text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10 ? i + 2 : Math.min(i + 1, text.length)
  return { end: i, next }
}

function isFence(text: string, start: number, end: number, closing: boolean): boolean {
  const line = text.slice(start, end).trimEnd()
  return line === '---' || (closing && line === '...')
}

// Real frontmatter is a few levels deep. The yaml parser recurses per level, and a stack
// overflow inside it has been seen to abort the whole process (V8 regexp compilation at the
// stack limit), so deeper input is refused before it reaches the parser.
const MAX_DEPTH = 100

/** Scans the YAML of `range` into `ctx` (offsets and lines are the file's). */
export function scanFrontmatterRange(ctx: ScanContext, range: FrontmatterRange): void {
  const source = ctx.text.slice(range.contentStart, range.contentEnd)
  // Every directive form holds "flux" (a `flux:` value or a `flux` key); most frontmatter holds
  // none, and parsing YAML is most of the cost of scanning a site.
  if (!source.includes('flux')) return
  // Flat frontmatter (most of it) is read without the YAML library, with the same results.
  const flat = readFlatFrontmatter(source)
  if (flat !== undefined) {
    for (const { key, value, start, end } of flat) {
      const parsed = parseDirective(value)
      if (parsed === undefined) continue
      const field: FrontmatterField = { path: [key], form: 'string', written: value }
      addRange(ctx, range.contentStart + start, range.contentStart + end, parsed, field)
    }
    return
  }
  const tooDeep = depthBeyond(source, MAX_DEPTH)
  if (tooDeep >= 0) {
    fail(ctx, `it is nested more than ${MAX_DEPTH} levels deep`, range.contentStart + tooDeep)
    return
  }
  const doc = withoutStackTraces(() => loadYaml().parseDocument(source, { prettyErrors: false }))
  const problem = doc.errors[0]
  if (problem !== undefined) {
    fail(ctx, problem.message, range.contentStart + problem.pos[0])
    return
  }
  walk(ctx, doc.contents, range.contentStart)
}

// yaml builds an Error per problem, each capturing a stack: 100 KB of garbage makes 100k of
// them and takes 4x longer (measured: 1.2 s instead of 0.3 s). Nothing else runs meanwhile.
function withoutStackTraces<T>(run: () => T): T {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return run()
  } finally {
    Error.stackTraceLimit = limit
  }
}

function fail(ctx: ScanContext, reason: string, offset: number): void {
  ctx.fail(
    'FLUX_FRONTMATTER',
    reason,
    offset,
    'Fix the YAML between the `---` lines; the directives in it were skipped.',
  )
}

type Path = FrontmatterField['path']

/** Visits every value (not keys) depth-first without recursion, with its path. */
function walk(ctx: ScanContext, root: unknown, base: number): void {
  const { isMap, isScalar, isSeq } = loadYaml()
  const stack: [unknown, Path][] = [[root, []]]
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, path] = top
    if (isMap(node)) {
      if (!objectDirective(ctx, node, base, path)) {
        for (let k = node.items.length - 1; k >= 0; k--) {
          const key = node.items[k]?.key
          stack.push([node.items[k]?.value, [...path, String(isScalar(key) ? key.value : key)]])
        }
      }
    } else if (isSeq(node)) {
      for (let k = node.items.length - 1; k >= 0; k--) stack.push([node.items[k], [...path, k]])
    } else if (isScalar(node) && typeof node.value === 'string') {
      const parsed = parseDirective(node.value)
      if (parsed !== undefined) add(ctx, node, base, parsed, { path, form: 'string', written: node.value })
    }
  }
}

function add(
  ctx: ScanContext,
  node: Node,
  base: number,
  parsed: ParsedDirective,
  field: FrontmatterField,
): void {
  const [start, end] = node.range ?? [0, 0]
  addRange(ctx, base + start, base + end, parsed, field)
}

function addRange(
  ctx: ScanContext,
  start: number,
  end: number,
  parsed: ParsedDirective,
  field: FrontmatterField,
): void {
  // A block map's range runs on to the next key's line: the raw text stops at its last character.
  const directive: ParsedDirective & { field: FrontmatterField } = { ...parsed, field }
  ctx.add('frontmatter', start, ctx.text.slice(start, end).trimEnd(), directive)
}

/** `{ flux: "prompt?opts", size, model, quality, seed, alt, preset, ref }`; false when the map is not one. */
function objectDirective(ctx: ScanContext, map: YAMLMap, base: number, path: Path): boolean {
  const { isScalar, isSeq } = loadYaml()
  if (!isScalar(map.get('flux', true))) return false
  // The map's scalars as text, `ref: [./a.png, ./b.png]` as a list, for the one reader.
  const fields: Record<string, string | string[] | undefined> = {}
  for (const key of ['flux', ...DIRECTIVE_KEYS]) {
    const field: unknown = map.get(key, true)
    if (isScalar(field)) fields[key] = scalarText(field)
    else if (key === 'ref' && isSeq(field))
      fields.ref = field.items.flatMap((item) => (isScalar(item) ? [scalarText(item) ?? ''] : []))
  }
  const parsed = fieldDirective(fields)
  if (parsed === undefined) return false
  add(ctx, map, base, parsed, { path, form: 'object', written: writtenField(fields) ?? '' })
  return true
}

/** A scalar as text: strings as they are, numbers as written (`seed: 12345678901234567890` keeps its digits). */
function scalarText(node: Scalar): string | undefined {
  const { value } = node
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') {
    return typeof node.source === 'string' && /^[-+]?\d+$/.test(node.source)
      ? node.source.replace(/^\+/, '')
      : String(value)
  }
  if (typeof value === 'boolean') return String(value)
  return undefined
}

/**
 * The offset at which nesting first exceeds `max` levels, or -1. Over-counts rather than
 * under-counts: block indentation levels, compact `- - x` entries and flow brackets outside
 * quotes all add a level.
 */
function depthBeyond(yaml: string, max: number): number {
  const indents: number[] = []
  let flow = 0
  let quote = 0
  let lineStart = true
  // The last non-blank character: a quote only opens a scalar where a scalar can start.
  let previous = 10
  for (let i = 0; i < yaml.length; i++) {
    const c = yaml.charCodeAt(i)
    if (c === 10 || c === 13) {
      lineStart = true
      previous = 10
      if (flow === 0) quote = 0
      continue
    }
    if (lineStart) {
      lineStart = false
      let j = i
      while (j < yaml.length && yaml.charCodeAt(j) === 32) j++
      while (indents.length > 0 && (indents.at(-1) ?? 0) >= j - i) indents.pop()
      indents.push(j - i)
      // `- - - x` opens one sequence per dash on a single line.
      let dashes = 0
      while ((yaml.charCodeAt(j) === 45 || yaml.charCodeAt(j) === 63) && yaml.charCodeAt(j + 1) === 32) {
        dashes++
        j += 2
        while (yaml.charCodeAt(j) === 32) j++
      }
      if (indents.length + dashes + flow > max) return i
    }
    if (quote !== 0) {
      if (c === quote) quote = 0
    } else if ((c === 34 || c === 39) && opensScalar(previous)) quote = c
    else if (c === 91 || c === 123) {
      flow++
      if (indents.length + flow > max) return i
    } else if ((c === 93 || c === 125) && flow > 0) flow--
    if (c !== 32 && c !== 9) previous = c
  }
  return -1
}

// Line start, `:`, `-`, `?`, `[`, `{`, `,`: where `'` or `"` starts a quoted scalar (not "don't").
function opensScalar(previous: number): boolean {
  return (
    previous === 10 ||
    previous === 58 ||
    previous === 45 ||
    previous === 63 ||
    previous === 91 ||
    previous === 123 ||
    previous === 44
  )
}
