// `flux-images generate` against the mock BFL API, as users run it: exact counts of submits,
// polls and files; jobs that survive a SIGKILL; reference images sent and keyed by content.
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, runCli, startCli } from './helpers/cli.js'
import { createMockBfl, type MockBfl } from './mock-bfl/index.js'

const KEY = 'bfl-cli-key-7f3a9c2e51'
let mock: MockBfl
let cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  mock = await createMockBfl({ apiKey: KEY })
})
afterAll(() => mock.close())
afterEach(async () => {
  mock.releasePolls()
  mock.fault = undefined
  mock.pendingPolls = 1
  for (const cleanup of cleanups) await cleanup()
  cleanups = []
})

const env = () => cliEnv({ FLUX_PROVIDER: 'bfl', BFL_API_KEY: KEY, FLUX_BASE_URL: mock.url })
const config = (extra: Record<string, unknown> = {}) =>
  `export default ${JSON.stringify({ model: 'flux-2-pro', size: '80x64', allowPrivateDownloads: true, ...extra })}\n`

async function project(files: Record<string, string>): Promise<string> {
  const p = await makeProject(files)
  cleanups.push(p.cleanup)
  return p.root
}
const pages = (count: number, prefix: string) =>
  Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`p${i}.md`, `# Page ${i}\n\n![x](flux:${prefix} ${i})\n`]),
  )
const names = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort()
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const png = (background: string) =>
  sharp({ create: { width: 8, height: 8, channels: 3, background } })
    .png()
    .toBuffer()

/** Counters' change over one call. */
async function counted<T>(run: () => Promise<T>) {
  const before = {
    submits: mock.submits,
    polls: mock.polls,
    downloads: mock.downloads,
    charged: mock.charged,
  }
  const value = await run()
  return {
    value,
    submits: mock.submits - before.submits,
    polls: mock.polls - before.polls,
    downloads: mock.downloads - before.downloads,
    charged: Math.round((mock.charged - before.charged) * 100) / 100,
  }
}

