// Two checkouts, one bucket: real `astro build` and `vite build` in their own processes, each in its
// own copy of a site with its own `.flux-cache/`, sharing a bucket on our S3-subset server and the
// mock gateway on loopback. The remote is configured as users configure it: a `.env` file, or
// `flux.config.mjs` with the credentials in the environment. Every count is read on the servers.
import { createHash } from 'node:crypto'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { crc32 } from 'node:zlib'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, readTree, startNode } from './helpers/cli.js'
import { createImageMaker } from './mock-gateway/images.js'
import { createMockGateway, DEFAULT_SIZES, type MockGateway } from './mock-gateway/index.js'
import { createS3Server, type S3Server, TEST_CREDENTIALS } from './s3-server/index.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/remote-site', import.meta.url))
// Inside the repository, so that the copies resolve astro, vite and the adapters from test/node_modules.
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
// A fake key with a distinctive shape, so that a leak anywhere is easy to find.
const KEY = 'sk-flux-remote-checkouts-8d2f-DO-NOT-LEAK'
const SECRETS = [KEY, TEST_CREDENTIALS.secretAccessKey]
/** Distinct images in each site of the fixture (each also repeats some, paid for once). */
const IMAGES = 24
// The fixture's flux.config.mjs asks for these small sizes.
const SIZES = ['96x64', '64x96']

type SiteName = 'astro' | 'vite'
/** Image files in each site's dist/. */
const EMITTED: Record<SiteName, number> = {
  // Every image: its 48 px WebP and fallback, and its full-size WebP and fallback.
  vite: IMAGES * 4,
  // The same, and the original of index.astro's `flux:` import, which Astro emits itself as Astro's
  // image of it (`_astro/<key>.<hash>.png`).
  astro: IMAGES * 4 + 1,
}
const BINS: Record<SiteName, string> = {
  astro: fileURLToPath(new URL('./node_modules/astro/bin/astro.mjs', import.meta.url)),
  vite: fileURLToPath(new URL('./node_modules/vite/bin/vite.js', import.meta.url)),
}

let gateway: MockGateway
let server: S3Server
const temps: string[] = []
/** Every build's numbers, printed at the end: observed, never asserted. */
const measured: string[] = []

beforeAll(async () => {
  // A real model draws a new picture each time it is asked: so does this gateway, so that equal
  // bytes in two checkouts prove a download, never a second generation.
  const maker = createImageMaker()
  let generation = 0
  gateway = await createMockGateway({
    apiKey: KEY,
    sizes: [...DEFAULT_SIZES, ...SIZES],
    images: { make: (input) => maker.make({ ...input, index: ++generation }) },
  })
  server = await createS3Server()
})
afterAll(async () => {
  await gateway?.close()
  await server?.close()
  // A failed build may still be finishing images it started: retry.
  await Promise.all(
    temps.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })),
  )
  if (measured.length > 0) console.log(`[remote-checkouts] observed:\n${measured.join('\n')}`)
})

/** A checkout: a fresh copy of one site of the fixture with its own (empty) cache, plus `files`. */
async function checkout(site: SiteName, files: Record<string, string> = {}): Promise<string> {
  await mkdir(TMP, { recursive: true })
  const root = join(await mkdtemp(join(TMP, `remote-checkouts-${site}-`)), 'site')
  temps.push(join(root, '..'))
  await cp(join(FIXTURE, site), root, { recursive: true })
  for (const [file, text] of Object.entries(files)) await writeFile(join(root, file), text)
  return root
}

/** `.env` lines that set the whole remote, credentials included, under `prefix` of the bucket. */
function dotEnv(prefix: string, extra: Record<string, string> = {}): string {
  const vars = {
    FLUX_REMOTE_URL: `s3://${server.bucket}/${prefix}`,
    FLUX_REMOTE_ENDPOINT: server.url,
    FLUX_REMOTE_REGION: server.region,
    FLUX_REMOTE_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    FLUX_REMOTE_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    ...extra,
  }
  return `${Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`
}

