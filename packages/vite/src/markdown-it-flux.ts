import { randomBytes } from 'node:crypto'
import { relative } from 'node:path'
import {
  escapeHtml,
  type ImageResult,
  type ParsedDirective,
  pictureElement,
  scanSource,
} from '@flux-images/core'
import {
  imageRequest,
  type MarkdownPoint,
  markdownPicture,
  splitTypedImages,
  templateHtml,
} from './markdown-picture.js'
import { sessionFor } from './session-registry.js'

// The parts of markdown-it (and markdown-it-async, VitePress 2's renderer) this plugin uses.
interface Token {
  type: string
  content: string
  map: [number, number] | null
  children: Token[] | null
  meta: unknown
  attrGet(name: string): string | null
}
type TokenClass = new (type: string, tag: string, nesting: number) => Token
type Rule = (tokens: Token[], idx: number, options: unknown, env: Env, self: Renderer) => string
interface Renderer {
  rules: Record<string, Rule | undefined>
  renderToken(tokens: Token[], idx: number, options: unknown): string
  renderInlineAsText(tokens: Token[], options: unknown, env: Env): string
}
interface CoreState {
  tokens: Token[]
  env: Env
  Token: TokenClass
}
interface MarkdownIt {
  renderer: Renderer
  core: { ruler: { push(name: string, rule: (state: CoreState) => void): void } }
  renderAsync?: (src: string, env?: Env) => Promise<string>
}
/** VitePress's env: the page's file (`realPath` for a dynamic route's source) and its body. */
interface Env {
  path?: string
  realPath?: string
  content?: string
  [PAGE]?: Page
}

const PAGE = Symbol('flux-images page')
/** One render of one page: its images on their way, in document order, and where each is written. */
interface Page {
  file: string
  src: string
  marker: string
  images: Promise<ImageResult>[]
  written: Map<string, MarkdownPoint[]>
}
/** What the core rule leaves on an image token: the block's lines, and the request of a typed-anyway image. */
interface ImageMeta {
  map?: [number, number] | null
  request?: ParsedDirective
}

/**
 * The markdown-it plugin for VitePress 2 (`markdown: { config: (md) => md.use(markdownItFlux) }`):
 * each markdown image whose URL is a `flux:` directive, and the typed-anyway
 * `![alt](flux:with spaces)` (text to markdown-it, read by core's scanner), becomes its
 * `<picture>`, from the session of `flux()` in the config's `vite.plugins`. markdown-it renders
 * synchronously: each image is asked for as it renders and written in once the page's
 * `renderAsync` has them all. Errors are located where core's scanner finds the directive.
 */
export function markdownItFlux(md: MarkdownIt): void {
  const renderAsync = md.renderAsync?.bind(md)
  if (!renderAsync) {
    throw new Error(
      '[flux] markdownItFlux needs an async markdown renderer (md.renderAsync, as VitePress 2 has): images are made while pages render. VitePress 1 is not supported.',
    )
  }
  md.core.ruler.push('flux_images', ({ tokens, Token }) => {
    for (const block of tokens) {
      if (!block.children) continue
      block.children = block.children.flatMap((child) => {
        if (child.type === 'image') child.meta = { ...(child.meta as object), map: block.map }
        const parts =
          child.type === 'text' && child.content.includes('](flux:') && splitTypedImages(child.content)
        if (!parts) return [child]
        return parts.map((part) => {
          const token = new Token(typeof part === 'string' ? 'text' : 'flux_image', '', 0)
          token.content = typeof part === 'string' ? part : child.content.slice(part.offset, part.end)
          if (typeof part !== 'string')
            token.meta = { map: block.map, request: part.request } satisfies ImageMeta
          return token
        })
      })
    }
  })
  const image = md.renderer.rules.image
  const picture = (request: ParsedDirective | undefined, meta: ImageMeta | undefined, env: Env) => {
    const page = env[PAGE]
    if (!page || !request) return undefined
    // Where the scanner found it, else the first line of its block (VitePress parses the body
    // alone, `env.content`, without the frontmatter's lines).
    const body = env.content !== undefined && page.src.endsWith(env.content) ? env.content : page.src
    const skipped = page.src.slice(0, page.src.length - body.length).split('\n').length - 1
    const at = page.written.get(keyOf(request))?.shift() ?? {
      line: 1 + skipped + (meta?.map?.[0] ?? 0),
      column: 1,
    }
    page.images.push(markdownPicture(request, page.file, at))
    return `<!--${page.marker}:${page.images.length - 1}-->`
  }
  md.renderer.rules.flux_image = (tokens, idx, _options, env) => {
    const token = tokens[idx] as Token
    // Outside `renderAsync`, the text as written.
    return (
      picture((token.meta as ImageMeta).request, token.meta as ImageMeta, env ?? {}) ??
      escapeHtml(token.content)
    )
  }
  md.renderer.rules.image = (tokens, idx, options, env, self) => {
    const token = tokens[idx] as Token
    const url = token.attrGet('src') ?? ''
    const request = url.startsWith('flux:')
      ? imageRequest(url, self.renderInlineAsText(token.children ?? [], options, env))
      : undefined
    return (
      picture(request, token.meta as ImageMeta, env ?? {}) ??
      (image ? image(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options))
    )
  }
  md.renderAsync = async (src, env = {}) => {
    const file = env.realPath ?? env.path
    if (!file || !src.includes('flux:')) return renderAsync(src, env)
    const root = sessionFor(file).options.root
    const written = new Map<string, MarkdownPoint[]>()
    for (const d of scanSource(relative(root, file), src).directives) {
      if (d.kind !== 'markdown') continue
      const key = keyOf(d)
      written.set(key, [...(written.get(key) ?? []), { line: d.location.line, column: d.location.column }])
    }
    const marker = `flux-${randomBytes(6).toString('hex')}`
    const page: Page = { file, src, marker, images: [], written }
    env[PAGE] = page
    const html = await renderAsync(src, env)
    delete env[PAGE]
    const images = await Promise.all(page.images)
    return html.replace(new RegExp(`<!--${marker}:(\\d+)-->`, 'g'), (_, n: string) =>
      templateHtml(pictureElement(images[Number(n)] as ImageResult)),
    )
  }
}

/** A request as written, to find an image's place among the scanner's directives. */
function keyOf({ prompt, params }: ParsedDirective): string {
  return JSON.stringify([prompt, Object.entries(params).sort(([a], [b]) => a.localeCompare(b))])
}
