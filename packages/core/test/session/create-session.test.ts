import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { requestKey } from '../../src/cache/index.js'
import { FluxError } from '../../src/errors.js'
import { createSession } from '../../src/session/index.js'
import type { GeneratedImage, Provider } from '../../src/types.js'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-session-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

const write = (name: string, text: string) => writeFile(join(root, name), text)

/** A provider that answers every request with a small PNG and counts them. */
function countingProvider() {
  const prompts: string[] = []
  const provider: Provider = {
    name: 'counting',
    placeholder: false,
    async generate(request) {
      prompts.push(request.prompt)
      const [width, height] = request.size.split('x').map(Number) as [number, number]
      const bytes = await sharp({ create: { width, height, channels: 3, background: '#336699' } })
        .png()
        .toBuffer()
      return { bytes, format: 'png', width, height, created: 1_700_000_000 } satisfies GeneratedImage
    },
  }
  return { provider, prompts }
}

describe('createSession: where the configuration comes from', () => {
  it('reads nothing but the defaults in an empty project', async () => {
    const session = await createSession({}, { root, env: {} })
    expect(session.options).toMatchObject({ root, mode: 'auto', model: 'flux-1.1-pro', apiKey: undefined })
    await session.close()
  })

  it('takes options, then the real environment, then .env files, then flux.config.mjs, then defaults', async () => {
    await write(
      'flux.config.mjs',
      "export default { model: 'flux-schnell', size: '1536x1024', quality: 'hd', concurrency: 2, mode: 'placeholder', maxGenerations: 9 }\n",
    )
    await write(
      '.env',
      'FLUX_API_KEY=sk-from-dotenv\nFLUX_BASE_URL=http://gw.test\nFLUX_MODE=frozen\nFLUX_CONCURRENCY=3\n',
    )
    const session = await createSession({ maxGenerations: 7 }, { root, env: { FLUX_CONCURRENCY: '5' } })
    expect(session.options).toMatchObject({
      maxGenerations: 7, // option over the file
      concurrency: 5, // real environment over .env and the file
      mode: 'frozen', // .env over the file
      apiKey: 'sk-from-dotenv',
      baseURL: 'http://gw.test',
      model: 'flux-schnell', // the file over the default
      size: '1536x1024',
      quality: 'hd',
    })
    await session.close()
  })

  it("reads .env, .env.local, .env.[mode], .env.[mode].local in Vite's order, FLUX_ variables only", async () => {
    await write('.env', 'FLUX_MODE=auto\nFLUX_CONCURRENCY=1\nFLUX_BASE_URL=http://one.test\n')
    await write('.env.local', 'FLUX_CONCURRENCY=2\n')
    await write('.env.development', 'FLUX_CONCURRENCY=3\nFLUX_BASE_URL=http://dev.test\n')
    await write('.env.development.local', 'FLUX_MODE=placeholder\n')
    await write('.env.production', 'FLUX_CONCURRENCY=6\n')
    const env: Record<string, string | undefined> = {}
    const dev = await createSession({}, { root, command: 'dev', env })
    expect(dev.options).toMatchObject({ concurrency: 3, mode: 'placeholder', baseURL: 'http://dev.test' })
    const build = await createSession({}, { root, command: 'build', env })
    expect(build.options).toMatchObject({ concurrency: 6, mode: 'auto', baseURL: 'http://one.test' })
    // The real environment is read, never written to.
    expect(env).toEqual({})
    await Promise.all([dev.close(), build.close()])
  })

  it('ignores variables without the FLUX_ prefix in .env files', async () => {
    await write('.env', 'API_KEY=not-ours\nfluxApiKey=nope\nFLUX_API_KEY=\n')
    const session = await createSession({}, { root, env: {} })
    expect(session.options.apiKey).toBeUndefined()
    await session.close()
  })

  // A `.env` a pull request adds must not hand the bucket keys of another tool to flux: read, they
  // would sign its requests and make a remote meant to be read-only read-write.
  it('takes no AWS_ variable from .env files: the remote they point at stays anonymous and read-only', async () => {
    await write(
      '.env',
      [
        'FLUX_REMOTE_URL=s3://flux-test/site',
        'AWS_ACCESS_KEY_ID=AKIAFROMDOTENV',
        'AWS_SECRET_ACCESS_KEY=secret-from-dotenv',
        'AWS_SESSION_TOKEN=token-from-dotenv',
        'AWS_REGION=eu-west-3',
        '',
      ].join('\n'),
    )
    const session = await createSession({}, { root, env: {} })
    expect(session.options.remote).toMatchObject({
      bucket: 'flux-test',
      region: 'us-east-1',
      credentials: undefined,
      mode: 'read-only',
    })
    await session.close()
  })

  // flux.config.ts is read by Node's type stripping: tested through the CLI (test/generate-cli.test.ts).
  it('reads flux.config.js as well, and mjs first when both exist', async () => {
    await write('flux.config.js', "export default { size: '1344x768' }\n")
    expect((await createSession({}, { root, env: {} })).options.size).toBe('1344x768')
    await write('flux.config.mjs', "export default { size: '768x1344' }\n")
    expect((await createSession({}, { root, env: {} })).options.size).toBe('768x1344')
  })

  it('reads an edited config file anew', async () => {
    await write('flux.config.mjs', "export default { model: 'flux-dev' }\n")
    expect((await createSession({}, { root, env: {} })).options.model).toBe('flux-dev')
    // A different mtime than the first write, whatever the file system's resolution.
    await new Promise((done) => setTimeout(done, 20))
    await write('flux.config.mjs', "export default { model: 'flux-pro' }\n")
    expect((await createSession({}, { root, env: {} })).options.model).toBe('flux-pro')
  })

  it("merges the host's image defaults under the file's and the options' image settings", async () => {
    await write('flux.config.mjs', 'export default { image: { widths: [320], placeholder: "color" } }\n')
    const session = await createSession(
      { image: { placeholder: 'none' } },
      { root, env: {}, image: { base: '/docs/', publicPath: '/assets/_flux/' } },
    )
    expect(session.options.image).toMatchObject({
      widths: [320],
      placeholder: 'none',
      base: '/docs/',
      publicPath: '/assets/_flux/',
    })
  })

  it('lists every problem of options and file together, and names a config file that fails to load', async () => {
    await write('flux.config.mjs', "export default { size: '999x1' }\n")
    const err = await createSession({ concurrency: 0 }, { root, env: {} }).catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_INVALID_OPTIONS')).toBe(true)
    expect(String((err as Error).message)).toMatch(/concurrency:.*\n.*size: .*"999x1"/s)

    await write('flux.config.mjs', 'export default [1, 2]\n')
    const bad = await createSession({}, { root, env: {} }).catch((e: unknown) => e)
    expect(FluxError.is(bad, 'FLUX_INVALID_OPTIONS')).toBe(true)
    expect((bad as FluxError).message).toContain('flux.config.mjs')
  })

  it("names flux.config.mjs for a wrong or unknown member of its `image`, and the host's for none", async () => {
    await write('flux.config.mjs', 'export default { image: { widths: [0], formts: [] } }\n')
    const err = await createSession(
      { image: { placeholder: 'lqip' as never } },
      { root, env: {}, image: { base: 'my site' } },
    ).catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_INVALID_OPTIONS')).toBe(true)
    expect((err as FluxError).detail.split('\n').slice(1)).toEqual([
      '  - image.widths[0]: Expected a whole number from 1 to 16383, got 0 (from flux.config.mjs)',
      '  - image.placeholder: Expected one of "blur", "color", "none", got "lqip"',
      '  - image.base: Expected a URL path such as "/_flux/" or an absolute URL, without spaces, quotes, "?" or "#", got "my site"',
      '  - image.formts (in flux.config.mjs): Unknown option; did you mean "formats"?',
    ])
  })

  it('watches the config files and the .env files of its mode, present or not', async () => {
    const session = await createSession({}, { root, command: 'dev', env: {} })
    expect(session.watchFiles.map((f) => f.slice(root.length + 1)).sort()).toEqual(
      [
        '.env',
        '.env.development',
        '.env.development.local',
        '.env.local',
        'flux.config.js',
        'flux.config.mjs',
        'flux.config.ts',
      ].sort(),
    )
  })
})

