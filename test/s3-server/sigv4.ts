// AWS Signature Version 4 as S3 checks it, written from the specification and apart from the
// client's signing library, so that a test passing here means the client signs as S3 expects.
import { createHash, createHmac } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

export interface Credentials {
  accessKeyId: string
  secretAccessKey: string
  /** When set, every request must carry it as `x-amz-security-token`. */
  sessionToken?: string | undefined
}

/** Why a request is refused, in S3's own terms (code and status), or undefined when it is signed right. */
export type SignatureProblem = { status: number; code: string; message: string } | undefined

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Percent-encodes as SigV4 wants: everything but A-Z a-z 0-9 - _ . ~ (and `/` when `keepSlash`). */
function encode(text: string, keepSlash = false): string {
  const encoded = encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded
}

/**
 * Checks the Authorization header of a request against `credentials` and `region`: the access
 * key id, the scope, the session token, the payload hash against `body`, and the signature over
 * the canonical request.
 */
export function verifySignature(
  req: { method: string; url: string; headers: IncomingHttpHeaders },
  body: Buffer,
  credentials: Credentials,
  region: string,
): SignatureProblem {
  const header = req.headers.authorization
  if (!header) return { status: 403, code: 'AccessDenied', message: 'Anonymous access is not allowed.' }
  const match = AUTH.exec(header)
  if (!match)
    return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'Malformed Authorization.' }
  const [, keyId, date, scopeRegion, signedHeaders, signature] = match as unknown as string[]
  if (keyId !== credentials.accessKeyId) {
    return {
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
    }
  }
  if (scopeRegion !== region) {
    return {
      status: 400,
      code: 'AuthorizationHeaderMalformed',
      message: `The authorization header is malformed; the region '${scopeRegion}' is wrong; expecting '${region}'`,
    }
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '')
  if (!amzDate.startsWith(date as string)) {
    return {
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'The credential date is not the x-amz-date.',
    }
  }
  if (
    credentials.sessionToken !== undefined &&
    req.headers['x-amz-security-token'] !== credentials.sessionToken
  ) {
    return {
      status: 403,
      code: 'InvalidToken',
      message: 'The provided token is malformed or otherwise invalid.',
    }
  }
  const payloadHash = req.headers['x-amz-content-sha256']
  if (typeof payloadHash !== 'string') {
    return {
      status: 400,
      code: 'InvalidRequest',
      message: 'Missing required header for this request: x-amz-content-sha256',
    }
  }
  if (payloadHash !== UNSIGNED_PAYLOAD && payloadHash !== sha256Hex(body)) {
    return {
      status: 400,
      code: 'XAmzContentSHA256Mismatch',
      message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
    }
  }
  const names = (signedHeaders as string).split(';')
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    return { status: 403, code: 'AccessDenied', message: 'host and x-amz-date must be signed.' }
  }
  const canonical = canonicalRequest(req, names, payloadHash)
  const scope = `${date}/${region}/s3/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n')
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()
  let key = hmac(`AWS4${credentials.secretAccessKey}`, date as string)
  for (const part of [region, 's3', 'aws4_request']) key = hmac(key, part)
  if (createHmac('sha256', key).update(toSign).digest('hex') !== signature) {
    return {
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided.',
    }
  }
  return undefined
}

/** The canonical request of SigV4 for S3 (the path encoded once). */
export function canonicalRequest(
  req: { method: string; url: string; headers: IncomingHttpHeaders },
  signedHeaders: string[],
  payloadHash: string,
): string {
  const url = new URL(req.url, 'http://placeholder')
  const path = encode(decodeURIComponent(url.pathname), true)
  const query = [...url.searchParams]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const headers = signedHeaders
    .map((name) => {
      const value = req.headers[name]
      const text = Array.isArray(value) ? value.join(',') : (value ?? '')
      return `${name}:${text.trim().replace(/\s+/g, ' ')}\n`
    })
    .join('')
  return [req.method, path, query, headers, signedHeaders.join(';'), payloadHash].join('\n')
}
