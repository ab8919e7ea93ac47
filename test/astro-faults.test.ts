// Gateway faults through a real `astro build`: the exact number of requests each prompt cost,
// every image that succeeded cached, every failure located at its directive with the right
// catalogued message, nothing paid twice beyond the single retry of a lost answer. Then the API
// key searched for in everything the builds and the CLI produced, and a CLI run and an Astro
// build sharing one cache directory at the same time.
import { spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/astro'
import { ERRORS, type FluxErrorCode, type FluxOptions } from '@flux-images/core'
import { build } from 'astro'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFlux } from '../packages/core/src/create-flux.js'
import { removeSites } from './helpers/astro-content-store.js'
import { cliEnv, readTree, runCli } from './helpers/cli.js'
import { createMockGateway, DEFAULT_SIZES, type Fault, type MockGateway } from './mock-gateway/index.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/astro-faults', import.meta.url))
const ASTRO_BIN = fileURLToPath(new URL('./node_modules/astro/bin/astro.mjs', import.meta.url))
// Inside the repository, so that the copies resolve astro and the integration from test/node_modules.
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
// A fake key with a distinctive shape, so that a leak anywhere is easy to find.
const KEY = 'sk-flux-faults-4e8b1d-DO-NOT-LEAK'
// Small originals and a single small variant: the pipeline is the same, the encodes are short.
const SIZE = '96x64'
const OPTIONS = {
  sizes: [SIZE],
  size: SIZE,
  model: 'flux-schnell',
  image: { widths: [48], formats: ['webp'], placeholder: 'color' },
} satisfies FluxOptions

let gateway: MockGateway
const temps: string[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY, sizes: [...DEFAULT_SIZES, SIZE] })
})
afterAll(async () => {
  await gateway?.close()
  await removeSites(temps)
})

/** A fresh copy of the fixture with only the given pages (and any extra files), with its own cache. */
async function project(pages: string[], extra: Record<string, string> = {}): Promise<string> {
  await mkdir(TMP, { recursive: true })
  const dir = await mkdtemp(join(TMP, 'astro-faults-'))
  temps.push(dir)
  const root = join(dir, 'site')
  await cp(FIXTURE, root, { recursive: true })
  for (const page of await readdir(join(root, 'src/pages')))
    if (!pages.includes(page)) await rm(join(root, 'src/pages', page))
  for (const [file, text] of Object.entries(extra)) await writeFile(join(root, file), text)
  return root
}

