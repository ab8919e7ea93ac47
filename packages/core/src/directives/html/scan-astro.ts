import { scanCodeRange } from '../code/scan-code.js'
import { runScan, type ScanContext, type ScanResult } from '../scan-context.js'
import { scanHtmlRange } from './scan-html.js'

/**
 * An `.astro` file: its `---` frontmatter is code (`flux:` imports), its template is HTML
 * (`<img src="flux:...">`, inline `<script>` imports) with JSX-style `{expressions}`, plus the
 * `<FluxImage prompt="..." size="..." model="..." quality="..." seed="..." alt="..." />`
 * component (kind `component`, static values only: see `scanHtml`).
 */
export function scanAstro(text: string, file: string): ScanResult {
  return runScan(text, file, 1, (ctx) => scanAstroRange(ctx))
}

function scanAstroRange(ctx: ScanContext): void {
  const { text } = ctx
  const fence = codeFence(text)
  if (fence !== undefined) scanCodeRange(ctx, fence.codeStart, fence.codeEnd)
  scanHtmlRange(ctx, fence?.templateStart ?? 0, text.length, { jsx: true, components: true })
}

/** The component script between `---` lines, which only whitespace may precede. */
function codeFence(text: string): { codeStart: number; codeEnd: number; templateStart: number } | undefined {
  const open = /^\s*---/.exec(text)
  if (open === null) return undefined
  const codeStart = open[0].length
  // The closing fence starts a line; an unclosed script runs to the end, as Astro reads it.
  const close = /(?:\r\n|\r|\n)[ \t]*---/g
  close.lastIndex = codeStart
  const match = close.exec(text)
  if (match === null) return { codeStart, codeEnd: text.length, templateStart: text.length }
  return { codeStart, codeEnd: match.index, templateStart: match.index + match[0].length }
}
