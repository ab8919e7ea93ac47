import { fluxError } from '../errors.js'

/** The cap on paid generations, for the life of one engine (`maxGenerations`). */
export interface Budget {
  readonly max: number
  /** Generations paid for so far. */
  readonly spent: number
  /** Whether `count` more generations fit. */
  covers(count: number): boolean
  /** Takes one generation off the budget, before it is requested; FLUX_BUDGET when none is left. */
  charge(): void
}

export function createBudget(max: number): Budget {
  let spent = 0
  return {
    max,
    get spent() {
      return spent
    },
    covers: (count) => count <= max - spent,
    charge() {
      if (spent >= max) throw fluxError('FLUX_BUDGET', { needed: spent + 1, max })
      spent++
    },
  }
}