/** The checkout's flux.config.mjs with a `remote` (no credentials: those come from `AWS_*`). */
async function configWithRemote(root: string, prefix: string): Promise<void> {
  const file = join(root, 'flux.config.mjs')
  const remote = { url: `s3://${server.bucket}/${prefix}`, endpoint: server.url, region: server.region }
  const text = await readFile(file, 'utf8')
  await writeFile(
    file,
    text.replace('export default {', `export default {\n  remote: ${JSON.stringify(remote)},`),
  )
}

/** The credentials as CI gives them: the standard AWS variables. */
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
}

interface Built {
  root: string
  code: number | null
  /** stdout and stderr. */
  output: string
  /** The build's `[flux] N image(s) …` line. */
  summary: string
  /** Every image file under dist/, by path relative to dist/. */
  images: Map<string, Buffer>
  ms: number
}

/**
 * `astro build` or `vite build` as users run it: the tool's own CLI in its own process, in the
 * checkout, with the gateway's key and URL in the environment (and `env`).
 */
async function build(site: SiteName, root: string, env: Record<string, string> = {}): Promise<Built> {
  const run = await startNode(BINS[site], ['build'], {
    cwd: root,
    env: cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...env }),
  }).done
  const output = run.stdout + run.stderr
  const images = new Map<string, Buffer>()
  const dist = join(root, 'dist')
  for (const file of await readTree(dist).catch(() => [])) {
    if (/\.(webp|avif|png|jpe?g)$/.test(file.path)) images.set(relative(dist, file.path), file.bytes)
  }
  const summary = /\[flux\] \d+ image\(s\) .*/.exec(output)?.[0] ?? ''
  return { root, code: run.code, output, summary, images: sorted(images), ms: run.ms }
}

const sorted = <V>(map: Map<string, V>) => new Map([...map].sort(([a], [b]) => (a < b ? -1 : 1)))

/** What the server saw under `prefix` since its last reset. */
function traffic(prefix: string) {
  const log = server.log.filter((e) => e.key.startsWith(`${prefix}/`))
  const under = (path: string) => (e: { key: string }) => new RegExp(`^${prefix}/${path}$`).test(e.key)
  const original = under('originals/[0-9a-f]+\\.png')
  const metadata = under('originals/[0-9a-f]+\\.json')
  // Leases on cache keys, not the start-up probe's `leases/probe-*`.
  const lease = under('leases/[0-9a-f]+')
  return {
    requests: log.length,
    puts: log.filter((e) => e.op === 'PUT').length,
    deletes: log.filter((e) => e.op === 'DELETE').length,
    originalPuts: log.filter((e) => e.op === 'PUT' && original(e) && e.status === 200).length,
    metadataPuts: log.filter((e) => e.op === 'PUT' && metadata(e) && e.status === 200).length,
    originalGets: log.filter((e) => e.op === 'GET' && original(e) && e.status === 200).length,
    leasesTaken: log.filter((e) => e.op === 'PUT' && lease(e) && e.ifNoneMatch === '*' && e.status === 200)
      .length,
    leasesReleased: log.filter((e) => e.op === 'DELETE' && lease(e) && e.status === 204).length,
    /** Metadata stored before its image: a reader could find metadata whose image is not there yet. */
    metadataFirst: log.filter(
      (e, i) =>
        e.op === 'PUT' &&
        metadata(e) &&
        !log.slice(0, i).some((p) => p.op === 'PUT' && p.key === e.key.replace(/\.json$/, '.png')),
    ).length,
  }
}