describe('flux-images generate with provider bfl', () => {
  it('24 directives: exactly 24 submits, 48 polls, 24 downloads without the key; at most 4 jobs in flight', {
    timeout: 300_000,
  }, async () => {
    const root = await project({
      ...pages(24, 'a bounded job'),
      'flux.config.mjs': config({ concurrency: 4 }),
    })
    const maxBefore = mock.maxInFlight
    expect(maxBefore).toBe(0)
    // Polls held until four jobs wait on them: the bound is full, however slow the machine.
    mock.holdPolls()
    const run = counted(() => runCli(['generate'], { cwd: root, env: env() }))
    await mock.whenPollsHeld(4)
    expect(mock.submits).toBe(4)
    mock.releasePolls()
    const { value: cli, submits, polls, downloads, charged } = await run
    expect(cli.code, cli.stderr).toBe(0)
    expect([submits, polls, downloads, mock.maxInFlight]).toEqual([24, 48, 24, 4])
    expect(mock.downloadsWithKey).toBe(0)
    const originals = await names(join(root, '.flux-cache/originals'))
    expect(originals.filter((n) => n.endsWith('.png'))).toHaveLength(24)
    expect(originals.filter((n) => n.endsWith('.json'))).toHaveLength(24)
    // Each image's real cost and seed are in its metadata; together they are what the mock charged.
    const metas = await Promise.all(
      originals
        .filter((n) => n.endsWith('.json'))
        .map(async (n) => JSON.parse(await readFile(join(root, '.flux-cache/originals', n), 'utf8'))),
    )
    expect(metas.reduce((sum, m) => sum + m.credits, 0)).toBe(charged)
    expect(charged).toBe(72)
    // The summary adds what the API charged: 72 credits, $0.72.
    expect(cli.stderr).toMatch(/24 generated, .* · charged \$0\.720/)
    expect(metas.every((m) => Number.isInteger(m.seed) && typeof m.jobId === 'string')).toBe(true)
    expect(await names(join(root, '.flux-cache/jobs'))).toEqual([])
    expect(`${cli.stdout}${cli.stderr}`).not.toContain(KEY)
  })

  it('the default bound is 24 jobs in flight: 24 directives are all submitted before any is polled to the end', {
    timeout: 300_000,
  }, async () => {
    const root = await project({ ...pages(24, 'a default-bound job'), 'flux.config.mjs': config() })
    mock.holdPolls()
    const run = counted(() => runCli(['generate'], { cwd: root, env: env() }))
    await mock.whenPollsHeld(24)
    expect(mock.inFlight).toBe(24)
    mock.releasePolls()
    const { value: cli, submits, polls } = await run
    expect(cli.code, cli.stderr).toBe(0)
    expect([submits, polls, mock.maxInFlight]).toEqual([24, 48, 24])
  })

  it('SIGKILL after the submits and before the results: the rerun sends 0 submits and ends with every image', {
    timeout: 300_000,
  }, async () => {
    const root = await project({
      ...pages(6, 'a job that survives'),
      'flux.config.mjs': config({ concurrency: 6 }),
    })
    mock.holdPolls()
    const before = mock.submits
    const { child, done } = startCli(['generate'], { cwd: root, env: env() })
    // Six polls held: each job's receipt was written before its first poll.
    await mock.whenPollsHeld(6)
    child.kill('SIGKILL')
    expect((await done).signal).toBe('SIGKILL')
    expect(mock.submits - before).toBe(6)
    const receipts = await names(join(root, '.flux-cache/jobs'))
    expect(receipts).toHaveLength(6)
    const texts = await Promise.all(receipts.map((n) => readFile(join(root, '.flux-cache/jobs', n), 'utf8')))
    expect(texts.join('')).not.toContain(KEY)
    expect(JSON.parse(texts[0] ?? '{}')).toMatchObject({ model: 'flux-2-pro', credits: 3 })
    expect(await names(join(root, '.flux-cache/originals'))).toEqual([])
    // The held polls (the killed run's) are answered to closed sockets: each job's one Pending poll.
    mock.releasePolls()

    const rerun = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(rerun.value.code, rerun.value.stderr).toBe(0)
    expect([rerun.submits, rerun.polls, rerun.downloads]).toEqual([0, 6, 6])
    expect((await names(join(root, '.flux-cache/originals'))).filter((n) => n.endsWith('.png'))).toHaveLength(
      6,
    )
    expect(await names(join(root, '.flux-cache/jobs'))).toEqual([])
  })

  it('a receipt whose task is gone is reported at its directive, not resubmitted in that run', {
    timeout: 300_000,
  }, async () => {
    const root = await project({
      ...pages(2, 'a forgotten job'),
      'flux.config.mjs': config({ concurrency: 2 }),
    })
    mock.holdPolls()
    const { child, done } = startCli(['generate'], { cwd: root, env: env() })
    await mock.whenPollsHeld(2)
    child.kill('SIGKILL')
    await done
    mock.forgetJobs()
    mock.releasePolls()

    const lost = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(lost.value.code).not.toBe(0)
    expect([lost.submits, lost.polls]).toEqual([0, 2])
    expect(lost.value.stderr).toMatch(/p0\.md:3:6: .*no longer known to the API \("Task not found"\)/)
    expect(lost.value.stderr).toMatch(/p1\.md:3:6: .*no longer known to the API/)
    // Reported once: the next run submits anew.
    const again = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(again.value.code, again.value.stderr).toBe(0)
    expect(again.submits).toBe(2)
  })
})

