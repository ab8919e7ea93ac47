import { pathToFileURL } from 'node:url'
import { type ImageResult, renderPicture, scanMarkdown } from '@flux-images/core'
import type { FluxState } from './flux-state.js'
import { isDirectiveUrl, markdownImage } from './markdown-image.js'
import { altPromptUrl, scannedUrl } from './typed-images.js'

interface Node {
  type: string
  url?: string
  alt?: string | null
  value?: string
  children?: Node[]
  position?: { start: { offset?: number }; end: { offset?: number } }
}

/**
 * The remark plugin for the unified processor: every `flux:` image becomes the `<picture>` markup
 * (an `html` node, which remark-rehype with raw HTML and unified MDX both keep), resolved
 * concurrently. The typed-anyway form `![alt](flux:with spaces)`, text to remark, is found in text
 * nodes by core's scanner and replaced the same way.
 */
export function remarkFlux(getState: () => FluxState) {
  return () =>
    async (tree: Node, file: { path?: string; value?: unknown; extname?: string }): Promise<void> => {
      const fileURL = file.path ? pathToFileURL(file.path) : undefined
      const source = typeof file.value === 'string' ? file.value : undefined
      const mdx = file.extname === '.mdx'
      const urlOf = ({ url = '', position }: Node) => {
        const start = position?.start.offset
        const end = position?.end.offset
        if (source === undefined || start === undefined || end === undefined) return url
        return altPromptUrl(url, source, start, end, mdx) ?? url
      }
      // The typed images of a text node as the scanner reads its source, when it finds as many.
      const sourceUrls = ({ position }: Node, count: number) => {
        const start = position?.start.offset
        const end = position?.end.offset
        if (source === undefined || start === undefined || end === undefined) return undefined
        const found = scanMarkdown(source.slice(start, end), 'text', 1, { mdx }).directives
        const urls = found.filter((d) => d.kind === 'markdown').map(scannedUrl)
        // The decoded text shows an image the source does not hold (`flux:\)` unescaped): none.
        return urls.length === count && urls.every((u) => u !== undefined) ? urls : null
      }
      const jobs: Promise<void>[] = []
      const html = (image: ImageResult): Node => ({ type: 'html', value: renderPicture(image) })
      const walk = (node: Node) => {
        const children = node.children ?? []
        for (const [index, child] of children.entries()) {
          if (child.type === 'image' && child.url && isDirectiveUrl(child.url)) {
            jobs.push(
              markdownImage(getState(), urlOf(child), child.alt ?? '', fileURL).then((image) => {
                children[index] = html(image)
              }),
            )
          } else if (child.type === 'text' && child.value?.includes('](flux:')) {
            const parts = typedImages(child.value)
            if (parts.every((part) => typeof part === 'string')) continue
            // The text was decoded and smartened by then: the requests are read from the source.
            const urls = sourceUrls(child, parts.length - parts.filter((p) => typeof p === 'string').length)
            if (urls === null) continue
            let k = 0
            jobs.push(
              Promise.all(
                parts.map(async (part) =>
                  typeof part === 'string'
                    ? { type: 'text', value: part }
                    : html(await markdownImage(getState(), urls?.[k++] ?? part.url, part.alt, fileURL)),
                ),
              ).then((nodes) => {
                // Spliced in as one parent, so sibling indexes stay valid for the other jobs.
                children[index] = { type: 'flux-group', children: nodes }
              }),
            )
          } else walk(child)
        }
      }
      walk(tree)
      await Promise.all(jobs)
      flatten(tree)
    }
}

/** A text node's value split into text and typed-anyway images (`![alt](flux:...)`). */
function typedImages(text: string): (string | { url: string; alt: string })[] {
  const lines = [0]
  for (const m of text.matchAll(/\r\n|\r|\n/g)) lines.push((m.index ?? 0) + m[0].length)
  const parts: (string | { url: string; alt: string })[] = []
  let from = 0
  for (const d of scanMarkdown(text, 'text', 1, { mdx: false }).directives) {
    const at = (lines[d.location.line - 1] ?? 0) + d.location.column - 1
    const start = text.lastIndexOf('![', at)
    const end = text.indexOf(')', at + d.raw.length)
    if (d.kind !== 'markdown' || start < from || end < 0 || !text.startsWith(d.raw, at)) continue
    parts.push(text.slice(from, start), { url: d.raw, alt: text.slice(start + 2, text.indexOf('](', start)) })
    from = end + 1
  }
  parts.push(text.slice(from))
  return parts.filter((p) => p !== '')
}

/** Replaces each `flux-group` by its children. */
function flatten(node: Node): void {
  if (!node.children) return
  node.children = node.children.flatMap((child) =>
    child.type === 'flux-group' ? (child.children ?? []) : [child],
  )
  for (const child of node.children) flatten(child)
}
