import { cookEscapes, scanCodeRange } from '../code/scan-code.js'
import { decodeAttributeEntities } from '../grammar/entities.js'
import { DIRECTIVE_KEYS } from '../grammar/grammar.js'
import { parseDirective } from '../grammar/parse-directive.js'
import { runScan, type ScanContext, type ScanResult, withAlt } from '../scan-context.js'
import { componentDirective } from './component-directive.js'
import { attribute, readTag, type Tag, type TagAttribute } from './html-tag.js'

export interface HtmlScanOptions {
  /** Astro and Svelte templates: `{expression}` attribute values, `{...spread}`, `{/* comments *\/}`. */
  jsx?: boolean
  /** Recognise the `<FluxImage prompt="..." />` component (Astro templates, MDX). */
  components?: boolean
}

/**
 * Finds `<img src="flux:...">` (quoted or not, entity-decoded; the `alt` attribute becomes
 * `params.alt` and fills an empty prompt) and the `flux:` imports of inline `<script>`s.
 * Comments and the contents of raw-text elements (`<style>`, `<textarea>`, `<title>`, ...) are
 * skipped; `<pre>` and `<code>` are not, because browsers render the tags inside them.
 */
export function scanHtml(text: string, file: string): ScanResult {
  return runScan(text, file, 1, (ctx) => scanHtmlRange(ctx, 0, ctx.text.length))
}

// Elements whose content is text to the browser, not tags (the HTML spec's raw text and RCDATA).
const RAW_TEXT = new Set(['style', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes', 'plaintext'])

/** Scans [start, end) of `ctx.text` as HTML (or an Astro/Svelte template with `options`). */
export function scanHtmlRange(
  ctx: ScanContext,
  start: number,
  end: number,
  options: HtmlScanOptions = {},
): void {
  const { text } = ctx
  const jsx = options.jsx === true
  let jsxComment = jsx ? text.indexOf('{/*', start) : -1
  let i = start
  while (i < end) {
    const found = text.indexOf('<', i)
    const lt = found < 0 || found > end ? end : found
    if (jsxComment >= 0 && jsxComment < i) jsxComment = text.indexOf('{/*', i)
    if (jsxComment >= 0 && jsxComment < lt) {
      const close = text.indexOf('*/}', jsxComment + 3)
      i = close < 0 ? end : close + 3
      continue
    }
    if (lt >= end) return
    i = markupAt(ctx, lt, end, options)
  }
}

/** Handles the `<` at `lt`; returns where to resume. */
function markupAt(ctx: ScanContext, lt: number, end: number, options: HtmlScanOptions): number {
  const { text } = ctx
  if (text.startsWith('<!--', lt)) return after(text.indexOf('-->', lt + 2), 3, end)
  const next = text.charCodeAt(lt + 1)
  // `</x>`, `<!DOCTYPE>`, `<?x>`: nothing to see up to the next `>`.
  if (next === 47 || next === 33 || next === 63) return after(text.indexOf('>', lt), 1, end)
  if (!((next >= 65 && next <= 90) || (next >= 97 && next <= 122))) return lt + 1
  const tag = readTag(text, lt, { jsx: options.jsx === true, end })
  // A tag left open runs to the end of the file, as the browser reads it.
  if (tag === undefined) return end
  const name = tag.name.toLowerCase()
  if (name === 'img') imageTag(ctx, tag)
  else if (options.components === true && tag.name === 'FluxImage') componentTag(ctx, tag)
  else if (name === 'script' || RAW_TEXT.has(name)) {
    if (name === 'plaintext') return end
    const close = closingTag(text, name, tag.end, end)
    if (name === 'script' && isInlineCode(tag)) scanCodeRange(ctx, tag.end, close)
    return after(text.indexOf('>', close), 1, end)
  }
  return tag.end
}

function after(index: number, length: number, end: number): number {
  return index < 0 || index + length > end ? end : index + length
}

const CLOSING = new Map<string, RegExp>()

/** The offset of `</name` (any case) from `from`, or `end`. */
function closingTag(text: string, name: string, from: number, end: number): number {
  let pattern = CLOSING.get(name)
  if (pattern === undefined) {
    pattern = new RegExp(`</${name}(?![A-Za-z0-9-])`, 'gi')
    CLOSING.set(name, pattern)
  }
  pattern.lastIndex = from
  const match = pattern.exec(text)
  return match === null || match.index > end ? end : match.index
}

function isInlineCode(tag: Tag): boolean {
  if (attribute(tag, 'src') !== undefined) return false
  const type = (attribute(tag, 'type')?.value ?? '').trim().toLowerCase()
  return type === '' || type === 'module' || /javascript|ecmascript|typescript|jsx|babel/.test(type)
}

/** Records `<img src="flux:...">` (kind `html`), with its `alt`. */
export function imageTag(ctx: ScanContext, tag: Tag): void {
  const src = attribute(tag, 'src')
  const value = staticText(src)
  if (src === undefined || src.value === undefined || value === undefined) return
  const parsed = parseDirective(value)
  if (parsed === undefined) return
  const lead = src.value.length - src.value.trimStart().length
  const element = { start: tag.start, end: tag.end }
  const alt = staticText(attribute(tag, 'alt'))
  ctx.add('html', src.valueStart + lead, src.value.trim(), withAlt(parsed, alt), element)
}

/**
 * `<FluxImage prompt="..." size="..." model="..." quality="..." seed="..." alt="..." />` with
 * static values (quoted strings, backticks without `${`, `{"literal"}`, `{42}`). The prompt is
 * taken literally: no query, no percent-decoding. When the prompt or an option that changes the
 * picture is an expression, or a `{...spread}` may set one, the image cannot be known before
 * rendering, so the tag is skipped; a dynamic `alt` is only left out.
 */
export function componentTag(ctx: ScanContext, tag: Tag): void {
  if (tag.spread) return
  const props: Record<string, string | undefined> = {}
  for (const key of ['prompt', ...DIRECTIVE_KEYS.filter((k) => k !== 'ref')]) {
    const attr = attribute(tag, key, true)
    if (attr === undefined) continue
    props[key] = staticText(attr)
    if (props[key] === undefined && key !== 'alt') return
  }
  const parsed = componentDirective(props)
  if (parsed === undefined) return
  ctx.add('component', tag.start, ctx.text.slice(tag.start, tag.end), parsed, {
    start: tag.start,
    end: tag.end,
  })
}

/** The value of an attribute when it is known without running code, else undefined. */
function staticText(attr: TagAttribute | undefined): string | undefined {
  if (attr === undefined || attr.value === undefined) return undefined
  if (attr.quote === '`') return attr.value.includes('${') ? undefined : cookEscapes(attr.value)
  if (attr.quote !== '{') return decodeAttributeEntities(attr.value)
  const inner = attr.value.trim()
  if (/^-?\d+$/.test(inner)) return inner
  const q = inner[0]
  if ((q === '"' || q === "'" || q === '`') && inner.length >= 2 && inner.endsWith(q)) {
    const body = inner.slice(1, -1)
    if (!body.includes(q) && !body.includes('\\') && !(q === '`' && body.includes('${'))) return body
  }
  return undefined
}
