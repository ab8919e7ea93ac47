import type { PictureAttributes } from '../../markup/index.js'
import type { Directive } from '../../types.js'
import { decodeAttributeEntities } from '../grammar/entities.js'
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
  let out = ''
  let done = 0
  for (const directive of directives) {
    const { element } = directive
    if (directive.kind !== 'html' || element === undefined || element.start < done) continue
    // The tag the scanner found, read again only for the attributes the `<picture>` keeps.
    const tag = readTag(html, element.start, { end: element.end })
    if (tag === undefined) continue
    out += html.slice(done, element.start) + (await render(directive, keptAttributes(tag)))
    done = element.end
  }
  return out + html.slice(done)
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