/** The objects under `prefix` in the bucket, by kind. */
function stored(prefix: string) {
  const keys = [...server.objects.keys()].filter((k) => k.startsWith(`${prefix}/`))
  const count = (pattern: RegExp) => keys.filter((k) => pattern.test(k.slice(prefix.length + 1))).length
  return {
    originals: count(/^originals\/[0-9a-f]+\.png$/),
    metadata: count(/^originals\/[0-9a-f]+\.json$/),
    leases: count(/^leases\//),
    other: keys.length - count(/^originals\/[0-9a-f]+\.(png|json)$/) - count(/^leases\//),
  }
}

/** The bucket's metadata for the image whose prompt is `prompt` (its cache key and sha256). */
function metadataOf(prefix: string, prompt: string): { key: string; sha256: string; bytes: number } {
  for (const [name, object] of server.objects) {
    if (!name.startsWith(`${prefix}/originals/`) || !name.endsWith('.json')) continue
    const meta = JSON.parse(object.body.toString('utf8'))
    if (meta.request.prompt === prompt) return meta
  }
  throw new Error(`no metadata for "${prompt}" under ${prefix}/`)
}

/** Copies the originals and metadata under `from` to `to`: a second bucket seeded from the first. */
function seed(from: string, to: string): void {
  for (const [name, object] of [...server.objects]) {
    if (name.startsWith(`${from}/originals/`))
      server.putObject(`${to}/${name.slice(from.length + 1)}`, object.body)
  }
}

/** Every original in the checkout's local cache, by file name. */
async function localOriginals(root: string): Promise<Map<string, Buffer>> {
  const found = await readTree(join(root, '.flux-cache', 'originals')).catch(() => [])
  return sorted(
    new Map(
      found.filter((f) => f.path.endsWith('.png')).map((f) => [f.path.split('/').pop() ?? '', f.bytes]),
    ),
  )
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex')
const digests = (files: Map<string, Buffer>) =>
  new Map([...files].map(([name, bytes]) => [name, sha256(bytes)]))

/**
 * No secret in the build's output, nor in any file of the checkout (dist/, .flux-cache/, Astro's
 * data store, …) but the `.env` the user wrote them into.
 */
async function expectNoSecrets(built: Built): Promise<void> {
  for (const secret of SECRETS) expect(built.output).not.toContain(secret)
  const files = (await readTree(built.root)).filter((f) => relative(built.root, f.path) !== '.env')
  // Not a count of the build's work: only that the search had the build's files to look at.
  expect(files.filter((f) => f.path.includes('/.flux-cache/')).length).toBeGreaterThan(IMAGES)
  const leaks = files.filter((f) => SECRETS.some((s) => f.bytes.includes(s))).map((f) => f.path)
  expect(leaks).toEqual([])
}

function note(what: string, built: Built, prefix: string): void {
  const t = traffic(prefix)
  const got = [...server.objects]
    .filter(([name]) => name.startsWith(`${prefix}/originals/`) && name.endsWith('.png'))
    .reduce((sum, [, o]) => sum + o.body.length, 0)
  measured.push(
    `  ${what}: ${(built.ms / 1000).toFixed(1)} s, gateway ${gateway.requests} request(s), bucket ${t.requests} request(s) ` +
      `(${t.originalGets} original GETs, ${t.puts} PUTs, ${t.deletes} DELETEs), originals in the bucket ${got} B; ${built.summary}`,
  )
}

/** The 1-based line of `text` in a file of the fixture. */
async function lineOf(file: string, text: string): Promise<number> {
  const index = (await readFile(join(FIXTURE, file), 'utf8')).split('\n').findIndex((l) => l.includes(text))
  if (index < 0) throw new Error(`"${text}" is not in ${file}`)
  return index + 1
}

/**
 * A valid PNG of `width` x `height` in one flat red, exactly `length` bytes long (a tEXt chunk pads
 * it): an impostor only the sha256 can tell from the original it replaces.
 */
async function impostor(length: number, width: number, height: number): Promise<Buffer> {
  const png = await sharp({ create: { width, height, channels: 3, background: '#ff0000' } })
    .png()
    .toBuffer()
  const iend = png.length - 12
  const padding = length - png.length - 12
  const data = Buffer.concat([Buffer.from('Comment\0'), Buffer.alloc(padding - 8, 0x20)])
  const type = Buffer.from('tEXt')
  const head = Buffer.alloc(4)
  head.writeUInt32BE(data.length)
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])))
  return Buffer.concat([png.subarray(0, iend), head, type, data, crc, png.subarray(iend)])
}