describe('createSession: one key for one image, whichever way it is asked', () => {
  it('the directive string, its parsed form and the file config give one key: 1 request', async () => {
    await write('flux.config.mjs', "export default { model: 'flux-schnell', quality: 'hd' }\n")
    await write('.env', 'FLUX_API_KEY=sk-test\nFLUX_BASE_URL=http://gw.test\n')
    const { provider, prompts } = countingProvider()
    const session = await createSession({ image: { widths: [64], formats: [] } }, { root, env: {}, provider })
    const fromString = await session.image('flux:A lighthouse?size=1536x1024')
    const fromParsed = await session.image({ prompt: 'A lighthouse', params: { size: '1536x1024' } })
    expect(fromString.key).toBe(fromParsed.key)
    expect(fromString.key).toBe(
      requestKey({ model: 'flux-schnell', prompt: 'A lighthouse', size: '1536x1024', quality: 'hd' }),
    )
    expect(prompts).toEqual(['A lighthouse'])
    expect(await session.flux.status('flux:A lighthouse?size=1536x1024')).toBe('cached')
    expect([...session.files.values()].length).toBeGreaterThan(0)
    await session.close()
  })

  it('a string that is not a directive is a clear FLUX_INVALID_DIRECTIVE, not a TypeError', async () => {
    const session = await createSession({}, { root, env: {} })
    const err = await session.image('A lighthouse').catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_INVALID_DIRECTIVE')).toBe(true)
    expect((err as FluxError).message).toContain('flux:A lighthouse at dawn?size=1536x1024')
    await expect(session.flux.status('nope')).rejects.toThrow(/Expected a directive/)
  })

  it('build() fails with every located failure in one error and logs one summary line', async () => {
    await write('post.md', '![a](flux:A cat?model=nope)\n\n![b](flux:A dog?size=1x1)\n\n![c](flux:A bird)\n')
    const lines: string[] = []
    const logger = { info: (m: string) => lines.push(m), warn() {}, error() {} }
    const session = await createSession(
      { logger, mode: 'placeholder', image: { widths: [32], formats: [] } },
      { root, env: {} },
    )
    const err = await session.build().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AggregateError)
    const errors = (err as AggregateError).errors as FluxError[]
    expect(errors.map((e) => [e.code, e.location?.file, e.location?.line])).toEqual([
      ['FLUX_UNKNOWN_MODEL', 'post.md', 1],
      ['FLUX_UNKNOWN_SIZE', 'post.md', 3],
    ])
    await write('post.md', '![c](flux:A bird)\n')
    // The bird's placeholder, made by the first build, is served again: a placeholder, not cached.
    const summary = await session.build()
    expect(summary).toMatchObject({ total: 1, placeholders: 1, cached: 0 })
    expect(lines.filter((l) => l.includes('image(s) from'))).toEqual([
      expect.stringMatching(
        /^\[flux\] 1 image\(s\) from 1 directive\(s\): 0 generated, 0 cached, 1 placeholder\(s\) \(placeholder mode\)/,
      ),
    ])
    await session.close()
  })
})

