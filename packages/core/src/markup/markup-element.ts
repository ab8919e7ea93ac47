/**
 * An element of generated markup, as data: serialized last, to an HTML string (`toHtml`) or to a
 * hast node (`toHast`), so no host parses markup back into a tree.
 */
export interface MarkupElement {
  tag: string
  /** Written in this order; values as the browser reads them (unescaped). */
  attrs: Record<string, string>
  children: MarkupElement[]
}
