import { ERRORS, FluxError } from '../errors.js'
import type { Directive, DirectiveKind, ParsedDirective, Span } from '../types.js'
import { createLineIndex, type LineIndex } from './line-index.js'

/** What every scanner returns. Scanners never throw: problems come back as `errors`. */
export interface ScanResult {
  directives: Directive[]
  errors: FluxError[]
}

/** The catalog codes a scanner reports; both take a `reason`. */
export type ScanErrorCode = 'FLUX_FRONTMATTER' | 'FLUX_INVALID_DIRECTIVE'

/** The state one scan of one file shares between the scanners it runs (internal). */
export interface ScanContext {
  readonly text: string
  readonly file: string
  readonly lines: LineIndex
  /** Records a directive whose `raw` text starts at `offset`, inside the markup at `element`. */
  add(kind: DirectiveKind, offset: number, raw: string, parsed: ParsedDirective, element?: Span): void
  fail(code: ScanErrorCode, reason: string, offset: number, hint?: string): void
}

interface Found {
  offset: number
  directive: Directive
}

export function createScanContext(
  text: string,
  file: string,
  firstLine = 1,
): ScanContext & { finish(): ScanResult } {
  const lines = createLineIndex(text, firstLine)
  const found: Found[] = []
  const errors: FluxError[] = []
  const location = (offset: number) => ({ file, ...lines.locate(offset) })
  return {
    text,
    file,
    lines,
    add(kind, offset, raw, parsed, element) {
      const span = { start: offset, end: offset + raw.length }
      const directive: Directive = { kind, location: location(offset), raw, span, ...parsed }
      if (element) directive.element = element
      found.push({ offset, directive })
    },
    fail(code, reason, offset, hint) {
      errors.push(new FluxError(code, ERRORS[code].message({ reason }), { location: location(offset), hint }))
    },
    finish() {
      found.sort((a, b) => a.offset - b.offset)
      return { directives: found.map((f) => f.directive), errors }
    },
  }
}

/** Runs a scan so that no input can make it throw: a bug becomes an error result, not a crash. */
export function runScan(
  text: string,
  file: string,
  firstLine: number,
  scan: (ctx: ScanContext) => void,
): ScanResult {
  const ctx = createScanContext(typeof text === 'string' ? text : '', file, firstLine)
  try {
    scan(ctx)
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    ctx.fail('FLUX_INVALID_DIRECTIVE', `Scanning for directives failed: ${reason}`, 0)
  }
  return ctx.finish()
}

/** Applies an image's alt text: it fills an empty prompt, and `params.alt` unless the query set it. */
export function withAlt(parsed: ParsedDirective, alt: string | undefined): ParsedDirective {
  const text = alt?.trim() ?? ''
  if (text === '') return parsed
  const params = parsed.params.alt === undefined ? { ...parsed.params, alt: text } : parsed.params
  return { ...parsed, prompt: parsed.prompt === '' ? text : parsed.prompt, params }
}
