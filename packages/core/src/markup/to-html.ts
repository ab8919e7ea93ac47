import { escapeHtml } from '../optimize/escape-html.js'
import type { MarkupElement } from './markup-element.js'

// Elements without an end tag (the HTML spec's void elements that markup here writes).
const VOID = new Set(['img', 'source'])

/** The element as HTML: attributes double-quoted and escaped, void elements without an end tag. */
export function toHtml({ tag, attrs, children }: MarkupElement): string {
  let attributes = ''
  for (const [name, value] of Object.entries(attrs)) attributes += ` ${name}="${escapeHtml(value)}"`
  if (VOID.has(tag)) return `<${tag}${attributes}>`
  return `<${tag}${attributes}>${children.map(toHtml).join('')}</${tag}>`
}