interface Checkout extends Built {
  site: SiteName
  /** Generation requests the gateway received during the build. */
  gatewayRequests: number
  /** What the server saw under the checkout's prefix during the build. */
  traffic: ReturnType<typeof traffic>
}

/**
 * A new checkout of `site` pointed at `prefix` of the bucket, built. `via`: a `.env` with the whole
 * remote (and `dotEnvExtra`), or `flux.config.mjs` with the credentials in `AWS_*`. `edit` changes
 * the copy before the build; `env` is the build's environment on top.
 */
async function buildCheckout(
  what: string,
  site: SiteName,
  prefix: string,
  {
    via = 'dotenv',
    dotEnvExtra = {},
    env = {},
    edit,
  }: {
    via?: 'dotenv' | 'config'
    dotEnvExtra?: Record<string, string>
    env?: Record<string, string>
    edit?: (root: string) => Promise<void>
  } = {},
): Promise<Checkout> {
  const root = await checkout(site, via === 'dotenv' ? { '.env': dotEnv(prefix, dotEnvExtra) } : {})
  if (via === 'config') await configWithRemote(root, prefix)
  await edit?.(root)
  gateway.reset()
  server.reset()
  const built = await build(site, root, via === 'config' ? { ...AWS_ENV, ...env } : env)
  note(what, built, prefix)
  return { ...built, site, gatewayRequests: gateway.requests, traffic: traffic(prefix) }
}

/** A cold checkout paid for every image once, shared each (original, metadata), and let every lease go. */
function expectPaidAndShared(a: Checkout, prefix: string): void {
  expect(a.code, a.output).toBe(0)
  expect(a.gatewayRequests).toBe(IMAGES)
  expect(a.traffic).toMatchObject({
    originalPuts: IMAGES,
    metadataPuts: IMAGES,
    originalGets: 0,
    leasesTaken: IMAGES,
    leasesReleased: IMAGES,
    metadataFirst: 0,
    // Every write: per image its original, metadata and lease, and the start-up probe's 3 PUTs.
    puts: 3 * IMAGES + 3,
    // Per image its lease's release (no refusal to clear: none was known); the probe's cleanup.
    deletes: IMAGES + 1,
  })
  // Originals and their metadata only: no variant, no lease left behind.
  expect(stored(prefix)).toEqual({ originals: IMAGES, metadata: IMAGES, leases: 0, other: 0 })
  expect(a.summary).toMatch(new RegExp(`^\\[flux\\] ${IMAGES} image\\(s\\) .*${IMAGES} generated, 0 cached`))
  expect(a.summary).toMatch(
    new RegExp(`remote: 0 downloaded \\([\\d.]+ MB\\), ${IMAGES} uploaded \\([\\d.]+ MB\\)`),
  )
}

/** A later checkout asked the gateway nothing, downloaded every original once, wrote nothing, and built A's files. */
async function expectBuiltFromBucket(b: Checkout, a: Checkout): Promise<void> {
  expect(b.code, b.output).toBe(0)
  expect(b.gatewayRequests).toBe(0)
  expect(b.traffic).toMatchObject({ originalGets: IMAGES, puts: 0, deletes: 0 })
  expect(b.summary).toMatch(new RegExp(`remote: ${IMAGES} downloaded \\([\\d.]+ MB\\), 0 uploaded`))
  // The same originals in both local caches, and the same image files in both dist/.
  const originals = await localOriginals(b.root)
  expect(originals.size).toBe(IMAGES)
  // Compared by digest: a failure shows which files differ, not two maps of bytes.
  expect(digests(originals)).toEqual(digests(await localOriginals(a.root)))
  expect(digests(b.images)).toEqual(digests(a.images))
  expect(b.images.size).toBe(EMITTED[b.site])
}

/** The cold checkout (A) every later checkout of the Astro site reads from, built once. */
const PREFIX = 'astro'
let coldAstro: Promise<Checkout> | undefined
const astroFleet = () => {
  coldAstro ??= buildCheckout('astro checkout A (cold, .env)', 'astro', PREFIX)
  return coldAstro
}

