import { inspect } from 'node:util'
import { fluxError } from '../errors.js'

/** `read-write`: reads through, writes back, takes leases. `read-only`: reads through only. */
export const REMOTE_MODES = ['read-write', 'read-only'] as const
export type RemoteMode = (typeof REMOTE_MODES)[number]
/** Lease timings, when neither option nor environment sets them (see LeaseOptions). */
export const LEASE_DEFAULTS = {
  staleMs: 60_000,
  pollMs: 250,
  pollMaxMs: 5000,
  maxWaitMs: 30 * 60_000,
} as const
/** Bounds of `leaseStaleMs`: a second (HTTP dates count whole seconds) to an hour. */
export const LEASE_STALE_MS = { min: 1000, max: 3_600_000 } as const

/** The `remote` option: where the shared cache lives. Every field may come from the environment instead. */
export interface RemoteOptions {
  /** `s3://bucket/prefix`. Env: `FLUX_REMOTE_URL`. */
  url?: string | undefined
  /**
   * The S3 endpoint, e.g. `https://<account>.r2.cloudflarestorage.com` or `http://localhost:9000`.
   * Env: `FLUX_REMOTE_ENDPOINT`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`.
   * @default `https://s3.<region>.amazonaws.com`
   */
  endpoint?: string | undefined
  /** Env: `FLUX_REMOTE_REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`. @default 'auto' for R2, else 'us-east-1' */
  region?: string | undefined
  /**
   * `virtual` puts the bucket in the host name (`bucket.s3.amazonaws.com`), `path` in the path
   * (`endpoint/bucket/key`). Env: `FLUX_REMOTE_ADDRESSING`.
   * @default 'virtual' on AWS, 'path' on any other endpoint (MinIO and most others need it)
   */
  addressing?: 'path' | 'virtual' | undefined
  /** Env: `FLUX_REMOTE_ACCESS_KEY_ID`, then `AWS_ACCESS_KEY_ID`. */
  accessKeyId?: string | undefined
  /** Secret. Env: `FLUX_REMOTE_SECRET_ACCESS_KEY`, then `AWS_SECRET_ACCESS_KEY`. */
  secretAccessKey?: string | undefined
  /** Secret. Env: `FLUX_REMOTE_SESSION_TOKEN`, then `AWS_SESSION_TOKEN` (taken with the key pair it belongs to). */
  sessionToken?: string | undefined
  /**
   * `read-only` reads through and never writes to the bucket: for untrusted builds (pull requests
   * from forks). Env: `FLUX_REMOTE_MODE`.
   * @default 'read-write' with credentials, 'read-only' without
   */
  mode?: RemoteMode | undefined
  /**
   * A lease not renewed for this long is stale (its holder died) and taken over. Env:
   * `FLUX_REMOTE_LEASE_STALE_MS`. @default 60_000
   */
  leaseStaleMs?: number | undefined
}

/**
 * A key pair, and a session token for temporary credentials. Printing it (`inspect`, JSON)
 * shows the key id only.
 */
export interface RemoteCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string | undefined
}

/** The remote, every default filled in. */
export interface RemoteConfig {
  bucket: string
  /** '' or ending in '/': prepended to every object key. */
  prefix: string
  /** Origin (and path, if any) of the S3 endpoint, without a trailing slash. */
  endpoint: string
  region: string
  addressing: 'path' | 'virtual'
  /** Undefined: requests are sent unsigned (a public bucket, read-only). */
  credentials: RemoteCredentials | undefined
  mode: RemoteMode
  leaseStaleMs: number
  /**
   * Where the endpoint and the credentials were taken from, as names (`remote.endpoint`,
   * `FLUX_REMOTE_ENDPOINT`, `AWS_ACCESS_KEY_ID`, ...), never values: for warnings.
   */
  from: { endpoint: string | undefined; credentials: readonly string[] }
}

type Env = Readonly<Record<string, string | undefined>>

