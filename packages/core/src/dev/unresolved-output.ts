import { extname, relative, sep } from 'node:path'
import { decodeAttributeEntities } from '../directives/grammar/entities.js'
import { parseDirective } from '../directives/index.js'
import { type FluxError, fluxError } from '../errors.js'
import type { Directive } from '../types.js'
import type { OutputFile } from './read-output.js'

/** One `flux:` left in an output file: where in the file (an attribute, a CSS `url()`, an XML entry) and what. */
export interface UnresolvedFind {
  /** `<img src>`, `<source srcset>`, `<meta content>`, `CSS url()`, `<enclosure url>`, `<image:loc>`... */
  where: string
  directive: string
}

// A directive where a URL goes: at the start of the value (a srcset's candidate, a `url()`).
const DIRECTIVE = /^\s*flux:/
/** Attributes whose value is a URL (or a srcset), in HTML, SVG, RSS and Atom; `content` for og:image and the like. */
const URL_ATTRIBUTES = new Set([
  'src',
  'href',
  'xlink:href',
  'content',
  'poster',
  'data',
  'url',
  'action',
  'formaction',
  'background',
  'data-src',
  'data-bg',
])
const SRCSET_ATTRIBUTES = new Set(['srcset', 'imagesrcset', 'data-srcset'])
const ATTRIBUTE = /([^\s"'<>/=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g
const TAG = /<([a-zA-Z][\w:.-]*)((?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]+))?)*)\s*\/?>/g
// A `url(` that opens a directive, and its quote if any. No two quantifiers take the same spaces.
const CSS_URL_START = /url\(\s*(?:(['"])\s*)?(?=flux:)/g
// The tag's run stops at the next `<`, where the next match would start: a page full of unclosed
// `<a ` costs a pass, not a pass per opening.
const XML_TEXT = /<([a-zA-Z][\w:.-]*)(?:\s[^<>]*)?>\s*(?:<!\[CDATA\[\s*)?(flux:[^<\]]*)/g

/**
 * Every `flux:` in a place a browser or a crawler reads as a URL: a URL attribute's value (or one
 * of a `srcset`'s candidates), a CSS `url()` (in a stylesheet, a `<style>` or a `style` attribute), an
 * XML element's text (RSS, sitemaps). Prose (or a `title`) that mentions `flux:` is not a URL and is left alone.
 */
export function findUnresolved(text: string, kind: 'html' | 'xml' | 'css'): UnresolvedFind[] {
  const found: UnresolvedFind[] = []
  const cssUrls = (css: string, where: string) => {
    for (const directive of cssUrlDirectives(css)) found.push({ where, directive })
  }
  if (kind === 'css') {
    cssUrls(text, 'CSS url()')
    return found
  }
  for (const tag of text.matchAll(TAG)) {
    const element = tag[1] ?? ''
    for (const attr of (tag[2] ?? '').matchAll(ATTRIBUTE)) {
      const name = (attr[1] ?? '').toLowerCase()
      const value = decodeAttributeEntities(attr[2] ?? attr[3] ?? '')
      if (name === 'style') cssUrls(value, `<${element} style> CSS url()`)
      else if (SRCSET_ATTRIBUTES.has(name)) {
        for (const directive of srcsetDirectives(value))
          found.push({ where: `<${element} ${name}>`, directive })
      } else if (URL_ATTRIBUTES.has(name) && DIRECTIVE.test(value))
        found.push({ where: `<${element} ${name}>`, directive: value.trim() })
    }
  }
  if (kind === 'html') {
    for (const css of styleElements(text)) cssUrls(css, '<style> CSS url()')
  } else {
    for (const m of text.matchAll(XML_TEXT)) {
      found.push({ where: `<${m[1]}>`, directive: decodeAttributeEntities((m[2] ?? '').trim()) })
    }
  }
  return found
}

/**
 * The `flux:` candidates of a srcset, without their descriptors. Candidates are comma-separated,
 * but a prompt may hold commas: a directive runs to the next comma that starts a candidate of its
 * own (`, <url> <descriptor>`: a word, spaces, a digit) or to the end. One pass each way: a regex
 * that looked ahead from every comma read the rest of the value again each time (80 KB: 4.7 s).
 */
function srcsetDirectives(value: string): string[] {
  const n = value.length
  // Right to left, so each character is looked at once: after[i] says whether a candidate starts
  // after the comma at i. At each step `word` says whether the word at the nearest non-space
  // character to the right is followed by spaces then a digit, and `digit` whether that character is one.
  const after = new Uint8Array(n)
  let word = false
  let digit = false
  for (let i = n - 1; i >= 0; i--) {
    const code = value.charCodeAt(i)
    if (code === COMMA && word) after[i] = 1
    if (isSpace(code)) continue
    word = i + 1 < n && (isSpace(value.charCodeAt(i + 1)) ? digit : word)
    digit = code >= ZERO && code <= NINE
  }
  const found: string[] = []
  let from = 0
  while (from <= n) {
    let start = from
    while (start < n && isSpace(value.charCodeAt(start))) start++
    if (value.startsWith('flux:', start)) {
      let end = start
      while (end < n && after[end] === 0) end++
      found.push(withoutDescriptor(value.slice(start, end)))
      from = end + 1
    } else {
      const comma = value.indexOf(',', start)
      if (comma < 0) break
      from = comma + 1
    }
  }
  return found
}

const [COMMA, ZERO, NINE] = [0x2c, 0x30, 0x39]
const SPACE = /\s/

/** Whether the UTF-16 code is one of regex `\s` (the ASCII ones without a regex: this runs per character). */
function isSpace(code: number): boolean {
  if (code < 0x80) return code === 0x20 || (code >= 0x09 && code <= 0x0d)
  return SPACE.test(String.fromCharCode(code))
}

const DESCRIPTOR = /^\d+(?:\.\d+)?[wx]$/

/** A candidate less its trailing width or density descriptor (`960w`, `1.5x`), trimmed. */
function withoutDescriptor(candidate: string): string {
  const trimmed = candidate.trimEnd()
  let space = trimmed.length - 1
  while (space >= 0 && !isSpace(trimmed.charCodeAt(space))) space--
  return (space > 0 && DESCRIPTOR.test(trimmed.slice(space + 1)) ? trimmed.slice(0, space) : trimmed).trim()
}

/**
 * The directive of each `url(flux:…)` of a stylesheet, quoted or not: it runs to the first quote or
 * `)`, which must close it. Directives that share that end share one search for it: a regex read
 * the rest of the text again from every `url(` that did not close, and tried each split of the
 * spaces before `)` (40 KB of spaces: 2.8 s).
 */
function cssUrlDirectives(css: string): string[] {
  const found: string[] = []
  let end = -1 // the first quote or `)` from the latest directive's start
  let closing = -1 // after the spaces and `)` that follow `end`, if they do
  let consumed = 0
  for (const m of css.matchAll(CSS_URL_START)) {
    const start = m.index + m[0].length
    if (m.index < consumed) continue
    if (end < start) {
      URL_END.lastIndex = start
      end = URL_END.exec(css)?.index ?? css.length
      URL_CLOSE.lastIndex = end + 1
      closing = URL_CLOSE.test(css) ? URL_CLOSE.lastIndex : -1
    }
    const quote = m[1]
    if (quote ? css[end] !== quote || closing < 0 : css[end] !== ')') continue
    found.push(css.slice(start, end).trim())
    consumed = quote ? closing : end + 1
  }
  return found
}

const URL_END = /['")]/g
const URL_CLOSE = /\s*\)/y

/** The text of each `<style>` element; a page of unclosed `<style>` is read once. */
function styleElements(html: string): string[] {
  const found: string[] = []
  const open = /<style/gi
  const close = /<\/style>/gi
  for (let m = open.exec(html); m; m = open.exec(html)) {
    const body = html.indexOf('>', m.index)
    close.lastIndex = body + 1
    // No `>` or no `</style>` from here on: none for any later `<style` either.
    if (body < 0 || !close.exec(html)) break
    found.push(html.slice(body + 1, close.lastIndex - '</style>'.length))
    open.lastIndex = close.lastIndex
  }
  return found
}

const KINDS: Readonly<Record<string, 'html' | 'xml' | 'css'>> = {
  '.html': 'html',
  '.htm': 'html',
  '.xml': 'xml',
  '.rss': 'xml',
  '.atom': 'xml',
  '.svg': 'xml',
  '.css': 'css',
}

/**
 * An HTML, XML (RSS, sitemaps) or CSS file of a build's output (a file of readOutput) checked for
 * `flux:` left where a URL goes; other files, and files outside `outDir`, have none. Each one is a
 * FLUX_UNRESOLVED_OUTPUT error naming the page (its path under `outDir`), the attribute or entry,
 * and where the directive was written (`directives`: the project's scan), with the field.
 */
export function checkOutput(
  outDir: string,
  { path, text }: OutputFile,
  { directives }: { directives: readonly Directive[] },
): FluxError[] {
  const kind = KINDS[extname(path).toLowerCase()]
  const page = relative(outDir, path)
  if (kind === undefined || page.startsWith('..') || !text.includes('flux:')) return []
  const found = findUnresolved(text, kind)
  return locateUnresolved(`/${page.split(sep).join('/')}`, found, { directives })
}

/**
 * The leftovers of one page as FLUX_UNRESOLVED_OUTPUT errors: each at the directive it came from
 * (the project's scan), with the frontmatter field that holds it.
 */
export function locateUnresolved(
  page: string,
  found: readonly UnresolvedFind[],
  { directives }: { directives: readonly Directive[] },
): FluxError[] {
  const errors: FluxError[] = []
  for (const find of found) {
    const written = sourceOf(find.directive, page, directives)
    const field = written && fieldName(written)
    // The location (file:line:column) leads the message; the field says which value to change.
    const source = written
      ? field
        ? `frontmatter field "${field}"`
        : `a ${written.kind} directive`
      : 'no scanned source file holds it: it came from code'
    const args = { page, where: find.where, directive: find.directive, source }
    errors.push(fluxError('FLUX_UNRESOLVED_OUTPUT', args, { location: written?.location }))
  }
  return errors
}

/**
 * The scanned directive a leftover came from, among those of its prompt, best first: the same
 * options, then the same text as written (a field's value reaches the output as it is), then one
 * of the page's own source file, then a frontmatter field (markdown bodies are resolved by our
 * plugins; a field typed as text is not).
 */
function sourceOf(text: string, page: string, directives: readonly Directive[]): Directive | undefined {
  const parsed = parseDirective(text)
  if (!parsed) return undefined
  const params = JSON.stringify(parsed.params)
  const segments = new Set(page.split('/'))
  const score = (d: Directive) =>
    (JSON.stringify(d.params) === params ? 8 : 0) +
    (asWritten(d) === text ? 4 : 0) +
    (segments.has(stem(d.location.file)) ? 2 : 0) +
    (d.kind === 'frontmatter' ? 1 : 0)
  let best: { directive: Directive; score: number } | undefined
  for (const directive of directives) {
    if (directive.prompt !== parsed.prompt) continue
    const s = score(directive)
    if (!best || s > best.score) best = { directive, score: s }
  }
  return best?.directive
}

/** A directive's text as a value: without a YAML scalar's quotes or a markdown destination's `<>`. */
const asWritten = ({ raw }: Directive) => raw.replace(/^(['"<])([\s\S]*)(['">])$/, '$2').trim()

/** A file's name without its directory and extension: a page of the same name likely shows it. */
const stem = (file: string) => file.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '')

/** The frontmatter field a directive is written in, by its path: `heroImage`, `og.image`, `gallery[2]`. */
export function fieldName({ field }: Directive): string | undefined {
  const name = field?.path.reduce<string>(
    (name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${key}` : key),
    '',
  )
  return name || undefined
}

/**
 * The build's one error for every leftover: the count, each on its line, located, then what to
 * change, once. The leftovers are its `found`, not `errors`: Astro's CLI prints only the first
 * of an error's `errors`.
 */
export function unresolvedError(found: readonly FluxError[]): Error & { found: readonly FluxError[] } {
  const list = found.map((e) => e.message).join('\n')
  const hint = found[0]?.hint ?? ''
  const message = `[flux] ${found.length} unresolved image(s) in the build output:\n${list}\n  hint: ${hint}`
  return Object.assign(new Error(message), { found })
}
