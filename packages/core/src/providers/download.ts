import { lookup as dnsLookupCallback, type LookupAddress } from 'node:dns'
import { lookup as dnsLookup } from 'node:dns/promises'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import type { Dispatcher } from 'undici'
import { FluxError, fluxError } from '../errors.js'
import { AttemptFailure } from '../retry.js'
import { sniffImageFormat } from './check-image.js'

/** Redirect hops followed before giving up: storage gateways use one, sometimes two. */
export const MAX_REDIRECTS = 3

export interface DownloadOptions {
  /** Used for every hop. Pass one built with `guardedLookup` to pin the address check to the connection. */
  dispatcher: Dispatcher
  /** The API base URL's origin: the only origin that receives `authorization`. */
  apiOrigin: string
  /** The Authorization header value for the API origin; none is sent when absent (BFL's key is never sent to an image host). */
  authorization?: string | undefined
  /** Larger answers are refused with FLUX_DOWNLOAD. */
  maxBytes: number
  /** When false, hosts that resolve to private, loopback, link-local or unique-local addresses are refused. */
  allowPrivate: boolean
  signal?: AbortSignal | undefined
  /** Resolves a hostname to every address; dns.lookup by default (injectable for tests). */
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: number }>>
}

/**
 * Downloads a generated image from the URL the gateway returned: http(s) only, redirects
 * followed by hand (at most MAX_REDIRECTS) with the scheme and address re-checked on every hop,
 * the key sent only to the API's own origin, the size capped, and the first bytes checked to be
 * a PNG, JPEG or WebP.
 *
 * Throws FluxError (FLUX_DOWNLOAD, FLUX_BAD_IMAGE) when retrying cannot help, and a `lost`
 * AttemptFailure when the image may still be fetched by generating again (expired URL, 5xx,
 * network error): the caller decides whether to pay for that.
 */
export async function download(url: string, options: DownloadOptions): Promise<Buffer> {
  let current = parseHttpUrl(url)
  // Loaded by the provider's first request already: this only looks it up.
  const { request } = await import('undici')
  for (let hop = 0; ; hop++) {
    if (!options.allowPrivate) await assertPublicHost(current, options.resolve ?? resolveAll)
    const headers: Record<string, string> = { accept: 'image/png, image/jpeg, image/webp, */*;q=0.5' }
    if (current.origin === options.apiOrigin && options.authorization !== undefined)
      headers.authorization = options.authorization

    let res: Dispatcher.ResponseData
    try {
      res = await request(current, {
        method: 'GET',
        headers,
        dispatcher: options.dispatcher,
        signal: options.signal,
      })
    } catch (err) {
      throw networkFailure(current, err, options.signal)
    }

    if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304) {
      const location = res.headers.location
      await res.body.dump().catch(() => {})
      if (typeof location !== 'string' || location === '') {
        throw downloadError(`${describe(current)} answered ${res.statusCode} without a Location`)
      }
      if (hop >= MAX_REDIRECTS)
        throw downloadError(
          `more than ${MAX_REDIRECTS} redirects, starting at ${describe(parseHttpUrl(url))}`,
        )
      current = parseHttpUrl(location, current)
      continue
    }

    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => {})
      const detail = `${describe(current)} answered ${res.statusCode}${res.statusCode === 404 || res.statusCode === 403 ? ' (the URL may have expired)' : ''}`
      throw new AttemptFailure('lost', `download failed: ${detail}`, { final: downloadError(detail) })
    }

    const bytes = await readCapped(res, current, options)
    if (sniffImageFormat(bytes) === undefined) {
      throw fluxError('FLUX_BAD_IMAGE', {
        detail: `${describe(current)} sent ${bytes.length} bytes that are not a PNG, JPEG or WebP (content-type ${String(res.headers['content-type'] ?? 'none')})`,
      })
    }
    return bytes
  }
}

async function readCapped(res: Dispatcher.ResponseData, url: URL, options: DownloadOptions): Promise<Buffer> {
  const tooLarge = () =>
    downloadError(`${describe(url)} is larger than the ${options.maxBytes}-byte cap (maxDownloadBytes)`)
  const declared = Number(res.headers['content-length'])
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    res.body.destroy()
    throw tooLarge()
  }
  const chunks: Buffer[] = []
  let total = 0
  try {
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length
      if (total > options.maxBytes) {
        res.body.destroy()
        throw tooLarge()
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    if (FluxError.is(err)) throw err
    throw networkFailure(url, err, options.signal)
  }
  return Buffer.concat(chunks, total)
}

// RFC 6890 special-purpose ranges that must not be reached from a URL a third party chose.
const PRIVATE_RANGES: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  // Site-local (deprecated, RFC 3879): still routed inside some networks.
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
  // Teredo: the IPv4 it reaches is obfuscated in the address and relayed by a third party.
  ['2001::', 32, 'ipv6'],
  // Local-use NAT64 (RFC 8215): translated to IPv4 by the local network's own gateway.
  ['64:ff9b:1::', 48, 'ipv6'],
]
const PRIVATE = new BlockList()
for (const [network, prefix, family] of PRIVATE_RANGES) PRIVATE.addSubnet(network, prefix, family)

/**
 * IPv6 forms that carry an IPv4 address the packet ends up reaching, and where it sits: the
 * address is judged by that IPv4. Well-known NAT64 (64:ff9b::/96) must not be refused as a
 * whole: on an IPv6-only network with DNS64 every public IPv4 host resolves into it.
 */
