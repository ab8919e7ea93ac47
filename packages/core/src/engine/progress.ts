import type { ProgressStyle } from '../options.js'
import type { Logger } from '../types.js'

export interface ProgressCounters {
  total: number
  done: number
  inFlight: number
  cached: number
  retries: number
  failed: number
}

/** A terminal-like stream for the live line (the CLI passes process.stderr). */
export interface ProgressStream {
  isTTY?: boolean
  write(chunk: string): unknown
}

export interface Progress {
  readonly counters: ProgressCounters
  /** Redraws the live line, or logs a plain line when one is due. */
  tick(): void
  /** Clears the live line. */
  stop(): void
}

// In CI logs, one line every few seconds is informative without flooding.
const PLAIN_INTERVAL_MS = 5_000
// A live line redraws at most this often.
const LIVE_INTERVAL_MS = 100

/**
 * Progress of a generation run: a live line on a terminal (done/total, in flight, cached, retries,
 * ETA), plain periodic lines through the logger when not a TTY or when CI is set, nothing when off.
 */
export function createProgress({
  total,
  style,
  logger,
  stream,
  env = process.env,
  now = Date.now,
}: {
  total: number
  style: ProgressStyle
  logger: Logger
  stream?: ProgressStream | undefined
  env?: Readonly<Record<string, string | undefined>>
  now?: () => number
}): Progress {
  const counters: ProgressCounters = { total, done: 0, inFlight: 0, cached: 0, retries: 0, failed: 0 }
  const started = now()
  const mode =
    style === 'auto'
      ? stream?.isTTY && !env.CI
        ? 'live'
        : 'plain'
      : style === 'live' && !stream
        ? 'plain'
        : style
  let last = Number.NEGATIVE_INFINITY
  let drawn = false

  const line = (): string => {
    const { done, inFlight, cached, retries, failed } = counters
    const elapsed = now() - started
    const generated = done - cached
    const eta =
      generated > 0 && done < total ? ` · ETA ${formatDuration((elapsed / generated) * (total - done))}` : ''
    return `[flux] ${done}/${total} done · ${inFlight} in flight · ${cached} cached · ${retries} retries${failed ? ` · ${failed} failed` : ''}${eta}`
  }

  return {
    counters,
    tick() {
      if (mode === 'off' || total === 0) return
      const t = now()
      const finished = counters.done === total
      if (mode === 'live') {
        if (!finished && t - last < LIVE_INTERVAL_MS) return
        last = t
        stream?.write(`\r\x1b[2K${line()}`)
        drawn = true
      } else if (t - last >= PLAIN_INTERVAL_MS || finished) {
        last = t
        logger.info(line().replace('[flux] ', 'progress: '))
      }
    },
    stop() {
      if (drawn) stream?.write('\r\x1b[2K')
      drawn = false
    },
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes} min ${Math.round((ms % 60_000) / 1_000)} s`
}
