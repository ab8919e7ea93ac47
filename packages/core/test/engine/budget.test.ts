import { describe, expect, it } from 'vitest'
import { createBudget } from '../../src/engine/budget.js'
import { FluxError } from '../../src/errors.js'

const code = (run: () => unknown) => {
  try {
    run()
  } catch (err) {
    return FluxError.is(err) ? err.code : String(err)
  }
  return 'none'
}

describe('createBudget: maxSpend', () => {
  it('charges estimates until the next one would pass the cap (sums of cents are not rounded over it)', () => {
    const budget = createBudget(50, 0.3)
    budget.charge(0.1)
    budget.charge(0.2)
    expect(budget.spentUsd).toBeCloseTo(0.3, 9)
    expect(code(() => budget.charge(0.01))).toBe('FLUX_SPEND')
    expect(budget.spent).toBe(2)
  })

  it('settles each charge at its real cost: what the next charge sees', () => {
    const budget = createBudget(50, 0.1)
    // Estimated 1 cent, really 3: after three, a fourth estimate of 1 cent still fits, a fifth does not.
    for (let i = 0; i < 3; i++) budget.charge(0.01).settle(0.03)
    expect(budget.spentUsd).toBeCloseTo(0.09, 9)
    const fourth = budget.charge(0.01)
    expect(code(() => budget.charge(0.01))).toBe('FLUX_SPEND')
    // A real cost below its estimate gives the difference back.
    fourth.settle(0)
    expect(code(() => budget.charge(0.01))).toBe('none')
  })

  it('without maxSpend, only maxGenerations stops: FLUX_BUDGET', () => {
    const budget = createBudget(1)
    budget.charge(1_000)
    expect(code(() => budget.charge(0))).toBe('FLUX_BUDGET')
  })
})
