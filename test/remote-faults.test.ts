// A remote that is down, failing, hanging or slow, over real HTTP: every operation ends in a
// catalogued error within its stated bound (attempts x timeoutMs + backoff), after exactly the
// attempts it promises, and no error, cause or log line carries the secret key or session token.
import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FluxError } from '../packages/core/src/errors.js'
import {
  createS3Client,
  resolveRemoteConfig,
  type S3Client,
  type S3ClientOptions,
} from '../packages/core/src/remote/index.js'
import {
  createS3Server,
  remoteOptionsFor,
  type S3Fault,
  type S3Server,
  TEST_CREDENTIALS,
} from './s3-server/index.js'

const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE-session-token-never-printed'
const SECRETS = [TEST_CREDENTIALS.secretAccessKey, SESSION_TOKEN]

let server: S3Server
const clients: S3Client[] = []

function clientFor(options: S3ClientOptions = {}): S3Client {
  const config = resolveRemoteConfig(remoteOptionsFor(server), {})
  if (!config) throw new Error('no remote configured')
  const client = createS3Client(config, options)
  clients.push(client)
  return client
}

/** The FluxError `promise` rejects with, checked at once: no form of it holds a secret. */
async function failure(promise: Promise<unknown>): Promise<FluxError> {
  try {
    await promise
  } catch (err) {
    if (!FluxError.is(err)) throw err
    const forms = [err.message, err.hint, String(err), JSON.stringify(err), inspect(err, { depth: 10 })]
    for (const form of forms) for (const secret of SECRETS) expect(form).not.toContain(secret)
    return err
  }
  throw new Error('expected a FluxError')
}

beforeAll(async () => {
  server = await createS3Server({ credentials: { ...TEST_CREDENTIALS, sessionToken: SESSION_TOKEN } })
})
afterEach(() => server.reset())
afterAll(async () => {
  for (const client of clients) await client.close()
  await server?.close()
})

describe('a remote that refuses connections', () => {
  it('fails with FLUX_REMOTE_UNAVAILABLE after 2 attempts, and works again once it is back', async () => {
    const client = clientFor()
    await client.put('k', 'v')
    await server.refuse()
    const err = await failure(client.head('k'))
    expect(err.code).toBe('FLUX_REMOTE_UNAVAILABLE')
    expect(err.message).toBe(
      `[flux] The remote cache failed [HEAD] "${server.url}/flux-test/site/k" after 2 attempt(s): connection refused (ECONNREFUSED)`,
    )
    expect(err.hint).toContain('the local cache still serves what it holds')
    await server.accept()
    expect((await client.head('k'))?.size).toBe(1)
  })
})

describe('a remote answering 5xx', () => {
  it('is tried exactly `attempts` times, then FLUX_REMOTE_UNAVAILABLE quotes its error', async () => {
    const client = clientFor()
    server.fault = () => ({ type: 'status', status: 503, code: 'SlowDown' })
    const err = await failure(client.get('k'))
    expect(err.code).toBe('FLUX_REMOTE_UNAVAILABLE')
    expect(err.message).toContain(
      'after 2 attempt(s): 503 Service Unavailable ("SlowDown: Injected failure.")',
    )
    expect(server.count('GET')).toBe(2)
    server.reset()
    server.fault = () => ({ type: 'status', status: 500 })
    await failure(clientFor({ attempts: 3 }).put('k', 'v'))
    expect(server.count('PUT')).toBe(3)
  })

  it('a single 5xx is absorbed by the second attempt', async () => {
    const client = clientFor()
    await client.put('once', 'value')
    server.reset()
    server.fault = ({ requestNumber }) => (requestNumber === 1 ? { type: 'status', status: 500 } : undefined)
    expect((await client.get('once'))?.body.toString()).toBe('value')
    expect(server.log.map((e) => [e.op, e.status])).toEqual([
      ['GET', 500],
      ['GET', 200],
    ])
  })

  it('a refusal of the credentials or a missing bucket is not tried again', async () => {
    server.fault = () => ({ type: 'status', status: 403, code: 'AccessDenied' })
    const err = await failure(clientFor().get('k'))
    expect(err.code).toBe('FLUX_REMOTE_DENIED')
    expect(server.count('GET')).toBe(1)
  })
})