describe('two checkouts, one bucket', () => {
  it('astro build: A pays for 24 images and shares them; B asks the gateway nothing, downloads 24 originals and builds the same image files', async () => {
    const a = await astroFleet()
    expectPaidAndShared(a, PREFIX)
    await expectNoSecrets(a)
    const b = await buildCheckout('astro checkout B (.env)', 'astro', PREFIX)
    await expectBuiltFromBucket(b, a)
    // The one image file not ours: Astro's own copy of the imported original, the downloaded bytes.
    const harbour = metadataOf(PREFIX, 'A harbour at dusk, fishing boats moored')
    const astros = [...b.images].filter(([path]) => !path.startsWith('_flux/'))
    expect(astros.map(([path]) => path)).toEqual([
      expect.stringMatching(new RegExp(`^_astro/${harbour.key}\\.[\\w-]+\\.png$`)),
    ])
    const original = (await localOriginals(b.root)).get(`${harbour.key}.png`)
    expect(sha256(astros[0]?.[1] ?? '')).toBe(sha256(original ?? ''))
    await expectNoSecrets(b)
  }, 240_000)

  it('vite build: the same, configured in flux.config.mjs with the credentials in AWS_*', async () => {
    const prefix = 'vite'
    const a = await buildCheckout('vite checkout A (cold, flux.config.mjs)', 'vite', prefix, {
      via: 'config',
    })
    expectPaidAndShared(a, prefix)
    await expectNoSecrets(a)
    const b = await buildCheckout('vite checkout B (flux.config.mjs)', 'vite', prefix, { via: 'config' })
    await expectBuiltFromBucket(b, a)
    await expectNoSecrets(b)
  }, 240_000)

  it('read-only: a checkout with one new image downloads the 24, generates the new one locally, and writes nothing to the bucket', async () => {
    await astroFleet()
    const prompt = 'A brand new image only this checkout has'
    const before = new Map([...server.objects].map(([k, o]) => [k, o.etag]))
    const built = await buildCheckout('astro read-only checkout (+1 image)', 'astro', PREFIX, {
      // As CI runs a pull request from a fork: the mode in the real environment, over the .env.
      env: { FLUX_REMOTE_MODE: 'read-only' },
      async edit(root) {
        const about = join(root, 'src', 'pages', 'about.md')
        await writeFile(about, `${await readFile(about, 'utf8')}\n![New](flux:${prompt})\n`)
      },
    })
    expect(built.code, built.output).toBe(0)
    expect(built.gatewayRequests).toBe(1)
    expect(Object.fromEntries(gateway.requestsByPrompt)).toEqual({ [prompt]: 1 })
    expect(server.count('PUT')).toBe(0)
    expect(server.count('DELETE')).toBe(0)
    expect(built.traffic.originalGets).toBe(IMAGES)
    expect(built.summary).toMatch(
      new RegExp(`1 generated, ${IMAGES} cached.*remote: ${IMAGES} downloaded \\([\\d.]+ MB\\), 0 uploaded`),
    )
    // The bucket is as it was: the new image is only in this checkout's cache.
    expect(new Map([...server.objects].map(([k, o]) => [k, o.etag]))).toEqual(before)
    expect(() => metadataOf(PREFIX, prompt)).toThrow(/no metadata/)
    expect((await localOriginals(built.root)).size).toBe(IMAGES + 1)
    await expectNoSecrets(built)
  }, 240_000)

  it('a tampered original in the bucket is refused: auto regenerates it (1 request) and writes a verified one back; frozen fails at its directive', async () => {
    await astroFleet()
    const prefix = 'astro-tampered'
    seed(PREFIX, prefix)
    const prompt = 'A lighthouse at dawn'
    const { key, bytes } = metadataOf(prefix, prompt)
    const name = `${prefix}/originals/${key}.png`
    const original = server.objects.get(name)?.body ?? Buffer.alloc(0)
    const fake = await impostor(bytes, 96, 64)
    // Same length and a real image: only the sha256 tells it apart.
    expect(fake.length).toBe(original.length)
    expect((await sharp(fake).stats()).channels.map((c) => [c.min, c.max])).toEqual([
      [255, 255],
      [0, 0],
      [0, 0],
    ])
    server.putObject(name, fake)
    const tamperedGets = () => server.count('GET', { key: name, status: 200 })

    // Auto mode, configured in flux.config.mjs this time.
    const built = await buildCheckout('astro checkout over a tampered original (auto)', 'astro', prefix, {
      via: 'config',
    })
    expect(built.code, built.output).toBe(0)
    expect(built.gatewayRequests).toBe(1)
    expect(Object.fromEntries(gateway.requestsByPrompt)).toEqual({ [prompt]: 1 })
    const warnings = built.output.split('\n').filter((l) => l.includes('FLUX_CACHE_CORRUPT'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(key)
    expect(warnings[0]).toContain('sha256')
    expect(built.traffic).toMatchObject({
      // The tampered image twice: before the lease, and again under it (another build may have
      // written the key meanwhile).
      originalGets: IMAGES + 1,
      originalPuts: 1,
      metadataPuts: 1,
      leasesTaken: 1,
      leasesReleased: 1,
      metadataFirst: 0,
    })
    expect(tamperedGets()).toBe(2)
    expect(built.summary).toMatch(
      new RegExp(`1 generated, ${IMAGES - 1} cached.*remote: ${IMAGES - 1} downloaded .*, 1 uploaded`),
    )
    // The bucket now holds a verified original for the key: the one this checkout made and serves.
    const now = server.objects.get(name)?.body ?? Buffer.alloc(0)
    expect(sha256(now)).toBe(metadataOf(prefix, prompt).sha256)
    expect(now.equals(fake)).toBe(false)
    expect(now.equals(original)).toBe(false)
    expect(sha256((await localOriginals(built.root)).get(`${key}.png`) ?? '')).toBe(sha256(now))
    // The served files of that image are not the flat red impostor.
    const served = [...built.images].filter(([path]) =>
      path.split('/').pop()?.startsWith('a-lighthouse-at-dawn-'),
    )
    expect(served).toHaveLength(4)
    for (const [path, file] of served) {
      const { channels } = await sharp(file).stats()
      expect(
        channels.some((c) => c.stdev > 1),
        `${path} is not one flat colour`,
      ).toBe(true)
    }
    await expectNoSecrets(built)

    // Tampered again: a frozen build must not pay for it, nor serve it.
    server.putObject(name, await impostor(now.length, 96, 64))
    const failed = await buildCheckout('astro checkout over a tampered original (frozen)', 'astro', prefix, {
      dotEnvExtra: { FLUX_MODE: 'frozen' },
    })
    expect(failed.code).toBe(1)
    expect(failed.gatewayRequests).toBe(0)
    expect(failed.traffic).toMatchObject({ puts: 0, deletes: 0 })
    expect(failed.output).toContain('FLUX_CACHE_CORRUPT')
    const line = await lineOf('astro/src/content/posts/kites.md', `(flux:${prompt})`)
    expect(failed.output).toMatch(
      new RegExp(
        `\\[flux\\] src/content/posts/kites\\.md:${line}:\\d+: 1 image\\(s\\) are not cached.*\\n\\s+- ${prompt}\\n`,
      ),
    )
    await expectNoSecrets(failed)
  }, 240_000)

  it('frozen with an empty local cache builds from the bucket: 0 gateway requests', async () => {
    const a = await astroFleet()
    const built = await buildCheckout('astro frozen checkout (.env)', 'astro', PREFIX, {
      dotEnvExtra: { FLUX_MODE: 'frozen' },
    })
    await expectBuiltFromBucket(built, a)
    expect(built.summary).toMatch(new RegExp(`0 generated, ${IMAGES} cached`))
    await expectNoSecrets(built)
  }, 240_000)
})
