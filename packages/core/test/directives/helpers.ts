import type { ScanResult } from '../../src/directives/index.js'
import type { Directive } from '../../src/types.js'

/** A directive as a compact row: kind, line, column, prompt, params. */
export type Row = [Directive['kind'], number, number, string, Directive['params']]

export function rows(result: ScanResult): Row[] {
  return result.directives.map((d) => [d.kind, d.location.line, d.location.column, d.prompt, d.params])
}

export function prompts(result: ScanResult): string[] {
  return result.directives.map((d) => d.prompt)
}

/** The offset of a 1-based line and column in `text` (`\n`, `\r\n` and `\r` end lines). */
export function offsetOf(text: string, line: number, column: number, firstLine = 1): number {
  let offset = text.charCodeAt(0) === 0xfeff ? 1 : 0
  for (let l = firstLine; l < line; l++) {
    const lf = text.indexOf('\n', offset)
    const cr = text.indexOf('\r', offset)
    const next = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf
    if (next < 0) return -1
    offset = next + (text[next] === '\r' && text[next + 1] === '\n' ? 2 : 1)
  }
  return offset + column - 1
}

/**
 * The invariant every scanner keeps: each directive's `raw` is the text found at its location,
 * and the result has the right shape. Returns a reason when it does not hold.
 */
export function checkLocations(
  text: string,
  file: string,
  result: ScanResult,
  firstLine = 1,
): string | undefined {
  for (const d of result.directives) {
    if (d.location.file !== file) return `wrong file ${d.location.file}`
    const at = offsetOf(text, d.location.line, d.location.column, firstLine)
    if (at < 0 || text.slice(at, at + d.raw.length) !== d.raw) {
      return `raw ${JSON.stringify(d.raw)} is not at ${d.location.line}:${d.location.column}`
    }
    // The span is the same place as offsets, and the element holds it.
    if (d.span.start !== at || text.slice(d.span.start, d.span.end) !== d.raw) {
      return `span ${d.span.start}-${d.span.end} is not raw ${JSON.stringify(d.raw)} at ${at}`
    }
    const element = d.element === undefined ? undefined : text.slice(d.element.start, d.element.end)
    const shape = { html: /^<.*>$/s, component: /^<FluxImage.*>$/s, markdown: /^!\[.*\)$/s }[
      d.kind as 'html' | 'component' | 'markdown'
    ]
    if ((shape === undefined) !== (element === undefined)) return `${d.kind} element ${element}`
    if (element !== undefined && d.element !== undefined) {
      if (!shape?.test(element)) return `${d.kind} element ${JSON.stringify(element)}`
      if (d.span.start < d.element.start || d.span.end > d.element.end)
        return `span outside element ${JSON.stringify(element)}`
    }
    if (typeof d.prompt !== 'string' || d.prompt !== d.prompt.trim())
      return `untrimmed prompt ${JSON.stringify(d.prompt)}`
  }
  for (const e of result.errors) if (!e.message.startsWith('[flux] ')) return `bad error ${e.message}`
  return undefined
}
