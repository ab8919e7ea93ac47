import { fluxError } from '../errors.js'

/**
 * The caps of one engine's life: paid generations (`maxGenerations`) and, when set, dollars
 * (`maxSpend`). A generation is charged its estimate before it is requested, then settled at
 * its real cost once the API reports one, so the next charge sees what was really spent.
 */
export interface Budget {
  readonly max: number
  /** Generations paid for so far. */
  readonly spent: number
  /** The cap in USD; undefined when none is set. */
  readonly maxSpend: number | undefined
  /** USD spent so far: real costs where reported, estimates otherwise. */
  readonly spentUsd: number
  /** Whether `count` more generations fit. */
  covers(count: number): boolean
  /**
   * Takes one generation, estimated at `estimateUsd`, off the budget before it is requested:
   * FLUX_BUDGET when no generation is left, FLUX_SPEND when the estimate would pass `maxSpend`.
   * `settle` replaces the estimate with the real cost.
   */
  charge(estimateUsd?: number): { settle(realUsd: number): void }
}

// Sums of cents in floating point: 0.1 + 0.2 must not pass a cap of 0.3.
const EPSILON = 1e-9

export function createBudget(max: number, maxSpend?: number): Budget {
  let spent = 0
  let spentUsd = 0
  return {
    max,
    maxSpend,
    get spent() {
      return spent
    },
    get spentUsd() {
      return spentUsd
    },
    covers: (count) => count <= max - spent,
    charge(estimateUsd = 0) {
      if (spent >= max) throw fluxError('FLUX_BUDGET', { needed: spent + 1, max })
      if (maxSpend !== undefined && spentUsd + estimateUsd > maxSpend + EPSILON) {
        throw fluxError('FLUX_SPEND', { next: estimateUsd, spent: spentUsd, images: spent, max: maxSpend })
      }
      spent++
      spentUsd += estimateUsd
      let counted = estimateUsd
      return {
        settle(realUsd) {
          spentUsd += realUsd - counted
          counted = realUsd
        },
      }
    },
  }
}
