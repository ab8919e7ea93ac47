import { readFile } from 'node:fs/promises'
import { extname, join, relative, sep } from 'node:path'
import {
  type Directive,
  decodeAttributeEntities,
  type FluxError,
  fluxError,
  parseDirective,
} from '@flux-images/core'
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
const CSS_URL = /url\(\s*(['"]?)(\s*flux:[^'")]*)\1\s*\)/g
const XML_TEXT = /<([a-zA-Z][\w:.-]*)(?:\s[^>]*)?>\s*(?:<!\[CDATA\[)?(\s*flux:[^<\]]*)/g

/**
 * Every `flux:` in a place a browser or a crawler reads as a URL: a URL attribute's value (or one
 * of a `srcset`'s candidates), a CSS `url()` (in a stylesheet, a `<style>` or a `style` attribute), an
 * XML element's text (RSS, sitemaps). Prose (or a `title`) that mentions `flux:` is not a URL and is left alone.
 */
export function findUnresolved(text: string, kind: 'html' | 'xml' | 'css'): UnresolvedFind[] {
  const found: UnresolvedFind[] = []
  const cssUrls = (css: string, where: string) => {
    for (const m of css.matchAll(CSS_URL)) found.push({ where, directive: (m[2] ?? '').trim() })
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
        // Candidates are comma-separated; a prompt may hold commas, so a candidate is cut at its descriptor.
        for (const m of value.matchAll(/(?:^|,)\s*(flux:.*?)(?:\s+\d+(?:\.\d+)?[wx])?\s*(?=,\s*\S+\s+\d|$)/g))
          found.push({ where: `<${element} ${name}>`, directive: (m[1] ?? '').trim() })
      } else if (URL_ATTRIBUTES.has(name) && DIRECTIVE.test(value))
        found.push({ where: `<${element} ${name}>`, directive: value.trim() })
    }
  }
  if (kind === 'html') {
    for (const style of text.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/gi))
      cssUrls(style[1] ?? '', '<style> CSS url()')
  } else {
    for (const m of text.matchAll(XML_TEXT)) {
      found.push({ where: `<${m[1]}>`, directive: decodeAttributeEntities((m[2] ?? '').trim()) })
    }
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
export async function checkOutput(
  outDir: string,
  { path, text }: OutputFile,
  { directives, root }: { directives: readonly Directive[]; root: string },
): Promise<FluxError[]> {
  const kind = KINDS[extname(path).toLowerCase()]
  const page = relative(outDir, path)
  if (kind === undefined || page.startsWith('..') || !text.includes('flux:')) return []
  const found = findUnresolved(text, kind)
  return locateUnresolved(`/${page.split(sep).join('/')}`, found, { directives, root })
}

/**
 * The leftovers of one page as FLUX_UNRESOLVED_OUTPUT errors: each at the directive it came from
 * (the project's scan), with the frontmatter field that holds it.
 */
export async function locateUnresolved(
  page: string,
  found: readonly UnresolvedFind[],
  { directives, root }: { directives: readonly Directive[]; root: string },
): Promise<FluxError[]> {
  const errors: FluxError[] = []
  for (const find of found) {
    const written = sourceOf(find.directive, directives)
    const field = written && (await fieldAt(root, written))
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

/** The scanned directive a leftover came from: the same prompt (and options). */
function sourceOf(text: string, directives: readonly Directive[]): Directive | undefined {
  const parsed = parseDirective(text)
  if (!parsed) return undefined
  const same = directives.filter((d) => d.prompt === parsed.prompt)
  return same.find((d) => JSON.stringify(d.params) === JSON.stringify(parsed.params)) ?? same[0]
}

/**
 * The frontmatter field a directive sits in: the key on its line (`heroImage: "flux: ..."`), or,
 * for the object form's `flux:` key, the key it is nested under. Read only to word an error.
 */
async function fieldAt(root: string, { location, kind }: Directive): Promise<string | undefined> {
  if (kind !== 'frontmatter') return undefined
  const lines = (await readFile(join(root, location.file), 'utf8').catch(() => '')).split(/\r?\n/)
  const keyOf = (line: string | undefined) => /^(\s*)(?:-\s+)?([\w$-]+)\s*:/.exec(line ?? '')
  const own = keyOf(lines[location.line - 1])
  if (own?.[2] !== 'flux') return own?.[2]
  const indent = own[1]?.length ?? 0
  for (let i = location.line - 2; i >= 0; i--) {
    const parent = keyOf(lines[i])
    if (parent && (parent[1]?.length ?? 0) < indent) return parent[2]
  }
  return own[2]
}

/** The build's one error for every leftover: each on its line, located, then what to change, once. */
export function unresolvedError(found: readonly FluxError[]): AggregateError {
  const list = found.map((e) => e.message).join('\n')
  const hint = found[0]?.hint ?? ''
  return new AggregateError(
    found,
    `[flux] ${found.length} unresolved image(s) in the build output:\n${list}\n  hint: ${hint}`,
  )
}
