import { describe, expect, it } from 'vitest'
import { FluxError, fluxError } from '../src/errors.js'

describe('FluxError', () => {
  it('names the location, the message and the hint', () => {
    const err = fluxError(
      'FLUX_UNKNOWN_SIZE',
      { size: '10x10', accepted: ['1024x1024'] },
      {
        location: { file: 'posts/a.md', line: 3, column: 5 },
      },
    )
    expect(err.message).toBe('[flux] posts/a.md:3:5: Unknown size "10x10". Accepted sizes: 1024x1024.')
    expect(err.code).toBe('FLUX_UNKNOWN_SIZE')
    expect(err.hint).toMatch(/`sizes` option/)
    expect(String(err)).toContain('hint:')
  })

  it('writes out control characters of a file name: a location never drives the terminal', () => {
    const err = new FluxError('FLUX_EMPTY_PROMPT', 'empty', {
      location: { file: 'posts/\u001b]0;owned\u0007\u009b2J.md', line: 1, column: 2 },
    })
    expect(err.message).toBe('[flux] posts/\\x1b]0;owned\\x07\\x9b2J.md:1:2: empty')
  })

  it('is recognised by is(), with or without a code, and nothing else is', () => {
    const err = new FluxError('FLUX_AUTH', 'no')
    expect(FluxError.is(err)).toBe(true)
    expect(FluxError.is(err, 'FLUX_AUTH')).toBe(true)
    expect(FluxError.is(err, 'FLUX_QUOTA')).toBe(false)
    expect(FluxError.is(new Error('x'))).toBe(false)
    expect(FluxError.is({ code: 'FLUX_AUTH' })).toBe(false)
  })
})
