/**
 * Decodes `%XX` escapes (UTF-8, as `decodeURIComponent` does) but never throws: a `%` that
 * does not start a well-formed UTF-8 sequence is kept as written (`100%`, `%E9`, `%zz`).
 * `+` is not a space here: prompts may contain "C++".
 */
export function percentDecode(text: string): string {
  let i = text.indexOf('%')
  if (i < 0) return text
  let out = text.slice(0, i)
  while (i < text.length) {
    if (text.charCodeAt(i) !== 37) {
      const next = text.indexOf('%', i)
      const stop = next < 0 ? text.length : next
      out += text.slice(i, stop)
      i = stop
      continue
    }
    const bytes = utf8SequenceAt(text, i)
    if (bytes === 0) {
      out += '%'
      i += 1
    } else {
      out += decodeURIComponent(text.slice(i, i + 3 * bytes))
      i += 3 * bytes
    }
  }
  return out
}

/** True when `text[i]` is `%` followed by two hex digits. */
export function isPercentEscape(text: string, i: number): boolean {
  return text.charCodeAt(i) === 37 && hexByte(text, i) >= 0
}

/** The byte of a `%XX` escape at `i`, or -1. */
function hexByte(text: string, i: number): number {
  if (text.charCodeAt(i) !== 37) return -1
  const hi = hexDigit(text.charCodeAt(i + 1))
  const lo = hexDigit(text.charCodeAt(i + 2))
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 65 && c <= 70) return c - 55
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

/**
 * How many `%XX` escapes from `i` form one well-formed UTF-8 character (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. Exactly the inputs `decodeURIComponent`
 * accepts, so decoding them cannot throw.
 */
function utf8SequenceAt(text: string, i: number): number {
  const lead = hexByte(text, i)
  if (lead < 0) return 0
  if (lead < 0x80) return 1
  const length =
    lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0
  for (let k = 1; k < length; k++) {
    const b = hexByte(text, i + 3 * k)
    if (b < 0x80 || b > 0xbf) return 0
    if (k === 1 && !secondByteAllowed(lead, b)) return 0
  }
  return length
}

function secondByteAllowed(lead: number, b: number): boolean {
  if (lead === 0xe0) return b >= 0xa0
  if (lead === 0xed) return b <= 0x9f
  if (lead === 0xf0) return b >= 0x90
  if (lead === 0xf4) return b <= 0x8f
  return true
}
