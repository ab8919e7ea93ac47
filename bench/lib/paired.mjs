// Paired comparisons on a noisy, shared machine: contenders run alternately (A B A B ...), and
// every ratio is taken pair by pair, so a slow minute hurts both sides of the same pair.
//
//   const result = await runPaired({
//     pairs: 3,
//     contenders: { ours: () => measureProcess(...), peer: () => measureProcess(...) },
//     before: (name, i) => clearCaches(),     // untimed set-up before each run (optional)
//     log: (line) => process.stderr.write(`${line}\n`),
//   })
//   result.runs.ours                          // the measurements, in order
//   result.ratio('ours', 'peer')              // summarize() of ours[i].wallMs / peer[i].wallMs
//   result.ratio('ours', 'peer', 'peakRssMB') // any numeric field
//   result.summary('ours', 'cpuMs')           // summarize() of one contender's field
//
// With more than two contenders, each round runs them all in order, and the order is reversed
// every other round (A B C, C B A, ...) so that none always runs first.
import { formatMs, summarize } from './stats.mjs'

/** Runs `pairs` rounds of every contender; see the header. A contender resolves to an object of numbers. */
export async function runPaired({ pairs, contenders, before, log = () => {} }) {
  const names = Object.keys(contenders)
  const runs = Object.fromEntries(names.map((n) => [n, []]))
  for (let round = 0; round < pairs; round++) {
    const order = round % 2 ? [...names].reverse() : names
    for (const name of order) {
      await before?.(name, round)
      const m = await contenders[name](round)
      runs[name].push(m)
      log(`  ${name} #${round + 1}: ${formatMs(m.wallMs)}`)
    }
  }
  return {
    runs,
    ratio(a, b, field = 'wallMs') {
      return summarize(runs[a].map((m, i) => m[field] / runs[b][i][field]))
    },
    summary(name, field = 'wallMs') {
      return summarize(runs[name].map((m) => m[field]))
    },
  }
}
