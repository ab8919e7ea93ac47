import type { Logger } from './types.js'

const REDACTED = '[redacted]'

/** Removes a secret, and any `Bearer <token>`, from a text. */
export function redact(text: string, secret: string | undefined): string {
  const bearerFree = text.replace(/Bearer\s+[^\s"',}]+/gi, `Bearer ${REDACTED}`)
  return secret ? bearerFree.split(secret).join(REDACTED) : bearerFree
}

/**
 * Characters a terminal acts on rather than shows: C0 controls but tab and newline (so ESC and
 * CR), DEL, C1 controls (U+009B is a CSI on its own), and bidirectional overrides and isolates
 * (text that reads differently from what it is).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose.
const TERMINAL_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/** `text` with every terminal control character written out as `\xNN` or `\uNNNN`, so it prints as text. */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROL, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** The longest text `quote` shows whole. */
const MAX_QUOTED_CHARS = 200

/**
 * A text from outside (a bucket's object name or record, a gateway's answer) as a message shows
 * it: in double quotes, escaped as JSON (so a newline reads `\n` and cannot start a forged log
 * line), terminal controls and line separators written out, cut to MAX_QUOTED_CHARS with `…`.
 */
export function quote(text: string): string {
  const cut = text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text
  return printable(JSON.stringify(cut)).replace(
    /[\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  )
}

/**
 * A logger that can never print the secret, whatever a gateway echoes back, nor a control
 * sequence from a prompt, a model name or an answer: every line reaches the terminal as text.
 */
export function redactingLogger(logger: Logger, secret: string | undefined): Logger {
  const wrap = (fn: (m: string) => void) => (message: string) => fn(printable(redact(message, secret)))
  return {
    info: wrap((m) => logger.info(m)),
    warn: wrap((m) => logger.warn(m)),
    error: wrap((m) => logger.error(m)),
    debug: logger.debug ? wrap((m) => logger.debug?.(m)) : undefined,
  }
}
