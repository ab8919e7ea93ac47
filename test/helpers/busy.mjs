#!/usr/bin/env node
/**
 * Keeps the machine busy so the tests can be run as on a loaded CI box:
 * `node test/helpers/busy.mjs [workers] [-- command args...]`.
 *
 * Starts `workers` child processes (default: one per CPU) that each spin a core at 100%.
 * With a command, runs it under that load and exits with its status; without one, spins
 * until interrupted. Prints the load it applied on stderr.
 */
import { fork, spawn } from 'node:child_process'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

if (process.argv[2] === '--spin') {
  // A worker: burn CPU in short slices so it still notices its parent going away.
  const spin = () => {
    const until = Date.now() + 50
    let x = 0
    while (Date.now() < until) x = (x * 1103515245 + 12345) % 2147483648
    setImmediate(spin)
  }
  process.on('disconnect', () => process.exit(0))
  spin()
} else {
  const dash = process.argv.indexOf('--')
  const head = dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash)
  const command = dash === -1 ? [] : process.argv.slice(dash + 1)
  const workers = Number(head[0] ?? availableParallelism())
  if (!Number.isInteger(workers) || workers < 1) {
    console.error(`[busy] expected \`workers\` to be a whole number from 1 and up, got ${head[0]}`)
    process.exit(2)
  }
  const self = fileURLToPath(import.meta.url)
  const spinners = Array.from({ length: workers }, () => fork(self, ['--spin'], { stdio: 'inherit' }))
  const stop = () => {
    for (const child of spinners) child.kill()
  }
  console.error(
    `[busy] ${workers} spinning processes on ${availableParallelism()} CPUs (load average ${loadavg()[0]?.toFixed(2)})`,
  )
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ]) {
    process.on(signal, () => {
      stop()
      process.exit(code)
    })
  }
  if (command.length > 0) {
    const started = Date.now()
    const child = spawn(command[0], command.slice(1), { stdio: 'inherit' })
    child.on('close', (code, signal) => {
      console.error(
        `[busy] ${command.join(' ')}: ${signal ?? `exit ${code}`} after ${((Date.now() - started) / 1000).toFixed(1)} s (load average ${loadavg()[0]?.toFixed(2)})`,
      )
      stop()
      process.exit(code ?? 1)
    })
  }
}
