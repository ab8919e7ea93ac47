import { scanCode } from './code/scan-code.js'
import { findFrontmatter, scanFrontmatterRange } from './frontmatter/scan-frontmatter.js'
import { scanAstro } from './html/scan-astro.js'
import { scanHtml, scanHtmlRange } from './html/scan-html.js'
import { scanMarkdownRange } from './markdown/scan-markdown.js'
import { runScan, type ScanResult } from './scan-context.js'

/** The extensions `scanSource` reads (lower case, with the dot); any other file has no directives. */
export const SOURCE_EXTENSIONS = [
  '.md',
  '.markdown',
  // mdsvex's markdown (SvelteKit).
  '.svx',
  '.mdx',
  '.html',
  '.htm',
  '.astro',
  '.js',
  '.jsx',
  '.ts',
  '.tsx',
  '.mjs',
  '.cjs',
  '.mts',
  '.cts',
  '.vue',
  '.svelte',
] as const

/**
 * Scans one source file by its extension (a Vite id's `?query` or `#hash` is ignored):
 * markdown and MDX (frontmatter, then the body with its own line numbers), HTML, Astro,
 * JS/TS, and Vue/Svelte (template HTML and `<script>` blocks).
 */
export function scanSource(file: string, text: string): ScanResult {
  switch (extensionOf(file)) {
    case '.md':
    case '.markdown':
    case '.svx':
      return scanDocument(text, file, false)
    case '.mdx':
      return scanDocument(text, file, true)
    case '.html':
    case '.htm':
    case '.vue':
      return scanHtml(text, file)
    case '.svelte':
      return runScan(text, file, 1, (ctx) => scanHtmlRange(ctx, 0, ctx.text.length, { jsx: true }))
    case '.astro':
      return scanAstro(text, file)
    case '.js':
    case '.jsx':
    case '.ts':
    case '.tsx':
    case '.mjs':
    case '.cjs':
    case '.mts':
    case '.cts':
      return scanCode(text, file)
    default:
      return { directives: [], errors: [] }
  }
}

function scanDocument(text: string, file: string, mdx: boolean): ScanResult {
  return runScan(text, file, 1, (ctx) => {
    const frontmatter = findFrontmatter(ctx.text)
    if (frontmatter !== undefined) scanFrontmatterRange(ctx, frontmatter)
    scanMarkdownRange(ctx, frontmatter?.bodyStart ?? 0, ctx.text.length, mdx)
  })
}

/** `.md` for `posts/a.MD?raw`: lower case, with the dot; '' when there is none. */
export function extensionOf(file: string): string {
  const path = file.replace(/[?#].*$/s, '')
  const dot = path.lastIndexOf('.')
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'))
  return dot > slash + 1 ? path.slice(dot).toLowerCase() : ''
}
