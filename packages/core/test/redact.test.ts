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