describe('refusals with provider bfl', () => {
  it('moderation at the poll is remembered: the next run submits nothing for it', {
    timeout: 300_000,
  }, async () => {
    const root = await project({ ...pages(2, 'a moderated job'), 'flux.config.mjs': config() })
    mock.fault = ({ prompt }) => (prompt.endsWith(' 1') ? { at: 'poll', type: 'moderated' } : undefined)
    const first = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(first.value.code).not.toBe(0)
    expect(first.submits).toBe(2)
    expect(first.value.stderr).toMatch(
      /p1\.md:3:6: .*refused this prompt \(moderation\): BFL answered "Content Moderated"/,
    )
    expect(await names(join(root, '.flux-cache/jobs'))).toEqual([])

    const again = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(again.value.code).not.toBe(0)
    expect([again.submits, again.polls]).toEqual([0, 0])
    expect(again.value.stderr).toContain('remembered from an earlier run')
  })

  it('402 at submit stops the run: the key is in no output', { timeout: 300_000 }, async () => {
    const root = await project({
      ...pages(3, 'an unpaid job'),
      'flux.config.mjs': config({ concurrency: 1 }),
    })
    mock.fault = () => ({ at: 'submit', type: 'payment' })
    const run = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(run.value.code).not.toBe(0)
    expect([run.submits, run.polls]).toEqual([1, 0])
    expect(run.value.stderr).toContain('Insufficient credits')
    expect(`${run.value.stdout}${run.value.stderr}`).not.toContain(KEY)
  })
})

describe('references with provider bfl', () => {
  it('a preset with two references on flux-2-pro sends both; a reference’s new bytes re-key its images', {
    timeout: 300_000,
  }, async () => {
    const a = await png('#c00')
    const b = await png('#00c')
    const root = await project({
      'post.md': '# Post\n\n![x](flux:a house style lighthouse)\n',
      'flux.config.mjs': config({
        presets: { house: { prompt: '{prompt}, flat', references: ['refs/a.png', 'refs/b.png'] } },
        preset: 'house',
      }),
    })
    await import('node:fs/promises').then((fs) => fs.mkdir(join(root, 'refs')))
    await writeFile(join(root, 'refs/a.png'), a)
    await writeFile(join(root, 'refs/b.png'), b)

    const first = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(first.value.code, first.value.stderr).toBe(0)
    expect(first.submits).toBe(1)
    expect(mock.submitRecords.at(-1)?.inputImages).toEqual([sha256(a), sha256(b)])
    // Two input images on FLUX.2 pro: 3 credits for the first megapixel, 1.5 for each input.
    expect(first.charged).toBe(6)

    const c = await png('#0c0')
    await writeFile(join(root, 'refs/b.png'), c)
    const second = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(second.value.code, second.value.stderr).toBe(0)
    expect(second.submits).toBe(1)
    expect(mock.submitRecords.at(-1)?.inputImages).toEqual([sha256(a), sha256(c)])
    const originals = (await names(join(root, '.flux-cache/originals'))).filter((n) => n.endsWith('.png'))
    expect(originals).toHaveLength(2)
  })

  it('five references on flux-2-klein-4b (which takes four): an error at the directive, 0 submits', {
    timeout: 300_000,
  }, async () => {
    const refs = Object.fromEntries(['1', '2', '3', '4', '5'].map((n) => [`refs/${n}.png`, n]))
    const root = await project({
      ...refs,
      'post.md': '# Post\n\n![x](flux:too many references)\n',
      'flux.config.mjs': config({
        model: 'flux-2-klein-4b',
        presets: { many: { prompt: '{prompt}', references: Object.keys(refs) } },
        preset: 'many',
      }),
    })
    const run = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(run.value.code).not.toBe(0)
    expect(run.submits).toBe(0)
    expect(run.value.stderr).toMatch(
      /post\.md:3:6: Its preset sends 5 style reference image\(s\), and the provider "bfl \(flux-2-klein-4b\)" takes at most 4: nothing was sent/,
    )
  })

  it('a directive’s own `ref`s, relative to its file: sent in order, keyed by their bytes; a missing one is an error at the directive', {
    timeout: 300_000,
  }, async () => {
    const sketch = await png('#c60')
    const palette = await png('#06c')
    const root = await project({
      'blog/post.md':
        '# Post\n\n![x](flux:a harbour at dusk?ref=./images/sketch.png&ref=images/palette.png)\n',
      'flux.config.mjs': config(),
    })
    await mkdir(join(root, 'blog/images'))
    await writeFile(join(root, 'blog/images/sketch.png'), sketch)
    await writeFile(join(root, 'blog/images/palette.png'), palette)

    const first = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(first.value.code, first.value.stderr).toBe(0)
    expect(first.submits).toBe(1)
    expect(mock.submitRecords.at(-1)?.inputImages).toEqual([sha256(sketch), sha256(palette)])
    expect(first.charged).toBe(6)

    // New bytes in the sketch: a new key, one submit; a second directive names a file that is not there.
    const redrawn = await png('#6c0')
    await writeFile(join(root, 'blog/images/sketch.png'), redrawn)
    await writeFile(
      join(root, 'blog/post.md'),
      '# Post\n\n![x](flux:a harbour at dusk?ref=./images/sketch.png&ref=images/palette.png)\n![y](flux:a quay?ref=./images/gone.png)\n',
    )
    const second = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(second.value.code).not.toBe(0)
    expect(second.submits).toBe(1)
    expect(mock.submitRecords.at(-1)?.inputImages).toEqual([sha256(redrawn), sha256(palette)])
    expect(second.value.stderr).toMatch(
      /blog\/post\.md:4:6: .*the reference image "\.\/images\/gone\.png" \(`ref`\): ENOENT/,
    )
    const originals = (await names(join(root, '.flux-cache/originals'))).filter((n) => n.endsWith('.png'))
    expect(originals).toHaveLength(2)
  })

  it('a preset’s two references and three of its own on flux-kontext-pro (which takes four): an error at the directive, 0 submits', {
    timeout: 300_000,
  }, async () => {
    const refs = Object.fromEntries(['1', '2', '3', '4', '5'].map((n) => [`refs/${n}.png`, n]))
    const root = await project({
      ...refs,
      'post.md': '# Post\n\n![x](flux:too many references?ref=refs/3.png&ref=refs/4.png&ref=refs/5.png)\n',
      'flux.config.mjs': config({
        model: 'flux-kontext-pro',
        presets: { two: { prompt: '{prompt}', references: ['refs/1.png', 'refs/2.png'] } },
        preset: 'two',
      }),
    })
    const run = await counted(() => runCli(['generate'], { cwd: root, env: env() }))
    expect(run.value.code).not.toBe(0)
    expect(run.submits).toBe(0)
    expect(run.value.stderr).toMatch(
      /post\.md:3:6: It sends 5 reference image\(s\) \(3 its own `ref`\), and the provider "bfl \(flux-kontext-pro\)" takes at most 4: nothing was sent/,
    )
  })
})

