/**
 * BFL's jobs in flight, from submit to result (a polled task counts against the account's
 * limit): one bound for submits and polls together, that halves when the API answers 429 and
 * grows back by one for each bound's worth of jobs finished without one (additive increase,
 * multiplicative decrease). A model may have a lower cap of its own (Kontext max: 6).
 */
export interface BflPool {
  /** Waits for room for one more job of `model`; the ticket is released once the job is over. */
  acquire(model: { name: string; maxInFlight?: number }, signal?: AbortSignal): Promise<BflTicket>
  /** The bound now (for tests and logs). */
  readonly limit: number
}

export interface BflTicket {
  /** The API answered 429 to this job: the bound halves (once for all the jobs sent under the same bound). */
  rateLimited(): void
  /** Frees the room; `finished` counts a job that ended without a 429 towards growing back. */
  release(finished?: boolean): void
}

interface Gate {
  limit: number
  active: number
  waiting: Set<() => void>
}

/** `onHalved` hears each halving of the bound, with the bound before and after. */
export function createBflPool(max: number, onHalved?: (from: number, to: number) => void): BflPool {
  const shared: Gate = { limit: max, active: 0, waiting: new Set() }
  const perModel = new Map<string, Gate>()
  // A 429 halves the bound once per generation: the other answers to jobs sent under the same bound say the same thing.
  let generation = 0
  let finishedSince = 0

  const wake = (gate: Gate) => {
    for (const go of gate.waiting) {
      if (gate.active >= gate.limit) return
      gate.waiting.delete(go)
      gate.active++
      go()
    }
  }
  const enter = (gate: Gate, signal: AbortSignal | undefined) => {
    if (gate.active < gate.limit && gate.waiting.size === 0) {
      gate.active++
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const go = () => {
        signal?.removeEventListener('abort', abort)
        resolve()
      }
      const abort = () => {
        gate.waiting.delete(go)
        reject(signal?.reason)
      }
      signal?.throwIfAborted()
      signal?.addEventListener('abort', abort, { once: true })
      gate.waiting.add(go)
    })
  }
  const leave = (gate: Gate) => {
    gate.active--
    wake(gate)
  }

  return {
    get limit() {
      return shared.limit
    },
    async acquire(model, signal) {
      let own: Gate | undefined
      if (model.maxInFlight !== undefined && model.maxInFlight < max) {
        own = perModel.get(model.name) ?? { limit: model.maxInFlight, active: 0, waiting: new Set() }
        perModel.set(model.name, own)
        await enter(own, signal)
      }
      try {
        await enter(shared, signal)
      } catch (err) {
        if (own) leave(own)
        throw err
      }
      const sentUnder = generation
      let released = false
      let limited = false
      return {
        rateLimited() {
          limited = true
          if (sentUnder !== generation) return
          generation++
          finishedSince = 0
          const from = shared.limit
          shared.limit = Math.max(1, Math.floor(from / 2))
          if (shared.limit < from) onHalved?.(from, shared.limit)
        },
        release(finished = false) {
          if (released) return
          released = true
          if (finished && !limited && shared.limit < max && ++finishedSince >= shared.limit) {
            shared.limit++
            finishedSince = 0
          }
          leave(shared)
          if (own) leave(own)
        },
      }
    },
  }
}
