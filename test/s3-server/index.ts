// A subset of the S3 protocol over real HTTP on loopback, for tests: the object operations a
// remote cache needs, conditional writes as AWS answers them, SigV4 checked in full, a log of
// every request, and the faults a remote shows in the wild.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Credentials, verifySignature } from './sigv4.js'

export type S3Op = 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'LIST'

/** What a fault function is told about each request (before the signature is checked). */
export interface S3FaultContext {
  op: S3Op
  /** The object key (the list prefix for LIST). */
  key: string
  /** 1-based number of this request among all the server received since the last reset. */
  requestNumber: number
}

/**
 * A misbehaviour for one request. Every fault may carry `delayMs`, waited before it acts; a fault
 * with no `type` only delays, then answers normally.
 */
export type S3Fault = { delayMs?: number } & (
  | { type?: undefined }
  /** An S3 error answer: `status` with an `<Error>` body of `code` (e.g. 503 SlowDown). */
  | { type: 'status'; status: number; code?: string }
  /** Destroys the connection as soon as the request is read. */
  | { type: 'reset' }
  /** Never answers; the socket stays open until the client gives up or `close()` runs. */
  | { type: 'hang' }
  /** Does the work (a PUT is stored), then destroys the connection instead of answering. */
  | { type: 'lost-answer' }
  /**
   * GET only: 200 with no length header and a body that never ends (chunks of `chunk`, as fast as
   * the client reads), until the client closes the connection; `bytesSent` counts what was written.
   */
  | { type: 'endless-body'; chunk: string }
  /** GET only: headers and the first half of the body at once, the rest after `stallMs`. */
  | { type: 'slow-body'; stallMs: number }
  /** 412 Precondition Failed whatever the request (a storm of lost races). */
  | { type: 'precondition-failed' }
  /**
   * 403 SignatureDoesNotMatch whose message echoes the request's security token and
   * Authorization header, as careless S3-compatible servers do.
   */
  | { type: 'echo-headers' }
)

export type S3FaultFunction = (ctx: S3FaultContext) => S3Fault | undefined

export interface S3ServerOptions {
  /** The one bucket served. @default 'flux-test' */
  bucket?: string
  /** @default 'us-east-1' */
  region?: string
  /** The credentials every request must be signed with. @default test values */
  credentials?: Credentials
  /** Answers conditional writes as AWS does. `false` ignores them, as s3rver does. @default true */
  conditionalWrites?: boolean
  /** The most keys one ListObjectsV2 page holds, whatever the client asks. @default 1000 */
  maxKeys?: number
  fault?: S3FaultFunction | undefined
  /** The server's clock, for `Last-Modified` and `Date`. @default Date.now */
  now?: () => number
}

export interface StoredObject {
  body: Buffer
  etag: string
  lastModified: number
}

/** One request as the server saw it: `status` 0 when it never answered (reset, hang). */
export interface S3LogEntry {
  op: S3Op
  key: string
  status: number
  /** The bucket was named in the Host header (virtual-host style), not in the path. */
  virtualHost: boolean
  ifNoneMatch?: string
  ifMatch?: string
  /** Body bytes written for an `endless-body` answer before the client closed the connection. */
  bytesSent?: number
}

export interface S3Server {
  /** `http://127.0.0.1:<port>`: the endpoint, for path-style addressing. */
  readonly url: string
  readonly port: number
  readonly bucket: string
  readonly region: string
  readonly credentials: Credentials
  /** The bucket's objects by key; tests may read, add or change them (to tamper, or age a lease). */
  readonly objects: Map<string, StoredObject>
  /** Every request since the last reset, in arrival order (its status filled in when answered). */
  readonly log: readonly S3LogEntry[]
  fault: S3FaultFunction | undefined
  conditionalWrites: boolean
  /** Requests of `op` (on `key` when given, answered with `status` when given) since the last reset. */
  count(op: S3Op, filter?: { key?: string; status?: number }): number
  /** Stores an object as a PUT would, with `lastModified` when given (to make a lease look old). */
  putObject(key: string, body: string | Buffer, lastModified?: number): StoredObject
  /** Stops accepting connections (clients get ECONNREFUSED on the same port) until `accept()`. */
  refuse(): Promise<void>
  accept(): Promise<void>
  /** Empties the log and the fault (objects are kept). */
  reset(): void
  close(): Promise<void>
}

export const TEST_CREDENTIALS: Credentials = {
  accessKeyId: 'AKIATESTFLUXIMAGES01',
  secretAccessKey: 'test-secret-key-that-must-never-be-printed',
}

