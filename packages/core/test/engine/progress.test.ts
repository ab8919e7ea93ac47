import { describe, expect, it } from 'vitest'
import { createProgress, formatDuration } from '../../src/engine/progress.js'

function recorder() {
  const lines: string[] = []
  const logger = { info: (m: string) => lines.push(m), warn() {}, error() {} }
  return { lines, logger }
}

describe('createProgress', () => {
  it('draws a live line on a TTY, with ETA, and clears it', () => {
    let t = 0
    const chunks: string[] = []
    const { logger, lines } = recorder()
    const p = createProgress({
      total: 4,
      style: 'auto',
      logger,
      stream: { isTTY: true, write: (c: string) => chunks.push(c) },
      env: {},
      now: () => t,
    })
    p.counters.done = 1
    p.counters.cached = 0
    p.counters.inFlight = 2
    t = 1_000
    p.tick()
    expect(chunks.at(-1)).toBe('\r\x1b[2K[flux] 1/4 done · 2 in flight · 0 cached · 0 retries · ETA 3.0 s')
    p.stop()
    expect(chunks.at(-1)).toBe('\r\x1b[2K')
    expect(lines).toEqual([])
  })

  it('logs plain periodic lines in CI, and always the last one', () => {
    let t = 0
    const chunks: string[] = []
    const { logger, lines } = recorder()
    const p = createProgress({
      total: 2,
      style: 'auto',
      logger,
      stream: { isTTY: true, write: (c: string) => chunks.push(c) },
      env: { CI: 'true' },
      now: () => t,
    })
    p.tick()
    t = 100
    p.counters.done = 1
    p.tick() // too soon: skipped
    t = 200
    p.counters.done = 2
    p.tick() // finished: always shown
    expect(chunks).toEqual([])
    expect(lines).toEqual([
      'progress: 0/2 done · 0 in flight · 0 cached · 0 retries',
      'progress: 2/2 done · 0 in flight · 0 cached · 0 retries',
    ])
  })

  it('prints nothing when off', () => {
    const { logger, lines } = recorder()
    const p = createProgress({ total: 2, style: 'off', logger })
    p.tick()
    expect(lines).toEqual([])
  })
})

describe('formatDuration', () => {
  it('reads well at every scale', () => {
    expect(formatDuration(250)).toBe('250 ms')
    expect(formatDuration(2_500)).toBe('2.5 s')
    expect(formatDuration(125_000)).toBe('2 min 5 s')
  })
})
