#!/usr/bin/env node
import { enableCompileCache } from 'node:module'
import { setFlagsFromString } from 'node:v8'

// V8's compiled code for the modules, kept on disk (in the OS temp folder) by Node: a later run
// skips compiling undici, yaml and the CLI again (NODE_DISABLE_COMPILE_CACHE=1 turns it off). Set
// before the modules load, hence the dynamic import below.
enableCompileCache()
// V8 doubles its young generation each time it fills, up to about 100 MB of memory held that is
// mostly garbage: a scan of 50,000 files peaked at 263 MiB, 144 MiB with the young generation kept
// at its first size, for the same CPU. The flag is one of the few V8 reads after start-up (hence
// set here, not on a command line no shebang can carry portably); it is the CLI's own process,
// never a host's.
setFlagsFromString('--semi-space-growth-factor=1')
const { main } = await import('./main.js')

// First Ctrl-C: stop starting requests, abort those in flight, keep what finished (writes are
// atomic), print the summary. Second Ctrl-C: leave at once (temporary files are cleaned next run).
const interrupt = new AbortController()
process.on('SIGINT', () => {
  if (interrupt.signal.aborted) process.exit(130)
  process.stderr.write(
    '\n[flux] Interrupted: stopping; finished images stay cached. Press Ctrl-C again to quit at once.\n',
  )
  interrupt.abort()
})

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: interrupt.signal,
})