describe('costs with provider bfl', () => {
  it('maxSpend $0.10 at 3 credits an image: exactly 3 submits, then the run stops saying so; the report’s costs are the mock’s', {
    timeout: 300_000,
  }, async () => {
    const root = await project({ ...pages(6, 'a costed job'), 'flux.config.mjs': config() })
    const run = await counted(() =>
      runCli(['generate'], { cwd: root, env: { ...env(), FLUX_MAX_SPEND: '0.10' } }),
    )
    expect(run.value.code).not.toBe(0)
    expect([run.submits, run.polls, run.charged]).toEqual([3, 6, 9])
    expect(run.value.stderr).toContain(
      'The next image (estimated $0.030) would take this run past maxSpend $0.10: 3 image(s) requested for $0.090, and nothing more is.',
    )
    expect(run.value.stderr).toMatch(/3 generated, .*2 skipped.* · charged \$0\.090/)
    expect(run.value.stderr.match(/would take this run past maxSpend/g)).toHaveLength(1)

    const report = await runCli(['report'], { cwd: root, env: env() })
    expect(report.code, report.stderr).toBe(0)
    const html = await readFile(join(root, 'flux-report.html'), 'utf8')
    expect(
      html.match(/<span class="cost">\$0\.030<\/span> <span class="dim">· 3 credits<\/span>/g),
    ).toHaveLength(3)
    expect(html).toContain('charged <span class="total-charged">$0.090</span> (9 credits, 3 images)')
  })
})
