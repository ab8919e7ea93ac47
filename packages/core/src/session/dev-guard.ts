import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import type { Logger } from '../types.js'

export interface DevGuardOptions {
  /** URL paths (with the host's `base` and without) under which flux serves its files: variants, pending images. */
  publicPaths: readonly string[]
  /** A person at this machine let clients on the network use the dev server's images (`allowNetworkDev`). */
  network: boolean
  logger: Logger
}

/** Longest part of a refused URL shown in the log: enough to recognise it, not a page of prompt. */
const SHOWN_URL = 120

/**
 * A Connect middleware that refuses, with a 403 and one log line, every request to a flux dev URL
 * (a `flux:` module, in any form Vite resolves, and everything under the public paths) that
 * another site's page sent: one a browser marks cross-site or same-site (`Sec-Fetch-Site`), or
 * whose `Origin` or `Referer` is not this server's own (its `Host`). A page can make the browser
 * request any URL, and CORS only keeps it from reading the answer: the request alone could make
 * the developer pay. Same-origin pages pass; so do clients that send none of these headers from
 * this machine (from anywhere, with `network`). Hosts install it before their transforms.
 */
export function devGuard({ publicPaths, network, logger }: DevGuardOptions) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? '/'
    const reason = isFluxUrl(url, publicPaths) ? foreignReason(req, network) : undefined
    if (reason === undefined) {
      next()
      return
    }
    const shown = url.length > SHOWN_URL ? `${url.slice(0, SHOWN_URL)}…` : url
    logger.warn(
      `[flux] Refused ${req.method ?? 'GET'} ${JSON.stringify(shown)} (403): ${reason}. Only this dev server's own pages may ask it for images, since a request could spend your key.`,
    )
    res.statusCode = 403
    res.setHeader('Content-Type', 'text/plain; charset=utf-8')
    res.end('flux-images: refused, this request came from another site.\n')
  }
}

/** Whether a request URL names a flux module or file, encoded or not. */
export function isFluxUrl(url: string, publicPaths: readonly string[]): boolean {
  const path = url.split(/[?#]/)[0] ?? ''
  let decoded = path
  try {
    decoded = decodeURIComponent(path)
  } catch {
    // Malformed: read as sent.
  }
  const lower = decoded.toLowerCase()
  return (
    lower.includes('flux:') ||
    lower.includes('__x00__flux') ||
    lower.includes('virtual:flux-images') ||
    publicPaths.some((prefix) => decoded.startsWith(prefix))
  )
}

/** Why the request is not this server's own, or undefined when it is. */
function foreignReason(req: IncomingMessage, network: boolean): string | undefined {
  const site = header(req, 'sec-fetch-site')
  if (site === 'cross-site' || site === 'same-site') return `the browser marks it ${site}`
  const host = header(req, 'host')?.toLowerCase()
  for (const name of ['origin', 'referer'] as const) {
    const value = header(req, name)
    if (value !== undefined && hostOf(value) !== host)
      return `its ${name === 'origin' ? 'Origin' : 'Referer'} ${JSON.stringify(value.slice(0, SHOWN_URL))} is not ${JSON.stringify(`//${host ?? ''}`)}`
  }
  const vouched =
    site !== undefined || header(req, 'origin') !== undefined || header(req, 'referer') !== undefined
  if (!vouched && !network && !isLoopback(req.socket.remoteAddress))
    return `it came from ${JSON.stringify(req.socket.remoteAddress ?? 'an unknown address')}, another machine (set allowNetworkDev to let the network use this dev server)`
  return undefined
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase()
  } catch {
    return undefined // `null` (an opaque origin) or garbage: no one's own.
  }
}

/** Whether an address is this machine's: 127.0.0.0/8, ::1, or those mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false
  const plain = address.replace(/^::ffff:/i, '').replace(/^\[|\]$/g, '')
  if (plain === '::1' || plain.toLowerCase() === 'localhost') return true
  return isIP(plain) === 4 && plain.startsWith('127.')
}
