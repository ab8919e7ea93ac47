import { type MarkupElement, toHtml } from '@flux-images/core'

/**
 * The `<picture>` as HTML for a template language: braces written as character references, which
 * HTML reads back the same, so Svelte (mdsvex) and Vue never take an alt's `{` for an expression.
 */
export function templateHtml(element: MarkupElement): string {
  return toHtml(element).replace(/[{}]/g, (c) => (c === '{' ? '&#123;' : '&#125;'))
}
