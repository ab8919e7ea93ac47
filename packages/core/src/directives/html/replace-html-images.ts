import type { PictureAttributes } from '../../optimize/index.js'
import type { Directive } from '../../types.js'
import { decodeAttributeEntities } from '../grammar/entities.js'
import { createLineIndex } from '../line-index.js'
import { attribute, readTag, type Tag } from './html-tag.js'
import { scanHtml } from './scan-html.js'

/**
 * Replaces every `<img src="flux:...">` of an HTML page (found by core's scanner) with what
 * `render` returns for its directive and the attributes the `<picture>` keeps from the tag.
 */
export async function replaceHtmlImages(
  html: string,
  file: string,
  render: (directive: Directive, attrs: PictureAttributes) => Promise<string>,
): Promise<string> {
  const { directives } = scanHtml(html, file)
  const { starts } = createLineIndex(html)
  let out = ''
  let done = 0
  for (const directive of directives) {
    if (directive.kind !== 'html') continue
    const { line, column } = directive.location
    const tag = tagAround(html, (starts[line - 1] ?? 0) + column - 1)
    if (!tag || tag.start < done) continue
    out += html.slice(done, tag.start) + (await render(directive, keptAttributes(tag)))
    done = tag.end
  }
  return out + html.slice(done)
}

/** The `<img>` whose `src` value starts at `offset`. */
function tagAround(html: string, offset: number): Tag | undefined {
  for (let lt = html.lastIndexOf('<', offset); lt >= 0; lt = html.lastIndexOf('<', lt - 1)) {
    const tag = readTag(html, lt)
    const src = tag && attribute(tag, 'src')
    if (tag && src && src.valueStart <= offset && offset < tag.end) return tag
  }
  return undefined
}

function keptAttributes(tag: Tag): PictureAttributes {
  const value = (name: string) => {
    const raw = attribute(tag, name)?.value
    return raw === undefined ? undefined : decodeAttributeEntities(raw)
  }
  const attrs: PictureAttributes = {}
  for (const name of ['sizes', 'class', 'style'] as const) {
    const v = value(name)
    if (v !== undefined) attrs[name] = v
  }
  const loading = value('loading')
  if (loading === 'lazy' || loading === 'eager') attrs.loading = loading
  const decoding = value('decoding')
  if (decoding === 'async' || decoding === 'sync' || decoding === 'auto') attrs.decoding = decoding
  const priority = value('fetchpriority')
  if (priority === 'high' || priority === 'low' || priority === 'auto') attrs.fetchpriority = priority
  return attrs
}