describe('createSession: a build encodes variants only for what our markup shows', () => {
  const HERO = 'flux: A hero only the host shows?size=1024x1024'
  const variantFiles = () => readdir(join(root, '.flux-cache', 'variants', 'files')).catch(() => [])

  it('a frontmatter hero (an original for the host) encodes none until markup asks; a body image its own', async () => {
    await write('post.md', `---\nheroImage: "${HERO}"\n---\n\n![a gull](flux:A gull over a pier)\n`)
    const { provider, prompts } = countingProvider()
    const options = { apiKey: 'sk-test', image: { widths: [64], formats: ['webp' as const] } }
    const session = await createSession(options, { root, env: {}, provider })
    expect(await session.build()).toMatchObject({ total: 2, generated: 2 })
    // The gull's JPEG and WebP at 64 px and at its own 1024; the hero none, and both scanned as cached.
    const gull = (await variantFiles()).sort()
    expect(gull).toHaveLength(4)
    expect(gull.every((name) => name.startsWith('a-gull-over-a-pier-'))).toBe(true)
    expect([...session.files.values()].map((path) => path.split('/').pop()).sort()).toEqual(gull)
    expect((await session.scan()).items.map((item) => item.status)).toEqual(['cached', 'cached'])
    // <FluxImage image={hero}> (or a fluxImage() field) asks: its variants are made now, 0 requests.
    const hero = await session.image(HERO)
    expect(hero.files).toHaveLength(4)
    expect(await variantFiles()).toHaveLength(8)
    expect(session.files.size).toBe(8)
    await session.close()
    // The next build (Astro's content store may skip the schema) comes with the hero's variants
    // made before: nothing encoded, nothing requested.
    const next = await createSession(options, { root, env: {}, provider })
    expect(await next.build()).toMatchObject({ total: 2, cached: 2 })
    expect(next.files.size).toBe(8)
    expect(await variantFiles()).toHaveLength(8)
    expect(prompts.sort()).toEqual(['A gull over a pier', 'A hero only the host shows'])
    await next.close()
  })
})

