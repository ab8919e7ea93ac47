import { decodeHTMLAttribute, decodeHTMLStrict } from 'entities'

/**
 * A CommonMark character reference: a name of the HTML5 table (the longest has 31 characters),
 * 1 to 7 decimal digits or 1 to 6 hex digits, always closed by `;`. Bounded repetitions: no
 * backtracking blow-up on long runs of `&#` or letters.
 */
export const MARKDOWN_REFERENCE = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g

/**
 * One markdown character reference (`&eacute;`, `&#233;`, `&#xE9;`) as CommonMark parsers read
 * it: the full HTML5 named table (by `entities`, the library of markdown-it, parse5 and
 * htmlparser2), and numeric ones by micromark's rule, which Sätteri, remark and MDX share (NUL,
 * controls, surrogates and noncharacters become U+FFFD, no Windows-1252 remap as in HTML).
 * An unknown name is kept as written.
 */
export function decodeMarkdownReference(reference: string): string {
  if (reference.charCodeAt(1) !== 35) return decodeHTMLStrict(reference)
  const hex = reference.charCodeAt(2) === 120 || reference.charCodeAt(2) === 88
  const code = Number.parseInt(reference.slice(hex ? 3 : 2, -1), hex ? 16 : 10)
  return isReplacedCodePoint(code) ? '\ufffd' : String.fromCodePoint(code)
}

/** Decodes the character references of markdown text (no backslash escapes: see the callers). */
export function decodeMarkdownEntities(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(MARKDOWN_REFERENCE, decodeMarkdownReference)
}

/**
 * An HTML attribute value as the browser reads it: the full named table, legacy names without
 * `;` unless followed by an alphanumeric or `=`, numeric references with HTML's replacements.
 */
export function decodeAttributeEntities(value: string): string {
  return value.includes('&') ? decodeHTMLAttribute(value) : value
}

// micromark-util-decode-numeric-character-reference, the rule of every processor Astro runs.
function isReplacedCodePoint(code: number): boolean {
  return (
    code < 9 ||
    code === 11 ||
    (code > 13 && code < 32) ||
    (code > 126 && code < 160) ||
    (code > 0xd7ff && code < 0xe000) ||
    (code > 0xfdcf && code < 0xfdf0) ||
    (code & 0xffff) === 0xffff ||
    (code & 0xffff) === 0xfffe ||
    code > 0x10ffff
  )
}
