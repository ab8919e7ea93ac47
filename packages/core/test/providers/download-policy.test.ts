import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FluxError } from '../../src/errors.js'
import { decodeAnswerImage, sniffImageFormat } from '../../src/providers/check-image.js'
import { download, guardedLookup, isPrivateAddress } from '../../src/providers/download.js'
import { AttemptFailure } from '../../src/retry.js'

const agent = new Agent()
afterAll(() => agent.close())

const base = {
  dispatcher: agent,
  apiOrigin: 'https://gateway.example',
  authorization: 'Bearer sk-test',
  maxBytes: 1_000_000,
  allowPrivate: false,
}
const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not-an-address',
    // Regression (issue 16, item 12): IPv6 forms that reach an IPv4 are judged by that IPv4.
    '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
    '64:ff9b::10.0.0.1', // NAT64 of 10.0.0.1, dotted
    '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254 (cloud metadata)
    '64:ff9b:1::a00:1', // local-use NAT64
    '::127.0.0.1', // IPv4-compatible
    '::a9fe:a9fe', // IPv4-compatible 169.254.169.254
    '::ffff:7f00:1', // IPv4-mapped, hex
    '::ffff:0:a00:1', // SIIT of 10.0.0.1
    '2002:7f00:1::', // 6to4 of 127.0.0.1
    '2002:c0a8:101::1', // 6to4 of 192.168.1.1
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    'fec0::1', // site-local
    'fe80::1%eth0', // link-local with a zone
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true)
  })

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '192.169.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    // DNS64 answers on IPv6-only networks: public IPv4 hosts through well-known NAT64 stay reachable.
    '64:ff9b::808:808',
    '64:ff9b::1.1.1.1',
    '2002:808:808::1', // 6to4 of 8.8.8.8
  ])('allows %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false)
  })
})

describe('download address checks', () => {
  it('refuses a hostname when any of its addresses is private (IPv6 included)', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: 'fd00::5', family: 6 },
    ]
    const err = await caught(download('https://images.example/a.png', { ...base, resolve }))
    expect(FluxError.is(err, 'FLUX_DOWNLOAD')).toBe(true)
    expect(String(err)).toContain('private address fd00::5')
  })

  it('refuses an IP literal without resolving it', async () => {
    const resolve = async () => {
      throw new Error('must not resolve')
    }
    for (const url of [
      'http://[::1]:8080/a.png',
      'http://169.254.169.254/latest/meta-data',
      // Regression (issue 16, item 12): IPv6 literals that reach a private IPv4.
      'http://[64:ff9b::a9fe:a9fe]/latest/meta-data',
      'http://[::127.0.0.1]:8080/a.png',
      'http://[2002:7f00:1::1]:8080/a.png',
      'http://[fec0::1]/a.png',
    ]) {
      const err = await caught(download(url, { ...base, resolve }))
      expect(FluxError.is(err, 'FLUX_DOWNLOAD')).toBe(true)
      expect(String(err)).toContain('private address')
    }
  })

  it('treats a DNS failure as a lost answer that ends in FLUX_DOWNLOAD', async () => {
    const resolve = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })
    }
    const err = await caught(download('https://gone.example/a.png', { ...base, resolve }))
    expect(err).toBeInstanceOf(AttemptFailure)
    expect((err as AttemptFailure).kind).toBe('lost')
    expect(FluxError.is((err as AttemptFailure).final, 'FLUX_DOWNLOAD')).toBe(true)
  })

  it('guardedLookup refuses a name that resolves to loopback', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      guardedLookup('localhost', { all: true }, (e) => resolve(e)),
    )
    expect(err?.code).toBe('ERR_FLUX_PRIVATE_ADDRESS')
  })

  it('a connector with guardedLookup refuses at connect time, even past the pre-check', async () => {
    const server = createServer((_req, res) => res.end('never'))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    let hits = 0
    server.on('request', () => hits++)
    const guarded = new Agent({ connect: { lookup: guardedLookup } })
    try {
      const url = `http://localhost:${(server.address() as AddressInfo).port}/a.png`
      const err = await caught(download(url, { ...base, dispatcher: guarded, allowPrivate: true }))
      expect(FluxError.is(err, 'FLUX_DOWNLOAD')).toBe(true)
      expect(String(err)).toContain('refusing to connect to localhost')
      expect(hits).toBe(0)
    } finally {
      await guarded.close()
      server.close()
    }
  })
})

