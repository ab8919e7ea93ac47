import type { MarkupElement } from './markup-element.js'

/** A hast element, as unified's and Sätteri's trees hold them. */
export interface HastElement {
  type: 'element'
  tagName: string
  properties: Record<string, string | string[]>
  children: HastElement[]
}

// HTML attribute -> hast property name, for the attributes `pictureElement` writes whose names
// differ (hast's `property-information` table; the others keep their name).
const PROPERTY: Readonly<Record<string, string>> = {
  srcset: 'srcSet',
  fetchpriority: 'fetchPriority',
  class: 'className',
}

/** The element as a hast node: a markdown processor compiles it like any element (MDX too). */
export function toHast({ tag, attrs, children }: MarkupElement): HastElement {
  const properties: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(attrs)) {
    // `class` is a space-separated list in hast.
    properties[PROPERTY[name] ?? name] = name === 'class' ? value.split(/\s+/).filter(Boolean) : value
  }
  return { type: 'element', tagName: tag, properties, children: children.map(toHast) }
}
