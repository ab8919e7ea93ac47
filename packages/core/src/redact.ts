import type { Logger } from './types.js'

const REDACTED = '[redacted]'

/** Removes a secret, and any `Bearer <token>`, from a text. */
export function redact(text: string, secret: string | undefined): string {
  const bearerFree = text.replace(/Bearer\s+[^\s"',}]+/gi, `Bearer ${REDACTED}`)
  return secret ? bearerFree.split(secret).join(REDACTED) : bearerFree
}

/** A logger that can never print the secret, whatever a gateway echoes back. */
export function redactingLogger(logger: Logger, secret: string | undefined): Logger {
  const wrap = (fn: (m: string) => void) => (message: string) => fn(redact(message, secret))
  return {
    info: wrap((m) => logger.info(m)),
    warn: wrap((m) => logger.warn(m)),
    error: wrap((m) => logger.error(m)),
    debug: logger.debug ? wrap((m) => logger.debug?.(m)) : undefined,
  }
}