// S3's rules for new buckets (3-63 of a-z 0-9 . -, starting and ending alphanumeric).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * Resolves the remote from the option, then `FLUX_REMOTE_*`, then the `AWS_*` variables, then
 * the defaults. Undefined when no URL is set anywhere (no remote). Throws FLUX_REMOTE_CONFIG
 * listing every problem. Credentials are taken whole from one source: a key id from one place
 * and a secret from another would sign with a pair that does not exist.
 */
export function resolveRemoteConfig(options: RemoteOptions | undefined, env: Env): RemoteConfig | undefined {
  const o = options ?? {}
  const pick = (...values: Array<string | undefined>) =>
    values.find((v) => v !== undefined && v.trim() !== '')
  const url = pick(o.url, env.FLUX_REMOTE_URL)
  if (url === undefined) return undefined
  const problems: string[] = []

  let bucket = ''
  let prefix = ''
  const parsed = /^s3:\/\/([^/]*)\/?(.*)$/.exec(url.trim())
  if (!parsed) {
    problems.push(`remote.url: expected s3://bucket/prefix, got ${JSON.stringify(url)}`)
  } else {
    bucket = parsed[1] as string
    const path = (parsed[2] as string).replace(/^\/+|\/+$/g, '')
    prefix = path === '' ? '' : `${path}/`
    if (!BUCKET.test(bucket) || bucket.includes('..')) {
      problems.push(
        `remote.url: ${JSON.stringify(bucket)} is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`,
      )
    }
  }

  const endpointFrom = (
    [
      ['remote.endpoint', o.endpoint],
      ['FLUX_REMOTE_ENDPOINT', env.FLUX_REMOTE_ENDPOINT],
      ['AWS_ENDPOINT_URL_S3', env.AWS_ENDPOINT_URL_S3],
      ['AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL],
    ] as const
  ).find(([, value]) => pick(value) !== undefined)
  const endpointOption = endpointFrom?.[1]
  let endpointUrl: URL | undefined
  if (endpointOption !== undefined) {
    try {
      endpointUrl = new URL(endpointOption.trim())
      if (endpointUrl.protocol !== 'https:' && endpointUrl.protocol !== 'http:') {
        problems.push(`remote.endpoint: expected an http(s) URL, got ${endpointUrl.protocol}`)
      }
    } catch {
      problems.push(
        `remote.endpoint: expected an absolute http(s) URL, got ${JSON.stringify(endpointOption)}`,
      )
    }
  }
  const r2 = endpointUrl?.hostname.endsWith('.r2.cloudflarestorage.com') ?? false
  const region =
    pick(o.region, env.FLUX_REMOTE_REGION, env.AWS_REGION, env.AWS_DEFAULT_REGION)?.trim() ??
    (r2 ? 'auto' : 'us-east-1')
  const endpoint = (endpointUrl?.href ?? `https://s3.${region}.amazonaws.com`).replace(/\/+$/, '')

  const addressing = pick(o.addressing, env.FLUX_REMOTE_ADDRESSING) ?? (endpointUrl ? 'path' : 'virtual')
  if (addressing !== 'path' && addressing !== 'virtual') {
    problems.push(`remote.addressing: expected "path" or "virtual", got ${JSON.stringify(addressing)}`)
  } else if (addressing === 'virtual' && bucket.includes('.') && endpoint.startsWith('https:')) {
    // The certificate of *.s3.amazonaws.com does not cover a dotted bucket name.
    problems.push(`remote.addressing: a bucket name with dots (${bucket}) needs "path" over https`)
  }

  const { credentials, from: credentialsFrom } = pickCredentials(o, env, problems)
  const mode = pick(o.mode, env.FLUX_REMOTE_MODE)?.trim() ?? (credentials ? 'read-write' : 'read-only')
  if (!(REMOTE_MODES as readonly string[]).includes(mode)) {
    problems.push(`remote.mode: expected "read-write" or "read-only", got ${JSON.stringify(mode)}`)
  } else if (mode === 'read-write' && !credentials && problems.length === 0) {
    problems.push(
      'remote.mode: "read-write" needs credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or FLUX_REMOTE_*); without them set "read-only"',
    )
  }
  const staleGiven = o.leaseStaleMs ?? pick(env.FLUX_REMOTE_LEASE_STALE_MS)
  const leaseStaleMs = staleGiven === undefined ? LEASE_DEFAULTS.staleMs : Number(staleGiven)
  if (
    !Number.isInteger(leaseStaleMs) ||
    leaseStaleMs < LEASE_STALE_MS.min ||
    leaseStaleMs > LEASE_STALE_MS.max
  ) {
    problems.push(
      `remote.leaseStaleMs: expected a whole number of ms from ${LEASE_STALE_MS.min} to ${LEASE_STALE_MS.max}, got ${JSON.stringify(staleGiven)}`,
    )
  }
  if (problems.length > 0) throw fluxError('FLUX_REMOTE_CONFIG', { problems })
  return {
    bucket,
    prefix,
    endpoint,
    region,
    addressing: addressing as 'path' | 'virtual',
    credentials,
    mode: mode as RemoteMode,
    leaseStaleMs,
    from: { endpoint: endpointFrom?.[0], credentials: credentialsFrom },
  }
}

/** The credentials of the first source that sets any, and the names of the fields they came from. */
function pickCredentials(
  o: RemoteOptions,
  env: Env,
  problems: string[],
): { credentials: RemoteCredentials | undefined; from: string[] } {
  const sources = [
    { name: 'remote', id: o.accessKeyId, secret: o.secretAccessKey, token: o.sessionToken },
    {
      name: 'FLUX_REMOTE_',
      id: env.FLUX_REMOTE_ACCESS_KEY_ID,
      secret: env.FLUX_REMOTE_SECRET_ACCESS_KEY,
      token: env.FLUX_REMOTE_SESSION_TOKEN,
    },
    {
      name: 'AWS_',
      id: env.AWS_ACCESS_KEY_ID,
      secret: env.AWS_SECRET_ACCESS_KEY,
      token: env.AWS_SESSION_TOKEN,
    },
  ]
  const set = (v: string | undefined) => v !== undefined && v !== ''
  const source = sources.find((s) => set(s.id) || set(s.secret))
  if (!source) return { credentials: undefined, from: [] }
  const field = (name: string) =>
    source.name === 'remote'
      ? `remote.${name}`
      : `${source.name}${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`
  if (!set(source.id) || !set(source.secret)) {
    const missing = set(source.id) ? 'secretAccessKey' : 'accessKeyId'
    const given = set(source.id) ? 'accessKeyId' : 'secretAccessKey'
    problems.push(`${field(missing)}: missing, while ${field(given)} is set (both are needed)`)
    return { credentials: undefined, from: [] }
  }
  for (const [name, value] of [
    ['accessKeyId', source.id],
    ['secretAccessKey', source.secret],
    ['sessionToken', source.token],
  ] as const) {
    // An HTTP header cannot carry it; most often a newline pasted along with the value.
    if (set(value) && !/^[\x21-\x7e]+$/.test(value as string)) {
      problems.push(`${field(name)}: contains spaces, control or non-ASCII characters (a trailing newline?)`)
    }
  }
  const credentials = hideSecrets({
    accessKeyId: source.id as string,
    secretAccessKey: source.secret as string,
    sessionToken: set(source.token) ? source.token : undefined,
  })
  const from = ['accessKeyId', 'secretAccessKey', ...(credentials.sessionToken ? ['sessionToken'] : [])]
  return { credentials, from: from.map(field) }
}

/** The same credentials, shown as their key id only by `inspect`, `console.log` and `JSON.stringify`. */
function hideSecrets(credentials: RemoteCredentials): RemoteCredentials {
  const shown = { accessKeyId: credentials.accessKeyId, secretAccessKey: '[redacted]' }
  return Object.defineProperties(credentials, {
    toJSON: { value: () => shown, enumerable: false },
    [inspect.custom]: { value: () => shown, enumerable: false },
  })
}