describe('a remote that hangs', () => {
  it('ends each attempt after timeoutMs: FLUX_REMOTE_UNAVAILABLE after exactly 2 attempts', async () => {
    server.fault = () => ({ type: 'hang' })
    const err = await failure(clientFor({ timeoutMs: 300 }).head('k'))
    expect(err.code).toBe('FLUX_REMOTE_UNAVAILABLE')
    expect(err.message).toContain('after 2 attempt(s): no answer within 300 ms')
    expect(server.count('HEAD')).toBe(2)
  })

  it('a body that stalls past timeoutMs fails; one that stalls less arrives whole', async () => {
    const bytes = randomBytes(100_000)
    await clientFor().put('big', bytes)
    server.fault = ({ op }) => (op === 'GET' ? { type: 'slow-body', stallMs: 60_000 } : undefined)
    const err = await failure(clientFor({ timeoutMs: 300 }).get('big'))
    expect(err.message).toContain('after 2 attempt(s): no answer within 300 ms')
    server.fault = ({ op }) => (op === 'GET' ? { type: 'slow-body', stallMs: 50 } : undefined)
    const got = await clientFor({ timeoutMs: 60_000 }).get('big')
    expect(Buffer.compare(got?.body ?? Buffer.alloc(0), bytes)).toBe(0)
  })

  it('a caller that gives up ends the wait at once: FLUX_INTERRUPTED, not tried again', async () => {
    server.fault = () => ({ type: 'hang' })
    const controller = new AbortController()
    const pending = failure(clientFor({ timeoutMs: 60_000 }).get('k', { signal: controller.signal }))
    while (server.count('GET') === 0) await new Promise((r) => setTimeout(r, 5))
    controller.abort()
    expect((await pending).code).toBe('FLUX_INTERRUPTED')
    expect(server.count('GET')).toBe(1)
  })
})

describe('a connection reset before any answer', () => {
  it('is tried again, then reported', async () => {
    server.fault = () => ({ type: 'reset' })
    const err = await failure(clientFor().put('k', 'v'))
    expect(err.code).toBe('FLUX_REMOTE_UNAVAILABLE')
    expect(err.message).toMatch(
      /after 2 attempt\(s\): connection (reset|closed) \((ECONNRESET|UND_ERR_SOCKET)\)$/,
    )
    expect(server.count('PUT')).toBe(2)
  })
})

describe('secrets', () => {
  it('a server that echoes the request headers back: the session token is redacted', async () => {
    server.fault = () => ({ type: 'echo-headers' })
    const err = await failure(clientFor().get('k'))
    expect(err.code).toBe('FLUX_REMOTE_DENIED')
    // The echo arrived (the access key id is not secret) with the token blanked out.
    expect(err.message).toContain(TEST_CREDENTIALS.accessKeyId)
    expect(err.message).toContain('x-amz-security-token: [redacted], authorization: AWS4-HMAC-SHA256')
  })

  // Every test's errors go through failure(), which checks them; this one meets each fault itself.
  it('no error holds the secret key or the session token, in any form, whatever the fault', async () => {
    const faults: S3Fault[] = [
      { type: 'status', status: 503, code: 'SlowDown' },
      { type: 'status', status: 403, code: 'AccessDenied' },
      { type: 'reset' },
      { type: 'echo-headers' },
      { type: 'hang' },
    ]
    const codes: string[] = []
    for (const fault of faults) {
      server.fault = () => fault
      // A short deadline only where nothing answers: an answer late on a busy machine must not change the error.
      const client = clientFor(fault.type === 'hang' ? { timeoutMs: 300 } : {})
      codes.push((await failure(client.get('k'))).code)
    }
    server.fault = undefined
    await server.refuse()
    codes.push((await failure(clientFor().get('k'))).code)
    await server.accept()
    expect(codes).toEqual([
      'FLUX_REMOTE_UNAVAILABLE',
      'FLUX_REMOTE_DENIED',
      'FLUX_REMOTE_UNAVAILABLE',
      'FLUX_REMOTE_DENIED',
      'FLUX_REMOTE_UNAVAILABLE',
      'FLUX_REMOTE_UNAVAILABLE',
    ])
  })

  it('the resolved settings print without the secret key or the session token', () => {
    const config = resolveRemoteConfig(remoteOptionsFor(server), {})
    for (const form of [inspect(config, { depth: 10 }), JSON.stringify(config)]) {
      expect(form).toContain(TEST_CREDENTIALS.accessKeyId)
      for (const secret of SECRETS) expect(form).not.toContain(secret)
    }
  })
})