describe('createSession in dev: who may make it pay', () => {
  /** A dev session over a project whose `page.md` writes one directive; every line it logs. */
  async function devSession(serverHost: string | boolean | undefined, options = {}) {
    await write('page.md', '# Page\n\n![A harbour](flux:A harbour written in the page)\n')
    const { provider, prompts } = countingProvider()
    const lines: string[] = []
    const logger = {
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    }
    const session = await createSession(
      {
        apiKey: 'sk-dev-who-pays',
        baseURL: 'http://127.0.0.1:9',
        logger,
        image: { widths: [64], maxWidth: 64 },
        ...options,
      },
      { root, env: {}, command: 'dev', provider, ...(serverHost !== undefined && { serverHost }) },
    )
    return { session, prompts, lines }
  }

  it.for([
    { serverHost: undefined },
    { serverHost: false },
    { serverHost: 'localhost' },
    { serverHost: '127.0.0.1' },
    { serverHost: '::1' },
  ])(
    'listening on $serverHost (this machine): pays for what a file writes, nothing else',
    async ({ serverHost }) => {
      const { session, prompts, lines } = await devSession(serverHost)
      try {
        // Written nowhere: its placeholder, said once however often it is asked for.
        for (let i = 0; i < 3; i++) {
          const image = await session.image('flux:A prompt no file writes', join(root, 'page.md'))
          expect(image.src).not.toMatch(/~[0-9a-f]{24}\//)
        }
        expect(lines.filter((l) => l.includes('is written in no file of the project'))).toHaveLength(1)
        expect(lines.filter((l) => l.includes('is written in no file of the project'))[0]).toContain(
          'page.md: "A prompt no file writes"',
        )
        // Written in page.md: pending, then paid for once, said as it starts with where it is written.
        const pending = await session.image('flux:A harbour written in the page')
        expect(pending.src).toMatch(/~[0-9a-f]{24}\//)
        await expect.poll(() => prompts.length).toBe(1)
        expect(lines, lines.join('\n')).toContain(
          '[flux] Generating "A harbour written in the page" (flux-1.1-pro, 1024x1024, standard) for page.md:3:14',
        )
        // A file edited while the server runs writes a new directive: the host says so, it is paid for.
        await write(
          'page.md',
          '# Page\n\n![A harbour](flux:A harbour written in the page)\n\n![New](flux:A new one)\n',
        )
        session.changed(join(root, 'page.md'))
        expect((await session.image('flux:A new one')).src).toMatch(/~[0-9a-f]{24}\//)
        await expect.poll(() => prompts.length).toBe(2)
        expect(prompts).toEqual(['A harbour written in the page', 'A new one'])
        // Both arrive (and nothing is left writing to the cache when the test ends).
        for (const directive of ['flux:A harbour written in the page', 'flux:A new one'])
          await expect.poll(async () => (await session.image(directive)).src).not.toMatch(/~[0-9a-f]{24}\//)
      } finally {
        await session.close()
      }
    },
  )

  it.for([
    { serverHost: true },
    { serverHost: '0.0.0.0' },
    { serverHost: '::' },
    { serverHost: '192.168.1.20' },
  ])(
    'listening on $serverHost (the network): pays for nothing, said once, unless allowNetworkDev',
    async ({ serverHost }) => {
      const { session, prompts, lines } = await devSession(serverHost)
      try {
        session.prepare()
        const image = await session.image('flux:A harbour written in the page', join(root, 'page.md'))
        expect(image.src, 'its placeholder, for good').not.toMatch(/~[0-9a-f]{24}\//)
        const paused = lines.filter((l) => l.includes('listens beyond this machine'))
        expect(paused).toHaveLength(1)
        expect(paused[0]).toContain('allowNetworkDev: true')
        await session.close()
        expect(prompts).toEqual([])
      } finally {
        await session.close()
      }
      const allowed = await devSession(serverHost, { allowNetworkDev: true })
      try {
        const image = await allowed.session.image('flux:A harbour written in the page', join(root, 'page.md'))
        expect(image.src).toMatch(/~[0-9a-f]{24}\//)
        await expect.poll(() => allowed.prompts.length).toBe(1)
        await expect
          .poll(async () => (await allowed.session.image('flux:A harbour written in the page')).src)
          .not.toMatch(/~[0-9a-f]{24}\//)
        expect(allowed.lines.filter((l) => l.includes('listens beyond this machine'))).toEqual([])
      } finally {
        await allowed.session.close()
      }
    },
  )
})
