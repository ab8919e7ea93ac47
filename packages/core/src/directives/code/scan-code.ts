import { FLUX_SCHEME } from '../grammar/grammar.js'
import { parseDirective } from '../grammar/parse-directive.js'
import { runScan, type ScanContext, type ScanResult } from '../scan-context.js'

/**
 * Finds `flux:` module ids in JS/TS: `import x from 'flux:...'`, `import 'flux:...'`,
 * `import('flux:...')` and `export ... from 'flux:...'`, in single or double quotes or a
 * backtick string without `${`. Comments, other strings, regular expressions and template
 * literals are skipped with a small tokenizer, so `// import x from 'flux:a'` is not one,
 * nor is `declare module 'flux:*'`. Kind `import`; the location is the first character
 * inside the quotes.
 */
export function scanCode(text: string, file: string): ScanResult {
  return runScan(text, file, 1, (ctx) => scanCodeRange(ctx, 0, ctx.text.length))
}

// Keywords after which a `/` starts a regular expression rather than a division.
const BEFORE_REGEX = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
])

/** Scans [start, end) of `ctx.text` as JS/TS (for `<script>` blocks and Astro frontmatter too). */
export function scanCodeRange(ctx: ScanContext, start: number, end: number): void {
  const { text } = ctx
  // The last three significant tokens: identifiers and keywords as written, punctuation as
  // itself, anything else as a placeholder.
  const recent = ['', '', '']
  const push = (token: string) => {
    recent[0] = recent[1] as string
    recent[1] = recent[2] as string
    recent[2] = token
  }
  // One entry per open `{`: true when it is a template literal's `${`.
  const braces: boolean[] = []
  // Inside `import type ...` / `export type ...`: TypeScript erases it, so it names no image.
  let typeOnly = false
  let i = start
  while (i < end) {
    const c = text.charCodeAt(i)
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++
    } else if (c === 47 && text.charCodeAt(i + 1) === 47) {
      i = lineEnd(text, i, end)
    } else if (c === 47 && text.charCodeAt(i + 1) === 42) {
      const close = text.indexOf('*/', i + 2)
      i = close < 0 || close + 2 > end ? end : close + 2
    } else if (c === 47) {
      const regex = regexAllowed(recent[2] as string)
      i = regex ? regexEnd(text, i, end) : i + 1
      push(regex ? '0' : '/')
    } else if (c === 39 || c === 34) {
      const close = stringEnd(text, i, end)
      if (close < 0) {
        // Unterminated: a JS string cannot span lines, so resume on the next one.
        i = lineEnd(text, i, end)
      } else {
        // `import type from 'x'` is a default import named `type`, not a type-only one.
        if (!typeOnly || (recent[1] === 'type' && recent[2] === 'from'))
          considerLiteral(ctx, i + 1, close - 1, recent)
        typeOnly = false
        i = close
      }
      push('0')
    } else if (c === 96) {
      i = templateFrom(ctx, i + 1, end, recent, braces, true)
      push('0')
    } else if (c === 125 && braces.at(-1) === true) {
      braces.pop()
      i = templateFrom(ctx, i + 1, end, recent, braces, false)
      push('0')
    } else if (isIdentifierChar(c)) {
      const from = i
      while (i < end && isIdentifierChar(text.charCodeAt(i))) i++
      const word = text.slice(from, i)
      if (word === 'type' && (recent[2] === 'import' || recent[2] === 'export')) typeOnly = true
      push(word)
    } else {
      if (c === 123) braces.push(false)
      else if (c === 125) braces.pop()
      else if (c === 59) typeOnly = false
      push(text[i] as string)
      i++
    }
  }
}

/**
 * Reads template text from `from` (after a backtick or a `${...}`): to the closing backtick, or
 * to the next `${`, which opens a brace the main loop tracks. Only a template with no `${` at
 * all is a static string.
 */
function templateFrom(
  ctx: ScanContext,
  from: number,
  end: number,
  recent: readonly string[],
  braces: boolean[],
  opening: boolean,
): number {
  const { text } = ctx
  for (let i = from; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 92) i++
    else if (c === 96) {
      if (opening) considerLiteral(ctx, from, i, recent)
      return i + 1
    } else if (c === 36 && text.charCodeAt(i + 1) === 123) {
      braces.push(true)
      return i + 2
    }
  }
  return end
}

/** Records the string literal [from, to) when it is a `flux:` module id in import position. */
function considerLiteral(ctx: ScanContext, from: number, to: number, recent: readonly string[]): void {
  const [third, second, last] = recent
  const importing =
    ((last === 'from' || last === 'import') && second !== '.') ||
    (last === '(' && second === 'import' && third !== '.')
  if (!importing) return
  const raw = ctx.text.slice(from, to)
  const value = raw.includes('\\') ? cookEscapes(raw) : raw
  // Vite hands the id to plugins exactly as written: `' flux:x'` is not a flux id.
  if (!value.startsWith(FLUX_SCHEME)) return
  const parsed = parseDirective(value)
  if (parsed !== undefined) ctx.add('import', from, raw, parsed)
}

function regexAllowed(previous: string): boolean {
  if (previous === '') return true
  if (BEFORE_REGEX.has(previous)) return true
  const c = previous.charCodeAt(0)
  // After an identifier, a number, a literal, `)` or `]`, a `/` divides.
  return !(isIdentifierChar(c) || previous === ')' || previous === ']')
}

/** The end of a regular expression literal; an unterminated one skips to the end of the line. */
function regexEnd(text: string, start: number, end: number): number {
  let inClass = false
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 10 || c === 13) return i
    if (c === 92) i++
    else if (c === 91) inClass = true
    else if (c === 93) inClass = false
    else if (c === 47 && !inClass) {
      let j = i + 1
      while (j < end && isIdentifierChar(text.charCodeAt(j))) j++
      return j
    }
  }
  return end
}

/** The offset after the closing quote of the string at `start`, or -1 when it ends unclosed at a line end. */
function stringEnd(text: string, start: number, end: number): number {
  const quote = text.charCodeAt(start)
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 92) {
      // A backslash before a line break continues the string on the next line.
      i += text.charCodeAt(i + 1) === 13 && text.charCodeAt(i + 2) === 10 ? 2 : 1
    } else if (c === quote) return i + 1
    else if (c === 10 || c === 13) return -1
  }
  return -1
}

function lineEnd(text: string, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 10 || c === 13) return i
  }
  return end
}

function isIdentifierChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 0x80
  )
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
}

// Bounded repetitions only, and each match starts at a backslash: linear.
const ESCAPE =
  /\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\}|(\r\n|[\r\n\u2028\u2029])|([\s\S]))/g

/** The value of a JS string literal's body: `\n`, `\xHH`, `\uHHHH`, `\u{H..}`, line continuations. */
export function cookEscapes(raw: string): string {
  return raw.replace(
    ESCAPE,
    (whole, hex2?: string, hex4?: string, braced?: string, lineBreak?: string, other?: string) => {
      if (hex2 !== undefined || hex4 !== undefined)
        return String.fromCharCode(Number.parseInt(hex2 ?? hex4 ?? '', 16))
      if (braced !== undefined) {
        const code = Number.parseInt(braced, 16)
        return code <= 0x10ffff ? String.fromCodePoint(code) : whole
      }
      if (lineBreak !== undefined) return ''
      return SIMPLE_ESCAPES[other ?? ''] ?? other ?? ''
    },
  )
}
