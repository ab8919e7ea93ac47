import { describe, expect, it } from 'vitest'
import { printable, redact, redactingLogger } from '../src/redact.js'
import type { Logger } from '../src/types.js'

// Regression (issue 16, item 10): escape sequences in prompts, model names and gateway answers
// reached the terminal unescaped through log lines.
describe('printable', () => {
  it.each([
    ['ESC (CSI, OSC)', '\u001b[2J\u001b]0;title\u0007', '\\x1b[2J\\x1b]0;title\\x07'],
    ['CR (overwrites the line)', 'ok\rFAKE', 'ok\\x0dFAKE'],
    ['NUL and DEL', 'a\u0000b\u007f', 'a\\x00b\\x7f'],
    ['C1 CSI', '\u009b31m', '\\x9b31m'],
    ['bidi override and isolate', 'a\u202eb\u2066c', 'a\\u202eb\\u2066c'],
  ])('writes out %s', (_kind, text, shown) => {
    expect(printable(text)).toBe(shown)
  })

  it('keeps newlines, tabs and every printable character', () => {
    const text = '[flux] a.md:1:1: Unknown model "x".\n  hint:\tuse café 🌅 «»'
    expect(printable(text)).toBe(text)
  })
})

describe('redactingLogger', () => {
  it('writes out control characters and redacts the key on every level', () => {
    const lines: string[] = []
    const sink: Logger = {
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      error: (m) => lines.push(m),
      debug: (m) => lines.push(m),
    }
    const logger = redactingLogger(sink, 'sk-secret')
    const message = 'prompt "\u001b[31mred\u009b0m" key sk-secret'
    logger.info(message)
    logger.warn(message)
    logger.error(message)
    logger.debug?.(message)
    expect(lines).toEqual(Array(4).fill('prompt "\\x1b[31mred\\x9b0m" key [redacted]'))
    expect(redact('Bearer abc', undefined)).toBe('Bearer [redacted]')
  })
})

// Regression (issue 23, section 2): only the exact key and `Bearer <key>` were redacted; a
// lowercased, URL-encoded or base64 copy of the key in a gateway's revised_prompt reached the
// committed metadata.
describe('redact: the key in every form a gateway or a log may hold it', () => {
  // Mixed case and `+/=`: every form below differs from the key as it is.
  const KEY = 'sk-Flux+Gate/Way=Key0123456789AbCd'
  const b64 = (text: string) => Buffer.from(text).toString('base64')
  const b64url = (text: string) => Buffer.from(text).toString('base64url')

  // What is left is the text around the key and, in base64, only characters made of the bits of
  // the bytes around it ("QmVhcmVyI" is "Bearer" and the top 6 bits of the space; "=" is padding).
  it.each([
    ['as is', KEY, 'a [redacted] b'],
    ['lowercase', KEY.toLowerCase(), 'a [redacted] b'],
    ['uppercase', KEY.toUpperCase(), 'a [redacted] b'],
    ['URL-encoded', encodeURIComponent(KEY), 'a [redacted] b'],
    ['URL-encoded, lowercase', encodeURIComponent(KEY).toLowerCase(), 'a [redacted] b'],
    ['base64', b64(KEY), 'a [redacted]== b'],
    ['base64url', b64url(KEY), 'a [redacted] b'],
    ['base64 of `Bearer <key>`', b64(`Bearer ${KEY}`), 'a QmVhcmVyI[redacted]= b'],
    ['base64url of `Bearer <key>`', b64url(`Bearer ${KEY}`), 'a QmVhcmVyI[redacted] b'],
    ['base64 of `user:<key>` (Basic)', b64(`user:${KEY}`), 'a dXNlcj[redacted] b'],
  ])('%s', (form, text, redacted) => {
    if (form !== 'as is') expect(text).not.toContain(KEY)
    expect(redact(`a ${text} b`, KEY)).toBe(redacted)
  })

  it('leaves text without the key alone, base64 included', () => {
    const text = `sk-other-0123456789abcd, ${b64('hello world')}, ${b64url(`Bearer sk-other-0123456789abcd`)}`
    expect(redact(text, KEY)).toBe(text)
  })

  it('every log line: one line holding all the forms keeps none', () => {
    const lines: string[] = []
    const logger = redactingLogger({ info: (m) => lines.push(m), warn() {}, error() {} }, KEY)
    logger.info(`${KEY.toLowerCase()} ${encodeURIComponent(KEY)} ${b64(KEY)} ${b64url(`Bearer ${KEY}`)}`)
    expect(lines).toEqual(['[redacted] [redacted] [redacted]== QmVhcmVyI[redacted]'])
  })
})