/** A real in-process `astro build`; resolves to its error, if any, and every line the integration logged. */
async function buildIn(root: string, options: FluxOptions = {}): Promise<{ error?: Error; logs: string[] }> {
  const logs: string[] = []
  const log = (level: string) => (message: string) => logs.push(`${level} ${message}`)
  const logger = { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') }
  try {
    await build({
      root,
      logLevel: 'silent',
      integrations: [flux({ apiKey: KEY, baseURL: gateway.url, ...OPTIONS, logger, ...options })],
    })
    return { logs }
  } catch (error) {
    return { error: error as Error, logs }
  }
}

interface ChildRun {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * `astro build` as users run it: Astro's own CLI in its own process, over an `astro.config.mjs`
 * that adds `flux(options)`, the key and the gateway in its environment. `verbose` adds
 * `--verbose`: every debug line of Astro, Vite and the integration is printed too.
 */
async function buildChild(root: string, options: FluxOptions, verbose = false): Promise<ChildRun> {
  await writeFile(
    join(root, 'astro.config.mjs'),
    [
      "import { flux } from '@flux-images/astro'",
      `export default { integrations: [flux(${JSON.stringify({ ...OPTIONS, ...options })})] }`,
      '',
    ].join('\n'),
  )
  const child = spawn(process.execPath, [ASTRO_BIN, 'build', ...(verbose ? ['--verbose'] : [])], {
    cwd: root,
    env: cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/**
 * The text without Vite's `vite:env` debug dump of the whole process environment (printed under
 * `--verbose`), which holds every secret of the environment and is not ours to redact.
 */
function withoutViteEnvDump(text: string): string {
  return text.replace(/^\S+ vite:env using resolved env: \{\n[\s\S]*?\n\}\n/gm, '')
}

/** The line of the directive whose prompt is `prompt` in a page of the fixture (1-based). */
async function lineOf(page: string, prompt: string): Promise<number> {
  const lines = (await readFile(join(FIXTURE, 'src/pages', page), 'utf8')).split('\n')
  const index = lines.findIndex((line) => line.includes(`(flux:${prompt})`))
  if (index < 0) throw new Error(`no directive "${prompt}" in ${page}`)
  return index + 1
}

/** What the catalog's message for `code` starts with, given its arguments up to the detail. */
function catalogPrefix(code: FluxErrorCode, args: Record<string, unknown> = {}): string {
  const marker = '\u0000'
  const message = ERRORS[code].message as (a: Record<string, unknown>) => string
  return message({ detail: marker, reason: marker, ...args }).split(marker)[0] ?? ''
}

/** The build error split into one block per failed image, keyed by `file:line`. */
function failures(error: Error | undefined): Map<string, string> {
  const blocks = new Map<string, string>()
  for (const block of (error?.message ?? '').split(/\n(?=\[flux\] src\/)/).slice(1)) {
    const where = /^\[flux\] (src\/[^:]+:\d+):\d+: /.exec(block)
    if (where?.[1]) blocks.set(where[1], block.slice(where[0].length))
  }
  return blocks
}

/** The cache status of every image the given pages ask for, by prompt. */
async function cacheStatus(root: string): Promise<Record<string, string>> {
  const engine = createFlux({ root, ...OPTIONS, mode: 'frozen' })
  try {
    const report = await engine.scan()
    return Object.fromEntries(report.items.map((item) => [item.request.prompt, item.status]))
  } finally {
    await engine.close()
  }
}

interface Expected {
  fault?: (attempt: number) => Fault | undefined
  /** Requests the gateway received for this prompt. */
  requests: number
  /** Images the gateway made (and would bill) for it. */
  generated: number
  /** The catalogued failure, or undefined when the image must end up cached. */
  code?: FluxErrorCode
  args?: Record<string, unknown>
  detail?: RegExp
}

// One directive per fault in src/pages/index.md, routed by prompt: they all share one build.
const TIMEOUT_MS = 5_000
const FAULTS: Record<string, Expected> = {
  'A calm sea': { requests: 1, generated: 1 },
  'A rate limit storm with Retry-After': {
    fault: (n) => (n <= 2 ? { type: 'rate-limit', retryAfterSeconds: 1 } : undefined),
    requests: 3,
    generated: 1,
  },
  'A rate limit storm without Retry-After': {
    fault: (n) => (n <= 2 ? { type: 'rate-limit' } : undefined),
    requests: 3,
    generated: 1,
  },
  'A rate limit that never ends': {
    fault: () => ({ type: 'rate-limit', retryAfterMs: 20 }),
    // The first attempt and maxRetries (4) retries.
    requests: 5,
    generated: 0,
    code: 'FLUX_TRANSIENT',
    args: { attempts: 5 },
    detail: /429/,
  },
  'A burst of server errors': {
    fault: (n) =>
      n === 1
        ? { type: 'server-error', status: 500 }
        : n === 2
          ? { type: 'server-error', status: 502 }
          : n === 3
            ? { type: 'server-error', status: 503, retryAfterSeconds: 1 }
            : undefined,
    requests: 4,
    generated: 1,
  },
  'A connection reset before the work': {
    fault: (n) => (n === 1 ? { type: 'reset', when: 'before-work' } : undefined),
    requests: 2,
    generated: 1,
  },
  'A connection reset after the work': {
    fault: () => ({ type: 'reset', when: 'after-work' }),
    // The answer was lost after the gateway did the work: retried once, never more.
    requests: 2,
    generated: 2,
    code: 'FLUX_TRANSIENT',
    args: { attempts: 2 },
    detail: /after the request was sent/,
  },
  'A connection reset mid-body': {
    fault: () => ({ type: 'reset', when: 'mid-body' }),
    // Headers and half the answer arrived, then the connection died: lost, retried once.
    requests: 2,
    generated: 2,
    code: 'FLUX_TRANSIENT',
    args: { attempts: 2 },
    detail: /after the request was sent/,
  },
  'A gateway that hangs': {
    fault: () => ({ type: 'hang' }),
    requests: 2,
    generated: 0,
    code: 'FLUX_TRANSIENT',
    args: { attempts: 2 },
    detail: new RegExp(`no answer within ${TIMEOUT_MS} ms`),
  },
  'A garbled answer once': {
    fault: (n) => (n === 1 ? { type: 'malformed-json' } : undefined),
    // The documented single retry of a lost answer: the gateway billed both.
    requests: 2,
    generated: 2,
  },
  'Corrupt image bytes': {
    fault: () => ({ type: 'corrupt-image' }),
    requests: 1,
    generated: 1,
    code: 'FLUX_BAD_IMAGE',
  },
  'Truncated image bytes': {
    fault: () => ({ type: 'truncated-image' }),
    requests: 1,
    generated: 1,
    code: 'FLUX_BAD_IMAGE',
  },
  'An expired image URL': {
    fault: () => ({ type: 'expired-url' }),
    requests: 2,
    generated: 2,
    code: 'FLUX_DOWNLOAD',
    detail: /404/,
  },
  'An empty data array': {
    fault: () => ({ type: 'empty-data' }),
    requests: 1,
    generated: 0,
    code: 'FLUX_MODERATED',
    detail: /empty `data`/,
  },
  'A refused prompt': {
    fault: () => ({ type: 'moderation' }),
    requests: 1,
    generated: 0,
    code: 'FLUX_MODERATED',
    detail: /safety system/,
  },
}
const FAILING = Object.entries(FAULTS).filter(([, e]) => e.code !== undefined)
const SUCCEEDING = Object.entries(FAULTS).filter(([, e]) => e.code === undefined)
const MODERATED = FAILING.filter(([, e]) => e.code === 'FLUX_MODERATED').map(([prompt]) => prompt)

describe('gateway faults through a real astro build', () => {
  it('one build, one fault per prompt: exact requests, successes cached, failures located; the rerun pays only for what failed', async () => {
    const root = await project(['index.md', 'again.md'])
    gateway.reset()
    gateway.fault = ({ body, promptCount }) => FAULTS[body.prompt]?.fault?.(promptCount)
    const first = await buildIn(root, {
      // url answers, so that expired and corrupt downloads are real downloads from the mock.
      responseFormat: 'url',
      allowPrivateDownloads: true,
      timeoutMs: TIMEOUT_MS,
      concurrency: 6,
    })

    expect(first.error?.message).toContain(`[flux] ${FAILING.length} image(s) failed:`)
    const located = failures(first.error)
    expect(located.size).toBe(FAILING.length)
    for (const [prompt, expected] of Object.entries(FAULTS)) {
      expect(gateway.requestsByPrompt.get(prompt) ?? 0, `requests for "${prompt}"`).toBe(expected.requests)
      expect(gateway.generatedByPrompt.get(prompt) ?? 0, `billed for "${prompt}"`).toBe(expected.generated)
      const block = located.get(`src/pages/index.md:${await lineOf('index.md', prompt)}`)
      if (!expected.code) {
        expect(block, `"${prompt}" succeeded`).toBeUndefined()
        continue
      }
      expect(block, `"${prompt}" is located`).toBeDefined()
      expect(
        block?.startsWith(catalogPrefix(expected.code, expected.args)),
        `${expected.code}: ${block}`,
      ).toBe(true)
      if (expected.detail) expect(block).toMatch(expected.detail)
      expect(block).toContain(`hint: ${ERRORS[expected.code].hint}`)
    }
    // Two pages share two prompts: still one request each (counted above), and every request accounted for.
    expect(gateway.requests).toBe(Object.values(FAULTS).reduce((sum, e) => sum + e.requests, 0))
    // Only the lost answers were retried in a way that may bill twice, and each said so once.
    const billedTwice = Object.entries(FAULTS).filter(([, e]) => e.generated > 1)
    expect(billedTwice.map(([p]) => p).sort()).toEqual(
      [
        'A connection reset after the work',
        'A connection reset mid-body',
        'A garbled answer once',
        'An expired image URL',
      ].sort(),
    )
    expect(first.logs.filter((l) => l.includes('retrying once: the gateway may bill twice'))).toHaveLength(
      // Each reset (the client cannot tell whether the gateway read the request), the hang (sent, then
      // no answer), the garbled answer, the expired URL.
      6,
    )

    // Every success is cached and verifies; refusals are remembered; nothing is corrupt or half-written.
    const status = await cacheStatus(root)
    for (const [prompt] of SUCCEEDING) expect(status[prompt], prompt).toBe('cached')
    for (const prompt of MODERATED) expect(status[prompt], prompt).toBe('moderated')
    for (const [prompt, e] of FAILING)
      if (e.code !== 'FLUX_MODERATED') expect(status[prompt], prompt).toBe('missing')
    expect(await readdir(join(root, '.flux-cache', 'tmp')).catch(() => [])).toEqual([])
    expect(await readdir(join(root, '.flux-cache', 'locks')).catch(() => [])).toEqual([])

    // The gateway recovers: the rerun asks once for each image that failed, except the refused ones.
    gateway.reset()
    const second = await buildIn(root, { responseFormat: 'url', allowPrivateDownloads: true })
    const retried = FAILING.filter(([, e]) => e.code !== 'FLUX_MODERATED').map(([p]) => p)
    expect(Object.fromEntries(gateway.requestsByPrompt)).toEqual(
      Object.fromEntries(retried.map((p) => [p, 1])),
    )
    const stillRefused = failures(second.error)
    expect([...stillRefused.values()].every((b) => b.includes('(remembered from an earlier run)'))).toBe(true)
    expect(stillRefused.size).toBe(MODERATED.length)
    const after = await cacheStatus(root)
    for (const [prompt] of Object.entries(FAULTS))
      expect(after[prompt], prompt).toBe(MODERATED.includes(prompt) ? 'moderated' : 'cached')
  }, 240_000)

  it('a quota answer (429 insufficient_quota) stops the build after the image before it: 2 requests, no retry', async () => {
    const root = await project(['stop.md'])
    gateway.reset()
    const asked: string[] = []
    gateway.fault = ({ body, requestNumber }) => {
      asked.push(body.prompt)
      return requestNumber === 2 ? { type: 'quota' } : undefined
    }
    const { error, logs } = await buildIn(root, { concurrency: 1 })
    expect(gateway.requests).toBe(2)
    expect(gateway.generated).toBe(1)
    const [paid, refused] = asked as [string, string]
    const located = failures(error)
    expect([...located.keys()]).toEqual([`src/pages/stop.md:${await lineOf('stop.md', refused)}`])
    expect([...located.values()][0]?.startsWith(catalogPrefix('FLUX_QUOTA', { status: 429 }))).toBe(true)
    expect(logs.join('\n')).not.toContain('retrying')
    const status = await cacheStatus(root)
    expect(status[paid]).toBe('cached')
    expect(Object.values(status).sort()).toEqual(['cached', 'missing', 'missing'])
  })
})

describe('the API key is never written anywhere', () => {
  it('not by a build whose gateway echoes it in a 401, nor by a successful build, the CLI, the cache, the report or dist/', async () => {
    const root = await project(['stop.md'])
    const outputs: string[] = []

    // A gateway that echoes the Authorization header in its 401, built with every log level on.
    gateway.reset()
    let first = ''
    gateway.fault = ({ body }) => {
      first ||= body.prompt
      return { type: 'auth', echoKey: true }
    }
    const refused = await buildChild(root, { concurrency: 1 }, true)
    outputs.push(refused.stdout, refused.stderr)
    expect(refused.code).toBe(1)
    expect(gateway.requests).toBe(1)
    const auth = `src/pages/stop.md:${await lineOf('stop.md', first)}:`
    const printed = refused.stdout + refused.stderr
    expect(printed).toContain(`[flux] ${auth}`)
    expect(printed).toContain(catalogPrefix('FLUX_AUTH', { status: 401 }))
    expect(printed).toContain('[redacted]')

    // A gateway whose 500 quotes the key back, then recovers: retried at debug level, then built.
    gateway.reset()
    gateway.fault = ({ promptCount }) =>
      promptCount === 1
        ? {
            type: 'error',
            status: 500,
            message: `upstream refused Authorization: Bearer ${KEY} (key ${KEY})`,
          }
        : undefined
    const built = await buildChild(root, {}, true)
    outputs.push(built.stdout, built.stderr)
    expect(built.code, built.stderr).toBe(0)
    expect(gateway.requests).toBe(6)
    expect(gateway.generated).toBe(3)

    const env = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url })
    await writeFile(join(root, 'flux.config.mjs'), `export default ${JSON.stringify(OPTIONS)}\n`)
    for (const args of [['scan'], ['generate'], ['report']]) {
      const run = await runCli(args, { cwd: root, env })
      expect(run.code, run.stderr).toBe(0)
      outputs.push(run.stdout, run.stderr)
    }
    expect(gateway.requests).toBe(6)

    const files = await readTree(root)
    const produced = files.map((f) => f.path.slice(root.length + 1))
    expect(produced.some((p) => p.startsWith('dist/_flux/') && p.endsWith('.webp'))).toBe(true)
    expect(
      produced.filter((p) => p.startsWith('.flux-cache/originals/') && p.endsWith('.json')),
    ).toHaveLength(3)
    expect(produced).toContain('flux-report.html')
    expect(produced).toContain('dist/stop/index.html')
    const leaks = files.filter((f) => f.bytes.includes(KEY)).map((f) => f.path)
    expect(leaks).toEqual([])
    // Vite's `vite:env` dump of the whole environment is the one thing left out (see withoutViteEnvDump).
    for (const text of outputs.map(withoutViteEnvDump)) {
      expect(text).not.toContain(KEY)
      expect(text).not.toMatch(/Bearer (?!\[redacted\])/)
    }
    // The debug lines really were there to search: the retry of the echoing 500 was logged.
    expect(built.stdout + built.stderr).toMatch(/astro:flux .*attempt 1 failed .*500/)
  }, 240_000)
})

describe('hostile text through a real astro build', () => {
  it('no prompt or alt text breaks out of its attribute, no file name comes from a prompt, a page of invalid UTF-8 builds', async () => {
    const hostilePrompt = '../../etc/passwd & "quotes" <script>alert(1)</script> \u2014 na\u00efve \u{1f98a}'
    // No straight quotes here: markdown's typographer curls them in alt text (quotes are in the prompt).
    const hostileAlt = 'Tom & Jerry <3\nsecond line \u2014 caf\u00e9 \u2615'
    const page = [
      '---',
      'title: Hostile',
      '---',
      '',
      `![${hostileAlt}](flux:A plain prompt with hostile alt text)`,
      '',
      `![](flux:${encodeURIComponent(hostilePrompt)})`,
      '',
    ].join('\n')
    const root = await project([], { 'src/pages/hostile.md': page })
    // Bytes that are not UTF-8 around a directive.
    const invalid = Buffer.concat([
      Buffer.from('---\ntitle: Bytes\n---\n\nBroken \xff\xfe bytes: '),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]),
      Buffer.from('\n\n![bytes](flux:A prompt after invalid bytes)\n'),
    ])
    await writeFile(join(root, 'src/pages/bytes.md'), invalid)
    gateway.reset()
    const { error } = await buildIn(root)
    expect(error).toBeUndefined()
    expect(Object.fromEntries(gateway.requestsByPrompt)).toEqual({
      'A plain prompt with hostile alt text': 1,
      [hostilePrompt]: 1,
      'A prompt after invalid bytes': 1,
    })

    const html = await readFile(join(root, 'dist/hostile/index.html'), 'utf8')
    // Nothing escapes its attribute: outside the quoted values there is no script. (Inside a quoted
    // value `<` is plain text; Astro's serializer leaves it as is, renderPicture escapes it too.)
    expect(html.replace(/="[^"]*"/g, '=""')).not.toMatch(/<script|alert/)
    const alts = [...html.matchAll(/<img [^>]*alt="([^"]*)"/g)].map((m) => m[1] ?? '')
    expect(alts).toHaveLength(2)
    for (const alt of alts) expect(alt).not.toMatch(/&(?!(amp|lt|gt|quot|#39|#x27|#10|#xA);)/)
    const decode = (text: string) =>
      text
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#(x27|39);/g, "'")
        .replace(/&#(10|xA);/g, '\n')
        .replace(/&amp;/g, '&')
    expect(alts.map(decode).sort()).toEqual([hostileAlt, hostilePrompt].sort())
    const bytes = await readFile(join(root, 'dist/bytes/index.html'), 'utf8')
    expect(bytes).toMatch(/<picture>.*alt="bytes"/s)

    // No file name comes from a prompt: hex keys in the cache, [a-z0-9-] slugs plus a hash in dist/.
    for (const file of await readTree(join(root, '.flux-cache', 'originals'))) {
      expect(file.path.split('/').pop()).toMatch(/^[0-9a-f]{24}\.(png|json)$/)
    }
    const emitted = await readdir(join(root, 'dist/_flux'))
    expect(emitted.length).toBeGreaterThan(0)
    for (const name of emitted) expect(name).toMatch(/^[a-z0-9-]+\.(webp|jpg|png)$/)
    expect(emitted.some((name) => name.startsWith('etc-passwd-quotes-script-alert-1'))).toBe(true)
  })
})

describe('a CLI run and an astro build on one cache directory at once', () => {
  it('generate each image exactly once, and both succeed', async () => {
    const prompts = Array.from({ length: 10 }, (_, i) => `A shared image number ${i}`)
    const page = ['---', 'title: Shared', '---', '', ...prompts.map((p) => `![${p}](flux:${p})\n`)].join('\n')
    const root = await project([], {
      'src/pages/shared.md': page,
      'flux.config.mjs': `export default ${JSON.stringify(OPTIONS)}\n`,
    })
    gateway.reset()
    // The gateway holds every request until both runs have sent some: each then surely generates
    // part of the images, however slow the machine (no latency to race against).
    gateway.hold()
    const building = buildChild(root, { concurrency: 3 })
    // The CLI starts once the build has its three requests out: both then work on the same images.
    await gateway.whenHeld(3)
    // More locks at once than the build's staging pool holds, so that the CLI does not only wait on
    // the build's images (both walk them in the same order) but also takes some of its own.
    const generating = runCli(['generate', '--concurrency', '8'], {
      cwd: root,
      env: cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url }),
    })
    await gateway.whenHeld(4)
    gateway.release()
    const cli = await generating
    const astro = await building
    expect(cli.code, cli.stderr).toBe(0)
    expect(astro.code, astro.stderr).toBe(0)
    expect(gateway.generated).toBe(10)
    expect(Object.fromEntries(gateway.generatedByPrompt)).toEqual(
      Object.fromEntries(prompts.map((p) => [p, 1])),
    )
    // Each run generated part of the images and took the others from the cache the other run wrote.
    const byCli = Number(/(\d+) generated/.exec(cli.stderr)?.[1])
    const byAstro = Number(/(\d+) generated/.exec(astro.stdout + astro.stderr)?.[1])
    expect(byCli).toBeGreaterThan(0)
    expect(byAstro).toBeGreaterThan(0)
    expect(byCli + byAstro).toBe(10)
    const html = await readFile(join(root, 'dist/shared/index.html'), 'utf8')
    expect(html.match(/<picture>/g)).toHaveLength(10)
    expect(Object.values(await cacheStatus(root))).toEqual(prompts.map(() => 'cached'))
    // A hang guard for two builds on a busy machine, not a time limit.
  }, 120_000)
})