/** Starts the server on 127.0.0.1, on a free port. */
export async function createS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const bucket = options.bucket ?? 'flux-test'
  const region = options.region ?? 'us-east-1'
  const credentials = options.credentials ?? TEST_CREDENTIALS
  const maxKeysCap = options.maxKeys ?? 1000
  const now = options.now ?? Date.now
  const objects = new Map<string, StoredObject>()
  const log: S3LogEntry[] = []
  const sockets = new Set<Socket>()
  const closing = new AbortController()

  const putObject = (key: string, body: string | Buffer, lastModified = now()): StoredObject => {
    const bytes = Buffer.from(body)
    const object = { body: bytes, etag: `"${createHash('md5').update(bytes).digest('hex')}"`, lastModified }
    objects.set(key, object)
    return object
  }

  let server: Server = createServer()
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (closing.signal.aborted) return
          if (!res.headersSent) sendError(res, 500, 'InternalError', String(err))
          else res.destroy()
        })
      })
      server.on('connection', (socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
      })
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  await listen(0)
  const port = (server.address() as AddressInfo).port
  const base = `http://127.0.0.1:${port}`

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const url = new URL(req.url ?? '/', base)
    // Virtual-host style names the bucket in Host; path style in the first segment.
    const host = String(req.headers.host ?? '')
    const virtual = host.startsWith(`${bucket}.`)
    const path = decodeURIComponent(url.pathname).slice(1)
    const [pathBucket, ...rest] = virtual
      ? [bucket, path]
      : [path.split('/')[0], path.split('/').slice(1).join('/')]
    const key = virtual ? path : rest.join('/')
    const method = req.method ?? 'GET'
    const op: S3Op =
      method === 'GET' && key === '' && url.searchParams.get('list-type') === '2' ? 'LIST' : (method as S3Op)
    const entry: S3LogEntry = {
      op,
      key: op === 'LIST' ? (url.searchParams.get('prefix') ?? '') : key,
      status: 0,
      virtualHost: virtual,
    }
    const ifNoneMatch = req.headers['if-none-match']
    const ifMatch = req.headers['if-match']
    if (ifNoneMatch) entry.ifNoneMatch = ifNoneMatch
    if (ifMatch) entry.ifMatch = ifMatch
    log.push(entry)
    const answer = (status: number) => {
      entry.status = status
      res.setHeader('date', new Date(now()).toUTCString())
      return status
    }

    const fault = currentServer.fault?.({ op, key: entry.key, requestNumber: log.length })
    if (fault?.delayMs) await sleep(fault.delayMs, undefined, { signal: closing.signal })
    switch (fault?.type) {
      case 'reset':
        req.socket.destroy()
        return
      case 'hang':
        return
      case 'lost-answer':
        res.writeHead = () => res
        res.end = () => {
          req.socket.destroy()
          return res
        }
        break
      case 'status':
        return sendError(res, answer(fault.status), fault.code ?? 'InternalError', 'Injected failure.')
      case 'precondition-failed':
        return sendError(res, answer(412), 'PreconditionFailed', 'At least one of the preconditions failed.')
      case 'echo-headers':
        return sendError(
          res,
          answer(403),
          'SignatureDoesNotMatch',
          `The request signature does not match. x-amz-security-token: ${req.headers['x-amz-security-token']}, authorization: ${req.headers.authorization}`,
        )
    }

    const refused = verifySignature(
      { method, url: req.url ?? '/', headers: req.headers },
      body,
      credentials,
      region,
    )
    if (refused) return sendError(res, answer(refused.status), refused.code, refused.message)
    if (pathBucket !== bucket) {
      return sendError(res, answer(404), 'NoSuchBucket', 'The specified bucket does not exist')
    }
    const found = objects.get(key)
    const objectHeaders = (o: StoredObject) => {
      res.setHeader('etag', o.etag)
      res.setHeader('last-modified', new Date(o.lastModified).toUTCString())
      res.setHeader('content-length', o.body.length)
      res.setHeader('content-type', 'application/octet-stream')
    }
    switch (op) {
      case 'LIST':
        return list(url, res, answer)
      case 'HEAD':
        if (!found) {
          answer(404)
          return void res.writeHead(404).end()
        }
        objectHeaders(found)
        answer(200)
        return void res.writeHead(200).end()
      case 'GET': {
        if (!found) return sendError(res, answer(404), 'NoSuchKey', 'The specified key does not exist.')
        objectHeaders(found)
        answer(200)
        if (fault?.type === 'endless-body') {
          res.removeHeader('content-length')
          res.writeHead(200)
          const chunk = Buffer.from(fault.chunk)
          entry.bytesSent = 0
          while (!res.destroyed && !closing.signal.aborted) {
            entry.bytesSent += chunk.length
            if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')])
          }
          return
        }
        if (fault?.type === 'slow-body') {
          const half = Math.floor(found.body.length / 2)
          res.writeHead(200)
          res.write(found.body.subarray(0, half))
          await sleep(fault.stallMs, undefined, { signal: closing.signal })
          return void res.end(found.body.subarray(half))
        }
        return void res.writeHead(200).end(found.body)
      }
      case 'PUT': {
        if (currentServer.conditionalWrites) {
          if (ifNoneMatch === '*' && found) {
            return sendError(
              res,
              answer(412),
              'PreconditionFailed',
              'At least one of the preconditions failed.',
            )
          }
          if (ifMatch !== undefined && !found) {
            return sendError(res, answer(404), 'NoSuchKey', 'The specified key does not exist.')
          }
          if (ifMatch !== undefined && found && ifMatch !== found.etag) {
            return sendError(
              res,
              answer(412),
              'PreconditionFailed',
              'At least one of the preconditions failed.',
            )
          }
        }
        const stored = putObject(key, body)
        res.setHeader('etag', stored.etag)
        answer(200)
        return void res.writeHead(200).end()
      }
      case 'DELETE':
        if (currentServer.conditionalWrites && ifMatch !== undefined && found && ifMatch !== found.etag) {
          return sendError(
            res,
            answer(412),
            'PreconditionFailed',
            'At least one of the preconditions failed.',
          )
        }
        objects.delete(key)
        answer(204)
        return void res.writeHead(204).end()
      default:
        return sendError(res, answer(405), 'MethodNotAllowed', `${method} is not supported here.`)
    }
  }

  function list(url: URL, res: ServerResponse, answer: (status: number) => number): void {
    const prefix = url.searchParams.get('prefix') ?? ''
    const asked = Number(url.searchParams.get('max-keys') ?? 1000)
    const maxKeys = Math.min(Number.isInteger(asked) && asked > 0 ? asked : 1000, maxKeysCap)
    const token = url.searchParams.get('continuation-token')
    const after = token ? Buffer.from(token, 'base64url').toString('utf8') : ''
    const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort()
    const page = keys.slice(0, maxKeys)
    const truncated = keys.length > page.length
    const contents = page
      .map((k) => {
        const o = objects.get(k) as StoredObject
        return `<Contents><Key>${xml(k)}</Key><LastModified>${new Date(o.lastModified).toISOString()}</LastModified><ETag>${xml(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`
      })
      .join('')
    const next = truncated
      ? `<NextContinuationToken>${Buffer.from(page.at(-1) as string).toString('base64url')}</NextContinuationToken>`
      : ''
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${token ? `<ContinuationToken>${xml(token)}</ContinuationToken>` : ''}${next}${contents}</ListBucketResult>`
    answer(200)
    res.writeHead(200, { 'content-type': 'application/xml' }).end(text)
  }

  const currentServer: S3Server = {
    url: base,
    port,
    bucket,
    region,
    credentials,
    objects,
    log,
    fault: options.fault,
    conditionalWrites: options.conditionalWrites ?? true,
    count: (op, filter = {}) =>
      log.filter(
        (e) =>
          e.op === op &&
          (filter.key === undefined || e.key === filter.key) &&
          (filter.status === undefined || e.status === filter.status),
      ).length,
    putObject,
    refuse: stop,
    accept: () => listen(port),
    reset() {
      log.length = 0
      currentServer.fault = options.fault
    },
    async close() {
      closing.abort()
      await stop()
    },
  }
  return currentServer
}

function xml(text: string): string {
  const named: Record<string, string> = {
    '&': '&amp;',
    '<': '&lt;',
    '>': '&gt;',
    '"': '&quot;',
    "'": '&apos;',
  }
  return text.replace(/[&<>"']/g, (c) => named[c] as string)
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error>`
  res.writeHead(status, { 'content-type': 'application/xml' }).end(text)
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The `remote` option that reaches `server` (ours or s3rver) under `prefix`, path-style, signed. */
export function remoteOptionsFor(
  server: { url: string; bucket: string; region: string; credentials: Credentials },
  prefix = 'site',
) {
  return {
    url: `s3://${server.bucket}/${prefix}`,
    endpoint: server.url,
    region: server.region,
    accessKeyId: server.credentials.accessKeyId,
    secretAccessKey: server.credentials.secretAccessKey,
    sessionToken: server.credentials.sessionToken,
  }
}
