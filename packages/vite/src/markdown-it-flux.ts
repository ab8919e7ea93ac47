import { randomBytes } from 'node:crypto'
import { type Directive, escapeHtml, type ImageResult, pictureElement, plainText } from '@flux-images/core'
import { directiveImage, markdownDirectives, urlImage } from '@flux-images/core/dev'
import { templateHtml } from './markdown-picture.js'
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
  normalizeLink(url: string): string
  utils: { unescapeAll(text: string): string }
}
/** VitePress's env: the page's file (`realPath` for a dynamic route's source) and its body. */
interface Env {
  path?: string
  realPath?: string
  content?: string
  [PAGE]?: Page
}

const PAGE = Symbol('flux-images page')
/** One render of one page: its source, its markdown directives, its images on their way. */
interface Page {
  file: string
  src: string
  directives: Directive[]
  marker: string
  images: Promise<ImageResult>[]
}
/** What the core rule leaves on an image token (real or typed): its directive, or where its block starts in the source. */
interface ImageMeta {
  directive?: Directive
  block?: number
}

/**
 * The markdown-it plugin for VitePress 2 (`markdown: { config: (md) => md.use(markdownItFlux) }`):
 * each markdown image whose URL is a `flux:` directive, and the typed-anyway
 * `![alt](flux:with spaces)` (text to markdown-it), becomes its `<picture>`, from the session of
 * `flux()` in the config's `vite.plugins`. Each is found among the page's directives (core's
 * `markdownDirectives`: the build's index, else one scan of the page) in its block's lines, in
 * order. markdown-it renders synchronously: each image is asked for as it renders and written in
 * once the page's `renderAsync` has them all.
 */
export function markdownItFlux(md: MarkdownIt): void {
  const renderAsync = md.renderAsync?.bind(md)
  if (!renderAsync) {
    throw new Error(
      '[flux] markdownItFlux needs an async markdown renderer (md.renderAsync, as VitePress 2 has): images are made while pages render. VitePress 1 is not supported.',
    )
  }
  md.core.ruler.push('flux_images', ({ tokens, Token, env }) => {
    const page = env[PAGE]
    if (!page) return
    // VitePress parses the body alone (`env.content`, set by its frontmatter plugin): the offset
    // each of its lines starts at in the page's source.
    const body = env.content !== undefined && page.src.endsWith(env.content) ? env.content : page.src
    const lines = [page.src.length - body.length]
    for (let at = page.src.indexOf('\n', lines[0]); at >= 0; at = page.src.indexOf('\n', at + 1))
      lines.push(at + 1)
    for (const block of tokens) {
      if (!block.children || !block.map) continue
      const [from, to] = [lines[block.map[0]] ?? 0, lines[block.map[1]] ?? page.src.length]
      const own = page.directives.filter(
        (d) => (d.element?.start ?? -1) >= from && (d.element?.start ?? -1) < to,
      )
      let next = 0
      block.children = block.children.flatMap((child) => {
        const src = child.type === 'image' ? (child.attrGet('src') ?? '') : ''
        if (src.startsWith('flux:')) {
          const directive = own[next]
          const same = directive && md.normalizeLink(md.utils.unescapeAll(directive.raw)) === src
          if (same) next++
          child.meta = {
            ...(child.meta as object),
            ...(same ? { directive } : { block: from }),
          } satisfies ImageMeta
          return [child]
        }
        if (child.type !== 'text' || !child.content.includes('](flux:')) return [child]
        // Typed-anyway images: the directives next in the block whose image shows as written in the text.
        const parts: Token[] = []
        let rest = child.content
        for (let directive = own[next]; directive?.element; directive = own[next]) {
          const source = page.src.slice(directive.element.start, directive.element.end)
          // As the text shows it: as written, else decoded (escapes, character references).
          const written = rest.includes(source) ? source : plainText(source)
          const at = rest.indexOf(written)
          if (at < 0) break
          next++
          const token = new Token('flux_image', '', 0)
          token.content = source
          token.meta = { directive } satisfies ImageMeta
          parts.push(text(Token, rest.slice(0, at)), token)
          rest = rest.slice(at + written.length)
        }
        return parts.length === 0
          ? [child]
          : [...parts, text(Token, rest)].filter((t) => t.content !== '' || t.type !== 'text')
      })
    }
  })
  const picture = (env: Env, meta: ImageMeta | undefined, url: string, alt: string) => {
    const page = env[PAGE]
    if (!page || !meta) return undefined
    const session = sessionFor(page.file)
    const doc = { file: page.file, source: page.src }
    page.images.push(
      meta.directive
        ? directiveImage(session, doc, meta.directive, alt)
        : urlImage(session, doc, url, alt, {
            line: page.src.slice(0, meta.block).split('\n').length,
            column: 1,
          }),
    )
    return `<!--${page.marker}:${page.images.length - 1}-->`
  }
  md.renderer.rules.flux_image = (tokens, idx, _options, env) => {
    const token = tokens[idx] as Token
    const meta = token.meta as ImageMeta
    // Outside `renderAsync`, the text as written.
    return picture(env ?? {}, meta, '', meta.directive?.params.alt ?? '') ?? escapeHtml(token.content)
  }
  const image = md.renderer.rules.image
  md.renderer.rules.image = (tokens, idx, options, env, self) => {
    const token = tokens[idx] as Token
    const url = token.attrGet('src') ?? ''
    const alt = url.startsWith('flux:') ? self.renderInlineAsText(token.children ?? [], options, env) : ''
    return (
      (url.startsWith('flux:') ? picture(env ?? {}, token.meta as ImageMeta, url, alt) : undefined) ??
      (image ? image(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options))
    )
  }
  md.renderAsync = async (src, env = {}) => {
    const file = env.realPath ?? env.path
    if (!file || !src.includes('flux:')) return renderAsync(src, env)
    const directives = await markdownDirectives(sessionFor(file), { file, source: src })
    const marker = `flux-${randomBytes(6).toString('hex')}`
    const page: Page = { file, src, directives, marker, images: [] }
    env[PAGE] = page
    const html = await renderAsync(src, env)
    delete env[PAGE]
    const images = await Promise.all(page.images)
    return html.replace(new RegExp(`<!--${marker}:(\\d+)-->`, 'g'), (_, n: string) =>
      templateHtml(pictureElement(images[Number(n)] as ImageResult)),
    )
  }
}

function text(Token: TokenClass, content: string): Token {
  const token = new Token('text', '', 0)
  token.content = content
  return token
}
