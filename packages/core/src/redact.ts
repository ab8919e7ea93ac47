import type { Logger } from './types.js'

const REDACTED = '[redacted]'

/**
 * Removes a secret, and any `Bearer <token>`, from a text. The secret is found as it is, in any
 * letter case, percent-encoded (`encodeURIComponent`), and in base64 or base64url at any of the
 * three byte offsets, so also inside an encoded `Bearer <key>`, `user:<key>` or JSON.
 */
export function redact(text: string, secret: string | undefined): string {
  const bearerFree = text.replace(/Bearer\s+[^\s"',}]+/gi, `Bearer ${REDACTED}`)
  return secret ? bearerFree.replace(secretPattern(secret), REDACTED) : bearerFree
}

/** A base64 or base64url character. */
const BASE64_CHAR = '[A-Za-z0-9+/_-]'

/** Base64 runs shorter than this are left alone: they would match ordinary text (a short secret's). */
const MIN_BASE64_RUN = 8

// Built once per secret: the logger redacts every line. A process holds a few secrets (the API
// key, the bucket's); the map is cleared if it ever holds more.
const patterns = new Map<string, RegExp>()

/** One pattern for every form of `secret` that redact() removes. */
function secretPattern(secret: string): RegExp {
  let pattern = patterns.get(secret)
  if (pattern) return pattern
  const bytes = Buffer.from(secret, 'utf8')
  // Through its UTF-8 bytes: a lone surrogate (U+FFFD there) would make encodeURIComponent throw.
  const forms = new Set([escapeRegExp(secret), escapeRegExp(encodeURIComponent(bytes.toString()))])
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64')
    // The characters made of the secret's bits alone; the one on each side that mixes in a
    // neighbour's bits (when there is one) goes too, so no bit of the secret is left.
    const run = encoded.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + bytes.length) * 8) / 6))
    if (run.length < MIN_BASE64_RUN) continue
    for (const form of [run, run.replace(/\+/g, '-').replace(/\//g, '_')]) {
      forms.add(`${BASE64_CHAR}?${escapeRegExp(form)}${BASE64_CHAR}?`)
    }
  }
  // Longest first: a form that holds another wins.
  pattern = new RegExp([...forms].sort((a, b) => b.length - a.length).join('|'), 'gi')
  if (patterns.size >= 16) patterns.clear()
  patterns.set(secret, pattern)
  return pattern
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
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
