const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/**
 * Text safe in HTML content and in any quoted attribute value: escapes `& < > " '`. Control
 * characters other than tab and line breaks (HTML parse errors) become U+FFFD, as would a lone
 * surrogate when the page is written as UTF-8.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
    .replace(/\p{Cc}|\p{Cs}/gu, (c) => (c === '\t' || c === '\n' || c === '\r' ? c : '\uFFFD'))
}