const EMBEDDED_IPV4: Array<{ prefix: number[]; at: number }> = [
  // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96 (deprecated): the last 32 bits.
  { prefix: [0, 0, 0, 0, 0, 0xffff], at: 6 },
  { prefix: [0, 0, 0, 0, 0, 0], at: 6 },
  // SIIT ::ffff:0:0:0/96 (RFC 2765).
  { prefix: [0, 0, 0, 0, 0xffff, 0], at: 6 },
  // Well-known NAT64 64:ff9b::/96 (RFC 6052).
  { prefix: [0x64, 0xff9b, 0, 0, 0, 0], at: 6 },
  // 6to4 2002::/16 (RFC 3056): bits 16-47.
  { prefix: [0x2002], at: 1 },
]

/**
 * True for private, loopback, link-local, unique-local, multicast and reserved addresses: IPv4,
 * IPv6, and every IPv6 form that reaches an IPv4 (mapped, compatible, NAT64, 6to4, Teredo).
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return true
  if (family === 4) return PRIVATE.check(address, 'ipv4')
  if (PRIVATE.check(address, 'ipv6')) return true
  const words = ipv6Words(address)
  if (words === undefined) return true
  for (const { prefix, at } of EMBEDDED_IPV4) {
    if (prefix.every((word, i) => words[i] === word)) {
      const high = words[at] as number
      const low = words[at + 1] as number
      const ipv4 = `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
      return PRIVATE.check(ipv4, 'ipv4')
    }
  }
  return false
}

/** The eight 16-bit words of an IPv6 address (`::` expanded, a trailing dotted IPv4 read, a zone dropped). */
function ipv6Words(address: string): number[] | undefined {
  let text = address.replace(/%.*$/, '').toLowerCase()
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const part = (s: string | undefined) => (s ? s.split(':') : [])
  const head = part(halves[0])
  const tail = part(halves[1])
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0
  const words = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...tail].map((w) =>
    /^[0-9a-f]{1,4}$/.test(w) ? Number.parseInt(w, 16) : Number.NaN,
  )
  return words.length === 8 && words.every((w) => !Number.isNaN(w)) ? words : undefined
}

/**
 * A `lookup` for the download connector that refuses private addresses at connect time, so a
 * hostname that resolves differently between the check and the connection (DNS rebinding)
 * still cannot reach the local network.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookupCallback(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0)
    const refused = addresses.find((a) => isPrivateAddress(a.address))
    if (refused || addresses.length === 0) {
      const error: NodeJS.ErrnoException = new Error(
        `refusing to connect to ${hostname}: it resolves to the private address ${refused?.address ?? 'none'}`,
      )
      error.code = 'ERR_FLUX_PRIVATE_ADDRESS'
      return callback(error, '', 0)
    }
    if (options.all) return callback(null, addresses)
    const first = addresses[0] as LookupAddress
    callback(null, first.address, first.family)
  })
}

async function assertPublicHost(
  url: URL,
  resolve: (hostname: string) => Promise<Array<{ address: string; family: number }>>,
): Promise<void> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  let addresses: Array<{ address: string }>
  if (isIP(host)) {
    addresses = [{ address: host }]
  } else {
    try {
      addresses = await resolve(host)
    } catch (err) {
      const detail = `${describe(url)}: the host could not be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)})`
      throw new AttemptFailure('lost', `download failed: ${detail}`, {
        final: downloadError(detail),
        cause: err,
      })
    }
  }
  const refused = addresses.find((a) => isPrivateAddress(a.address))
  if (refused || addresses.length === 0) {
    throw downloadError(
      `${describe(url)} resolves to the private address ${refused?.address ?? 'none'}; set allowPrivateDownloads to allow it`,
    )
  }
}

function resolveAll(hostname: string): Promise<Array<{ address: string; family: number }>> {
  return dnsLookup(hostname, { all: true, verbatim: true })
}

function parseHttpUrl(text: string, base?: URL): URL {
  let url: URL
  try {
    url = new URL(text, base)
  } catch {
    throw downloadError(`the image URL is not a valid URL (${text.slice(0, 80)})`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw downloadError(`the image URL uses ${url.protocol}; only http and https are downloaded`)
  }
  return url
}

function networkFailure(url: URL, err: unknown, signal: AbortSignal | undefined): unknown {
  // Timeouts and aborts are the caller's to classify.
  if (signal?.aborted) return err
  const e = err as NodeJS.ErrnoException
  if (
    e?.code === 'ERR_FLUX_PRIVATE_ADDRESS' ||
    (e?.cause as NodeJS.ErrnoException)?.code === 'ERR_FLUX_PRIVATE_ADDRESS'
  ) {
    return downloadError(
      `${describe(url)}: ${(e.code === 'ERR_FLUX_PRIVATE_ADDRESS' ? e : (e.cause as Error)).message}`,
    )
  }
  const detail = `${describe(url)}: ${e?.code ?? e?.name ?? 'error'}: ${e?.message ?? String(err)}`
  return new AttemptFailure('lost', `download failed: ${detail}`, {
    final: downloadError(detail, err),
    cause: err,
  })
}

function downloadError(detail: string, cause?: unknown): FluxError {
  return fluxError('FLUX_DOWNLOAD', { detail }, cause === undefined ? {} : { cause })
}

/** The URL without credentials, query or fragment (signed URLs carry tokens there). */
function describe(url: URL): string {
  return `GET ${url.origin}${url.pathname}`
}
