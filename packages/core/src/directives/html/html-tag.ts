/** One attribute of a start tag, with where its value is in the text. */
export interface TagAttribute {
  /** As written (HTML callers compare it lower-cased). */
  name: string
  /** The value as written, without its quotes or braces; undefined for a bare attribute. */
  value: string | undefined
  /** Offset of the value's first character (after the quote or brace). */
  valueStart: number
  /** How the value was written: `"`, `'`, `` ` ``, `{` for a JSX expression, '' unquoted or absent. */
  quote: string
}

/** A start tag `<name attr="value" ...>` (or `/>`). */
export interface Tag {
  name: string
  start: number
  /** Offset just after the closing `>`. */
  end: number
  attributes: TagAttribute[]
  /** A JSX spread `{...props}` was present, so any attribute may be overridden at run time. */
  spread: boolean
}

export interface TagOptions {
  /**
   * CommonMark's raw-HTML grammar (markdown): any deviation means "not a tag", and no value
   * or expression may run past `end`. Otherwise the HTML tokenizer's forgiving rules.
   */
  strict?: boolean
  /** Accept `{expression}` values and `{...spread}` (Astro, Svelte, MDX). */
  jsx?: boolean
  /** Reading stops here (exclusive). Default: the end of the text. */
  end?: number
}

const SLASH = 47
const GT = 62
const EQ = 61
const LBRACE = 123

/**
 * Reads the start tag whose `<` is at `start`, or returns undefined when there is none (for
 * the HTML tokenizer that means the tag runs to the end: the caller should stop). Never
 * backtracks: the cost is the length of the tag.
 */
export function readTag(text: string, start: number, options: TagOptions = {}): Tag | undefined {
  const end = Math.min(options.end ?? text.length, text.length)
  const strict = options.strict === true
  const nameEnd = tagNameEnd(text, start + 1, end, strict)
  if (nameEnd === start + 1) return undefined
  const tag: Tag = { name: text.slice(start + 1, nameEnd), start, end: 0, attributes: [], spread: false }
  let i = nameEnd
  for (;;) {
    const next = skipSpace(text, i, end)
    const spaced = next > i
    i = next
    if (i >= end) return undefined
    const c = text.charCodeAt(i)
    if (c === GT || (c === SLASH && i + 1 < end && text.charCodeAt(i + 1) === GT)) {
      tag.end = i + (c === GT ? 1 : 2)
      return tag
    }
    if (c === SLASH && !strict) {
      i++
      continue
    }
    if (strict && !spaced) return undefined
    if (options.jsx === true && c === LBRACE) {
      const close = braceEnd(text, i, end, strict)
      if (close < 0) return undefined
      tag.spread = true
      i = close
      continue
    }
    const read = readAttribute(text, i, end, strict, options.jsx === true)
    if (read === undefined) return undefined
    tag.attributes.push(read.attribute)
    i = read.next
  }
}

/**
 * The attribute named `name`: for HTML, ASCII case-insensitive and the first of duplicates wins
 * (as in browsers); with `exact` (JSX components), case-sensitive and the last wins.
 */
export function attribute(tag: Tag, name: string, exact = false): TagAttribute | undefined {
  const want = exact ? name : name.toLowerCase()
  let found: TagAttribute | undefined
  for (const attr of tag.attributes) {
    if ((exact ? attr.name : attr.name.toLowerCase()) === want && (exact || found === undefined)) found = attr
  }
  return found
}

function readAttribute(
  text: string,
  start: number,
  end: number,
  strict: boolean,
  jsx: boolean,
): { attribute: TagAttribute; next: number } | undefined {
  const nameEnd = attributeNameEnd(text, start, end, strict)
  if (nameEnd === start) return undefined
  const name = text.slice(start, nameEnd)
  const eq = skipSpace(text, nameEnd, end)
  if (eq >= end || text.charCodeAt(eq) !== EQ) {
    return { attribute: { name, value: undefined, valueStart: nameEnd, quote: '' }, next: nameEnd }
  }
  const v = skipSpace(text, eq + 1, end)
  if (v >= end) return undefined
  const q = text[v] as string
  if (q === '"' || q === "'" || (jsx && q === '`')) {
    const close = text.indexOf(q, v + 1)
    if (close < 0 || close >= end) return undefined
    return {
      attribute: { name, value: text.slice(v + 1, close), valueStart: v + 1, quote: q },
      next: close + 1,
    }
  }
  if (jsx && q === '{') {
    const close = braceEnd(text, v, end, strict)
    if (close < 0) return undefined
    return {
      attribute: { name, value: text.slice(v + 1, close - 1), valueStart: v + 1, quote: '{' },
      next: close,
    }
  }
  const valueEnd = unquotedEnd(text, v, end, strict)
  if (valueEnd === v && strict) return undefined
  return { attribute: { name, value: text.slice(v, valueEnd), valueStart: v, quote: '' }, next: valueEnd }
}

function tagNameEnd(text: string, start: number, end: number, strict: boolean): number {
  if (start >= end || !isAsciiLetter(text.charCodeAt(start))) return start
  let i = start + 1
  while (i < end) {
    const c = text.charCodeAt(i)
    if (strict ? !(isAsciiLetter(c) || isDigit(c) || c === 45) : isSpace(c) || c === SLASH || c === GT) break
    i++
  }
  return i
}

function attributeNameEnd(text: string, start: number, end: number, strict: boolean): number {
  if (strict) {
    const first = text.charCodeAt(start)
    if (!(isAsciiLetter(first) || first === 95 || first === 58)) return start
  }
  // The HTML tokenizer takes a leading `=` as part of the name.
  let i = strict ? start + 1 : text.charCodeAt(start) === EQ ? start + 1 : start
  while (i < end) {
    const c = text.charCodeAt(i)
    const ok = strict
      ? isAsciiLetter(c) || isDigit(c) || c === 95 || c === 46 || c === 58 || c === 45
      : !(isSpace(c) || c === SLASH || c === GT || c === EQ)
    if (!ok) break
    i++
  }
  return i
}

function unquotedEnd(text: string, start: number, end: number, strict: boolean): number {
  let i = start
  while (i < end) {
    const c = text.charCodeAt(i)
    if (isSpace(c) || c === GT) break
    // CommonMark forbids these in unquoted values; `<` also keeps markdown scanning linear.
    if (strict && (c === 34 || c === 39 || c === EQ || c === 60 || c === 96)) break
    i++
  }
  return i
}

/**
 * The offset just after the `}` matching the `{` at `start`, skipping quoted strings, or -1.
 * Strict mode gives up at a `<` so that a markdown paragraph is never rescanned from every `{`.
 */
export function braceEnd(text: string, start: number, end: number, strict: boolean): number {
  let depth = 0
  let i = start
  while (i < end) {
    const c = text.charCodeAt(i)
    if (c === LBRACE) depth++
    else if (c === 125) {
      depth--
      if (depth === 0) return i + 1
    } else if (c === 34 || c === 39 || c === 96) {
      const close = stringEnd(text, i, end)
      if (close < 0) return -1
      i = close
      continue
    } else if (c === 60 && strict) return -1
    i++
  }
  return -1
}

function stringEnd(text: string, start: number, end: number): number {
  const q = text.charCodeAt(start)
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 92) i++
    else if (c === q) return i + 1
  }
  return -1
}

export function skipSpace(text: string, start: number, end: number): number {
  let i = start
  while (i < end && isSpace(text.charCodeAt(i))) i++
  return i
}

export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}
