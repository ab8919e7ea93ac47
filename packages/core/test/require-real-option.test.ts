import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/options.js'

describe('requireReal', () => {
  it('is off unless given or set in FLUX_REQUIRE_REAL', () => {
    expect(resolveOptions({}, { env: {} }).requireReal).toBe(false)
    expect(resolveOptions({ requireReal: true }, { env: {} }).requireReal).toBe(true)
  })

  it.each([
    ['1', true],
    ['true', true],
    ['TRUE', true],
    ['0', false],
    ['false', false],
  ])('reads FLUX_REQUIRE_REAL=%s as %s, below the given option', (value, expected) => {
    expect(resolveOptions({}, { env: { FLUX_REQUIRE_REAL: value } }).requireReal).toBe(expected)
    expect(
      resolveOptions({ requireReal: !expected }, { env: { FLUX_REQUIRE_REAL: value } }).requireReal,
    ).toBe(!expected)
  })

  it('refuses any other value, naming the variable', () => {
    expect(() => resolveOptions({}, { env: { FLUX_REQUIRE_REAL: 'yes' } })).toThrow(
      'requireReal: Expected true or false, got "yes" (a string, not a boolean) (from FLUX_REQUIRE_REAL)',
    )
  })
})
