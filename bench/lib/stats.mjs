// Summaries of repeated measurements: median with min..max, as BENCHMARKS.md quotes them.
//
//   summarize([4.9, 5.1, 5.0])  -> { median: 5.0, min: 4.9, max: 5.1, n: 3, values: [...] }
//   formatRange(summary, (v) => v.toFixed(2))  -> '5.00 (4.90..5.10)'
//   formatMs(5012)  -> '5.01 s';  formatMs(840) -> '840 ms'
//   formatMB(512.3) -> '512 MiB'

/** The median (mean of the two middle values for an even count). */
export function median(values) {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** Median, min, max and count of a list of numbers. */
export function summarize(values) {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
    values,
  }
}

/** `median (min..max)`, each formatted by `format`. */
export function formatRange(summary, format = (v) => v.toFixed(2)) {
  if (summary.n === 1) return `${format(summary.median)} (1 run)`
  return `${format(summary.median)} (${format(summary.min)}..${format(summary.max)})`
}

/** Milliseconds as `840 ms` or `5.01 s`. */
export function formatMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`
}

/** Mebibytes, rounded. */
export function formatMB(mb) {
  return `${Math.round(mb)} MiB`
}

/** A ratio with two decimals and an `x`. */
export function formatRatio(r) {
  return `${r.toFixed(2)}x`
}
