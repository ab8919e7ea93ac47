import type { Logger } from '../types.js'

/** The CLI's logger: everything to stderr (stdout carries command output such as `scan --json`). */
export function createConsoleLogger(
  stream: NodeJS.WritableStream = process.stderr,
  { debug = false } = {},
): Logger {
  const write = (message: string) =>
    stream.write(`${message.startsWith('[flux]') ? message : `[flux] ${message}`}\n`)
  return {
    info: write,
    warn: write,
    error: write,
    debug: debug ? write : undefined,
  }
}
