/** A hast element, as Sätteri's and rehype's trees hold them. */
export interface HastElement {
  type: 'element'
  tagName: string
  properties: Record<string, string | string[]>
  children: HastElement[]
}

// HTML attribute -> hast property, for the attributes renderPicture writes.
const PROPERTY: Readonly<Record<string, string>> = {
  srcset: 'srcSet',
  fetchpriority: 'fetchPriority',
  class: 'className',
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" }

/**
 * The hast tree of renderPicture's markup (`<picture>`, `<source>`s, `<img>`), so one function
 * decides the attributes. MDX compiles raw HTML nowhere, but compiles this tree like any element.
 */
export function pictureHast(html: string): HastElement {
  const children = [...html.matchAll(/<(source|img)((?:\s+[\w-]+="[^"]*")*)>/g)].map(
    ([, tagName = '', attrs = '']): HastElement => ({
      type: 'element',
      tagName,
      properties: Object.fromEntries(
        [...attrs.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, name = '', value = '']) => {
          const text = value.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ENTITIES[e] ?? '')
          return [PROPERTY[name] ?? name, name === 'class' ? text.split(/\s+/) : text]
        }),
      ),
      children: [],
    }),
  )
  return { type: 'element', tagName: 'picture', properties: {}, children }
}