// The connect-time guard (guardedLookup) never runs for an IP literal: for a redirect to one, the
// check made on every hop is the only protection.
describe('every redirect hop is checked', () => {
  let server: Server
  let port = 0
  const hits: string[] = []
  let png: Buffer
  beforeAll(async () => {
    png = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#abcdef' } })
      .png()
      .toBuffer()
    server = createServer((req, res) => {
      hits.push(req.url ?? '')
      const to = req.url?.startsWith('/to-literal')
        ? '127.0.0.1'
        : req.url?.startsWith('/to-name')
          ? 'images.example'
          : undefined
      if (to) {
        res.writeHead(302, { location: `http://${to}:${port}/image.png` })
        return res.end()
      }
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length })
      res.end(png)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  // images.example "resolves" to a public address for the check, and reaches the local server
  // when connecting: a public image host whose redirect points into the local network.
  const resolve = async () => [{ address: '93.184.216.34', family: 4 }]
  const toLocal = new Agent({
    connect: {
      lookup: (_host, options, cb) =>
        options.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
    },
  })
  afterAll(() => toLocal.close())

  it('follows a redirect from a public host to a public host (the setup works)', async () => {
    hits.length = 0
    const bytes = await download(`http://images.example:${port}/to-name`, {
      ...base,
      dispatcher: toLocal,
      resolve,
    })
    expect(bytes.equals(png)).toBe(true)
    expect(hits).toEqual(['/to-name', '/image.png'])
  })

  it('refuses a redirect from a public host to a private IP literal, before requesting it', async () => {
    hits.length = 0
    const err = await caught(
      download(`http://images.example:${port}/to-literal`, { ...base, dispatcher: toLocal, resolve }),
    )
    expect(FluxError.is(err, 'FLUX_DOWNLOAD')).toBe(true)
    expect(String(err)).toContain(
      `GET http://127.0.0.1:${port}/image.png resolves to the private address 127.0.0.1`,
    )
    expect(hits).toEqual(['/to-literal'])
  })
})

describe('decodeAnswerImage', () => {
  const make = (format: 'png' | 'jpeg' | 'webp' | 'gif') =>
    sharp({ create: { width: 40, height: 30, channels: 3, background: '#8899aa' } })
      .toFormat(format)
      .toBuffer()

  it.each(['png', 'jpeg', 'webp'] as const)('accepts %s and reports its dimensions', async (format) => {
    const bytes = await make(format)
    expect(sniffImageFormat(bytes)).toBe(format)
    expect(await decodeAnswerImage(bytes)).toEqual({ format, width: 40, height: 30 })
  })

  it.each([
    ['gif', async () => make('gif')],
    ['empty', async () => Buffer.alloc(0)],
    ['html', async () => Buffer.from('<html>expired</html>')],
    ['truncated png', async () => (await make('png')).subarray(0, 60)],
    [
      'truncated jpeg',
      async () => {
        const big = await sharp({
          create: {
            width: 400,
            height: 300,
            channels: 3,
            background: '#000',
            noise: { type: 'gaussian', mean: 128, sigma: 40 },
          },
        })
          .jpeg()
          .toBuffer()
        return big.subarray(0, big.length >> 1)
      },
    ],
  ])('refuses %s with FLUX_BAD_IMAGE', async (_name, bytes) => {
    const err = await caught(decodeAnswerImage(await bytes()))
    expect(FluxError.is(err, 'FLUX_BAD_IMAGE')).toBe(true)
  })
})
