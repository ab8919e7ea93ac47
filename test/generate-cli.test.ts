import { existsSync, readdirSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, cliEnv, makeProject, readTree, runCli, startCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

// A fake key with a distinctive shape, so a leak anywhere is easy to grep for.
const KEY = 'sk-flux-test-7f3a9c1e5b2d-DO-NOT-LEAK'

let gateway: MockGateway
let cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway.close()
})
afterEach(async () => {
  gateway.reset()
  gateway.fault = undefined
  gateway.latencyMs = 0
  for (const c of cleanups) await c()
  cleanups = []
})

async function project(files: Record<string, string>) {
  const p = await makeProject(files)
  cleanups.push(p.cleanup)
  return p.root
}

const env = (extra: Record<string, string | undefined> = {}) =>
  cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...extra })

/** Six posts, each with two frontmatter and two body directives (24 distinct), plus a page of duplicates. */
function site(): Record<string, string> {
  const files: Record<string, string> = {}
  for (let i = 0; i < 6; i++) {
    files[`src/content/posts/post-${i}.md`] = [
      '---',
      `title: Post ${i}`,
      `cover: "flux: cover of post ${i}, watercolor?size=1536x1024"`,
      'gallery:',
      `  - flux: gallery image ${i}`,
      '    size: 1344x768',
      `    alt: Gallery ${i}`,
      '---',
      '',
      `![Body one of post ${i}](<flux:body one of post ${i}, oil painting>)`,
      '',
      `![Body two ${i}](flux:body two of post ${i}?model=flux-schnell)`,
      '',
    ].join('\n')
  }
  files['src/pages/index.md'] = [
    '# Index',
    '',
    '![again](<flux:cover of post 0, watercolor?size=1536x1024>)',
    '![again](flux:body%20one%20of%20post%201,%20oil%20painting)',
    '`![not a directive](flux:inline code)`',
    '',
    '```',
    '![not a directive](flux:fenced code)',
    '```',
  ].join('\n')
  return files
}

/**
 * With the gateway holding: answers `count` requests one at a time, then waits until `next` more
 * are held (a run with `next` slots has then finished `count` images and started the following).
 */
async function letThrough(count: number, next: number): Promise<void> {
  for (let answered = 0; answered < count; answered++) {
    await gateway.whenHeld(1)
    gateway.release(1)
  }
  await gateway.whenHeld(next)
  expect(gateway.generated).toBe(count)
}

/** Waits for `ready()`, failing early if the process ends first. */
async function until(ready: () => boolean, run: Promise<CliRun>): Promise<void> {
  let ended: CliRun | undefined
  void run.then((r) => {
    ended = r
  })
  while (!ready()) {
    if (ended) throw new Error(`the CLI ended first: ${ended.stderr}`)
    await sleep(5)
  }
}

/** How many cache entries have their metadata written (the last step of a cache write). */
function metadataFiles(root: string): number {
  const originals = join(root, '.flux-cache', 'originals')
  return existsSync(originals) ? readdirSync(originals).filter((n) => n.endsWith('.json')).length : 0
}

describe('flux-images generate against the mock gateway', () => {
  it('generates 24 distinct images once each, within the bound, through 429s and 500s; a second run sends nothing', async () => {
    const root = await project(site())
    gateway.latencyMs = 300
    gateway.fault = ({ requestNumber }) => {
      if (requestNumber % 7 === 0) return { type: 'rate-limit', retryAfterMs: 50 }
      if (requestNumber === 3 || requestNumber === 11)
        return { type: 'error', status: 500, headers: { 'retry-after-ms': '30' } }
      return undefined
    }
    // The first four requests are held until all four are out: the run works 4 at a time, a fact
    // rather than a figure of its duration.
    gateway.hold()
    const running = runCli(['generate', '--concurrency', '4'], { cwd: root, env: env({ CI: 'true' }) })
    await gateway.whenHeld(4)
    expect(gateway.inFlight).toBe(4)
    gateway.release()
    const first = await running
    expect(first.stderr).toMatch(/24 image\(s\) from 26 directive\(s\): 24 generated, 0 cached/)
    expect(first.code).toBe(0)
    expect(gateway.generated).toBe(24)
    expect([...gateway.generatedByPrompt.values()].every((n) => n === 1)).toBe(true)
    expect(gateway.generatedByPrompt.has('inline code')).toBe(false)
    expect(gateway.generatedByPrompt.has('fenced code')).toBe(false)
    expect(gateway.maxInFlight).toBeLessThanOrEqual(4)
    expect(gateway.maxInFlight).toBe(4)
    // 24 images at 4 at a time and 300 ms each cannot take less than 6 x 300 ms (a lower bound: a
    // busy machine only adds to it).
    expect(first.ms).toBeGreaterThan(1_800)
    const retries = Number(/generated, .* (\d+) retries/.exec(first.stderr)?.[1])
    expect(retries).toBe(gateway.requests - 24)
    expect(first.stderr).toMatch(/progress: 24\/24 done/)

    const requestsBefore = gateway.requests
    const second = await runCli(['generate'], { cwd: root, env: env() })
    expect(second.code).toBe(0)
    expect(gateway.requests).toBe(requestsBefore)
    expect(second.stderr).toMatch(/0 generated, 24 cached/)
    // The key is in no output and no cache file.
    for (const text of [first.stdout, first.stderr, second.stdout, second.stderr])
      expect(text).not.toContain(KEY)
    for (const file of await readTree(join(root, '.flux-cache'))) expect(file.bytes.includes(KEY)).toBe(false)
  }, 60_000)

  it('scan lists every directive with its location and status', async () => {
    const root = await project({
      'a.md': '# A\n\n![x](flux:a red kite?size=1024x1536)\n',
      'b.ts': "import k from 'flux:a red kite?size=1024x1536'\n",
    })
    const before = await runCli(['scan', '--json'], { cwd: root, env: env() })
    expect(before.code).toBe(0)
    const rows = JSON.parse(before.stdout).directives as {
      location: string
      status: string
      size: string
      key: string
    }[]
    expect(rows.map((r) => [r.location, r.status, r.size])).toEqual([
      ['a.md:3:6', 'missing', '1024x1536'],
      ['b.ts:1:16', 'missing', '1024x1536'],
    ])
    expect(rows[0]?.key).toBe(rows[1]?.key)
    await runCli(['generate'], { cwd: root, env: env() })
    await writeFile(join(root, 'c.md'), '![typo](flux:a blue kite?sise=1536x1024)\n')
    const after = await runCli(['scan'], { cwd: root, env: env() })
    expect(after.stderr).toContain(
      'c.md:1:9: unknown option `sise` (known: model, size, quality, seed, alt, preset)',
    )
    expect(after.stdout).toMatch(/a\.md:3:6 {2}cached/)
    expect(after.stdout).toMatch(/3 directive\(s\), 2 distinct image\(s\): 1 cached, 1 missing/)
    expect(gateway.generated).toBe(1)
  })

  it('frozen mode with a new directive exits non-zero, names its file:line and calls nothing', async () => {
    const root = await project({
      'posts/new.md': '---\ntitle: New\n---\n\nText.\n\n![A new image](flux:a brand new image)\n',
    })
    const run = await runCli(['generate', '--mode', 'frozen'], { cwd: root, env: env() })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('posts/new.md:7:')
    expect(run.stderr).toContain('frozen mode forbids generating them')
    expect(gateway.requests).toBe(0)
    const viaEnv = await runCli(['generate'], { cwd: root, env: env({ FLUX_MODE: 'frozen' }) })
    expect(viaEnv.code).toBe(1)
    expect(gateway.requests).toBe(0)
  })

  it('a corrupted cached file is reported by scan and regenerated by generate', async () => {
    const root = await project({ 'a.md': '![x](flux:an apple)\n![y](flux:a pear)\n' })
    expect((await runCli(['generate'], { cwd: root, env: env() })).code).toBe(0)
    const originals = join(root, '.flux-cache', 'originals')
    const image = (await readdir(originals)).find((f) => !f.endsWith('.json'))
    if (!image) throw new Error('no original written')
    const bytes = await readFile(join(originals, image))
    const middle = bytes.length >> 1
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff
    await writeFile(join(originals, image), bytes)

    const scan = await runCli(['scan'], { cwd: root, env: env() })
    expect(scan.stdout).toMatch(/corrupt/)
    expect(scan.stdout).toMatch(/1 cached, 1 corrupt|1 corrupt, 1 cached/)
    const requests = gateway.requests
    const regen = await runCli(['generate'], { cwd: root, env: env() })
    expect(regen.code).toBe(0)
    expect(gateway.requests).toBe(requests + 1)
    expect(regen.stderr).toMatch(/1 generated, 1 cached/)
  })

  it('SIGKILL mid-run loses nothing that finished; the rerun generates only what is missing', async () => {
    const files: Record<string, string> = {}
    for (let i = 0; i < 12; i++) files[`p${i}.md`] = `![x](flux:killed run image ${i})\n`
    const root = await project(files)
    // Five requests answered one by one, the next two held; the kill lands once those five are
    // stored (their metadata, the last step of a write, is in place) and two requests are in flight.
    gateway.hold()
    const { child, done } = startCli(['generate', '--concurrency', '2'], { cwd: root, env: env() })
    await letThrough(5, 2)
    await until(() => metadataFiles(root) === 5, done)
    child.kill('SIGKILL')
    const killed = await done
    expect(killed.signal).toBe('SIGKILL')
    expect([gateway.requests, gateway.generated, gateway.held]).toEqual([7, 5, 2])

    const scan = JSON.parse((await runCli(['scan', '--json'], { cwd: root, env: env() })).stdout) as {
      directives: { status: string }[]
    }
    const statuses = scan.directives.map((d) => d.status)
    expect(statuses.filter((s) => s === 'cached')).toHaveLength(5)
    expect(statuses.filter((s) => s === 'missing')).toHaveLength(7)

    gateway.reset()
    gateway.latencyMs = 0
    const rerun = await runCli(['generate'], { cwd: root, env: env() })
    expect(rerun.code).toBe(0)
    expect([gateway.requests, gateway.generated]).toEqual([7, 7])
    expect(rerun.stderr).toContain('7 generated, 5 cached')
  })

  it('Ctrl-C aborts the requests in flight, starts no new one, exits 130, and leaves nothing half-written', async () => {
    const files: Record<string, string> = {}
    for (let i = 0; i < 10; i++) files[`p${i}.md`] = `![x](flux:interrupted image ${i})\n`
    const root = await project(files)
    // Three requests answered, the next two held: Ctrl-C lands with exactly five sent.
    gateway.hold()
    const { child, done } = startCli(['generate', '--concurrency', '2'], { cwd: root, env: env() })
    await letThrough(3, 2)
    await until(() => metadataFiles(root) === 3, done)
    child.kill('SIGINT')
    // The gateway never answers the two held requests: only the CLI aborting them closes them,
    // and a CLI that waited for them would never exit (the test would time out here).
    await gateway.whenAbandoned(2)
    const run = await done
    expect(run.code).toBe(130)
    expect(run.stderr).toMatch(/Interrupted/)
    // The summary is printed after the aborts, so the run ended on its own rather than quitting.
    expect(run.stderr).toMatch(/3 generated, 0 cached/)
    expect(run.stderr).toMatch(/7 skipped/)
    expect([gateway.requests, gateway.generated, gateway.abandoned]).toEqual([5, 3, 2])
    const tmp = join(root, '.flux-cache', 'tmp')
    expect(await readdir(tmp).catch(() => [])).toEqual([])
    gateway.reset()
    gateway.latencyMs = 0
    const rerun = await runCli(['generate'], { cwd: root, env: env() })
    expect(rerun.code).toBe(0)
    expect(rerun.stderr).toContain('7 generated, 3 cached')
    expect(gateway.requests).toBe(7)
  })

  it('two generate processes on one cache generate each key once', async () => {
    const files: Record<string, string> = {}
    for (let i = 0; i < 10; i++) files[`p${i}.md`] = `![x](flux:shared cache image ${i})\n`
    const root = await project(files)
    gateway.latencyMs = 100
    const [a, b] = await Promise.all([
      runCli(['generate', '--concurrency', '3'], { cwd: root, env: env() }),
      runCli(['generate', '--concurrency', '3'], { cwd: root, env: env() }),
    ])
    expect(a.code).toBe(0)
    expect(b.code).toBe(0)
    expect(gateway.generated).toBe(10)
    expect([...gateway.generatedByPrompt.values()].every((n) => n === 1)).toBe(true)
    const scan = await runCli(['scan'], { cwd: root, env: env() })
    expect(scan.stdout).toContain('10 distinct image(s): 10 cached')
  })

  it('a 401 that echoes the key stops the run, and the key appears in no output or file', async () => {
    const root = await project({ 'a.md': '![x](flux:one)\n![y](flux:two)\n![z](flux:three)\n' })
    gateway.fault = () => ({ type: 'auth', echoKey: true })
    const run = await runCli(['generate', '--concurrency', '1'], { cwd: root, env: env() })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/a\.md:\d+:\d+: The gateway refused the API key \(401\)/)
    expect(run.stderr).toMatch(/hint: Check FLUX_API_KEY/)
    expect(gateway.requests).toBe(1)
    expect(run.stderr + run.stdout).not.toContain(KEY)
    expect(run.stderr).toMatch(/2 skipped/)
    for (const file of await readTree(root)) expect(file.bytes.includes(KEY)).toBe(false)
  })

  it('bad inputs each get a located error with a hint, and the rest of the run completes', async () => {
    const root = await project({
      'a.md': '![x](flux:fine image one)\n\n![y](flux:a wide one?size=4000x10)\n',
      'b.md': '![m](flux:a cat?model=dall-e-3)\n![](flux:   ?size=1024x1024)\n',
      'c.md': '---\ntitle: [oops\ncover: "flux: in broken yaml"\n---\n![z](flux:fine image two)\n',
      'e.md': '![w](flux:fine image three)\n',
    })
    const run = await runCli(['generate'], { cwd: root, env: env() })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/a\.md:3:\d+: Unknown size "4000x10"\. Accepted sizes: 1024x1024,/)
    expect(run.stderr).toMatch(/b\.md:1:\d+: Unknown model "dall-e-3"/)
    expect(run.stderr).toMatch(/b\.md:2:\d+: The directive has an empty prompt/)
    expect(run.stderr).toMatch(/c\.md:[23]:\d+: The frontmatter could not be parsed/)
    expect(run.stderr.match(/hint: /g)?.length).toBeGreaterThanOrEqual(4)
    expect(gateway.generatedByPrompt.get('fine image one')).toBe(1)
    expect(gateway.generatedByPrompt.get('fine image two')).toBe(1)
    expect(gateway.generatedByPrompt.get('fine image three')).toBe(1)
    expect(run.stderr).toMatch(/3 generated/)
  })

  it('--dry-run lists what would be generated with its cost and calls nothing', async () => {
    const root = await project({
      'a.md': '![x](flux:one?model=flux-schnell)\n![y](flux:two)\n![z](flux:two)\n',
    })
    const run = await runCli(['generate', '--dry-run'], { cwd: root, env: env() })
    expect(run.code).toBe(0)
    expect(gateway.requests).toBe(0)
    expect(run.stdout).toMatch(/would generate {2}flux-schnell 1024x1024 {2}"one" {2}\(a\.md:1:6\)/)
    expect(run.stdout).toMatch(
      /would generate {2}flux-1\.1-pro 1024x1024 {2}"two" {2}\(a\.md:2:6, a\.md:3:6\)/,
    )
    expect(run.stdout).toMatch(/2 image\(s\) would be generated, est\. \$0\.043/)
  })

  it('--max refuses a run that would exceed the cap before spending', async () => {
    const root = await project({ 'a.md': '![x](flux:one)\n![y](flux:two)\n![z](flux:three)\n' })
    const run = await runCli(['generate', '--max', '2'], { cwd: root, env: env() })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('3 new image(s) would be generated, over the cap of 2')
    expect(run.stderr).toContain('--max N')
    expect(gateway.requests).toBe(0)
  })

  it('reads flux.config.mjs, below flags and the environment', async () => {
    const root = await project({
      'a.md': '![x](flux:configured image)\n',
      'flux.config.mjs': "export default { mode: 'frozen', concurrency: 1 }\n",
    })
    const frozen = await runCli(['generate'], { cwd: root, env: env() })
    expect(frozen.code).toBe(1)
    expect(frozen.stderr).toContain('frozen mode forbids')
    const byEnv = await runCli(['generate'], { cwd: root, env: env({ FLUX_MODE: 'auto' }) })
    expect(byEnv.code).toBe(0)
    expect(gateway.generated).toBe(1)
    await writeFile(join(root, 'flux.config.mjs'), 'export default { concurrency: 0 }\n')
    const invalid = await runCli(['scan'], { cwd: root, env: env() })
    // A usage error (README: exit code 2), and the message says where the value came from.
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toContain(
      'concurrency: Expected a whole number from 1 to 64, got 0 (from flux.config.mjs)',
    )
  })

  it('reads the key from .env and the options from flux.config.ts: real images, under the keys the file asks for', async () => {
    const root = await project({
      'a.md': '![x](flux:a key kept in dotenv)\n',
      '.env': `FLUX_API_KEY=${KEY}\nFLUX_BASE_URL=${gateway.url}\nOTHER_SECRET=not-read\n`,
      'flux.config.ts': "const model: string = 'flux-schnell'\nexport default { model, size: '1344x768' }\n",
    })
    gateway.reset()
    const run = await runCli(['generate'], { cwd: root, env: cliEnv() })
    expect(run.stderr).not.toMatch(/PLACEHOLDER/)
    expect(run.code).toBe(0)
    expect(gateway.generated).toBe(1)
    const scan = JSON.parse((await runCli(['scan', '--json'], { cwd: root, env: cliEnv() })).stdout)
    expect(scan.directives).toMatchObject([{ model: 'flux-schnell', size: '1344x768', status: 'cached' }])
    expect(run.stderr + run.stdout).not.toContain(KEY)
  })

  it('prune removes only entries nothing references', async () => {
    const root = await project({ 'a.md': '![x](flux:keep me)\n![y](flux:drop me)\n' })
    await runCli(['generate'], { cwd: root, env: env() })
    await writeFile(join(root, 'a.md'), '![x](flux:keep me)\n')
    const dry = await runCli(['prune', '--dry-run'], { cwd: root, env: env() })
    expect(dry.stdout).toMatch(/1 unreferenced entry would be removed/)
    const run = await runCli(['prune'], { cwd: root, env: env() })
    expect(run.stdout).toMatch(/1 unreferenced entry removed/)
    const scan = await runCli(['scan'], { cwd: root, env: env() })
    expect(scan.stdout).toContain('1 cached')
    const requests = gateway.requests
    await runCli(['generate'], { cwd: root, env: env() })
    expect(gateway.requests).toBe(requests)
  })
  it('prune removes nothing when every entry would go (a typo in include), lists them, and removes them with --yes', async () => {
    const root = await project({ 'a.md': '![x](flux:paid one)\n![y](flux:paid two)\n' })
    expect((await runCli(['generate'], { cwd: root, env: env() })).code).toBe(0)
    const originals = async () =>
      (await readdir(join(root, '.flux-cache/originals'))).filter((f) => f.endsWith('.png')).length
    expect(await originals()).toBe(2)
    // The typo: no file matches, so the scan finds no directive and both paid originals look unused.
    await writeFile(join(root, 'flux.config.mjs'), "export default { include: ['**/*.mdx'] }\n")
    const refused = await runCli(['prune'], { cwd: root, env: env() })
    expect(refused.code).toBe(1)
    expect(refused.stdout.match(/^would remove {2}\S+$/gm)).toHaveLength(2)
    expect(refused.stderr).toContain(
      '[flux] Nothing was removed: prune would remove every one of the 2 cache entries (listed above)',
    )
    expect(refused.stderr).toContain('`flux-images prune --yes`')
    expect(await originals()).toBe(2)
    const confirmed = await runCli(['prune', '--yes'], { cwd: root, env: env() })
    expect(confirmed.code).toBe(0)
    expect(confirmed.stdout).toContain('2 unreferenced entries removed.')
    expect(await originals()).toBe(0)
    expect(gateway.requests).toBe(2)
  })

  it('invalid options in a flag exit 2 (usage) and name the option', async () => {
    const root = await project({ 'a.md': '![x](flux:one)\n' })
    const run = await runCli(['generate', '--concurrency', '0x10'], { cwd: root, env: env() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('  - concurrency: Expected a whole number from 1 to 64, got "0x10"')
    expect(gateway.requests).toBe(0)
  })

  it('a syntax error in flux.config.mjs is shown at its line and column, exit 2', async () => {
    const root = await project({
      'a.md': '![x](flux:one)\n',
      'flux.config.mjs': 'export default {\n  concurrency: 4,,\n}\n',
    })
    const run = await runCli(['scan'], { cwd: root, env: env() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(
      "[flux] flux.config.mjs:2:18: Could not load flux.config.mjs: Unexpected token ','",
    )
  })
})

describe('flux-images prune and --force', () => {
  it('prune deletes nothing when a file could not be scanned, and says which', async () => {
    const root = await project({
      'a.md': '![x](flux:kept by a readable page)\n',
      'b.md': '---\ntitle: B\ncover: "flux: kept by a page whose frontmatter breaks"\n---\nText.\n',
    })
    expect((await runCli(['generate'], { cwd: root, env: env() })).code).toBe(0)
    expect(gateway.generated).toBe(2)
    const originals = join(root, '.flux-cache', 'originals')
    const before = (await readdir(originals)).sort()
    expect(before).toHaveLength(4)
    // The cover's directive is still in b.md, but its YAML no longer parses: its entry looks unreferenced.
    await writeFile(
      join(root, 'b.md'),
      '---\ntitle: [oops\ncover: "flux: kept by a page whose frontmatter breaks"\n---\n',
    )
    for (const args of [['prune', '--dry-run'], ['prune']]) {
      const run = await runCli(args, { cwd: root, env: env() })
      expect(run.code, args.join(' ')).toBe(1)
      expect(run.stderr).toContain('Some files could not be scanned, so nothing was pruned.')
      expect(run.stderr).toMatch(/b\.md:\d+/)
      expect(run.stdout).not.toMatch(/remove/)
    }
    expect((await readdir(originals)).sort()).toEqual(before)
    // Fixed, the page references its entry again, and prune has nothing to remove.
    await writeFile(
      join(root, 'b.md'),
      '---\ntitle: B\ncover: "flux: kept by a page whose frontmatter breaks"\n---\n',
    )
    const fixed = await runCli(['prune'], { cwd: root, env: env() })
    expect(fixed.code).toBe(0)
    expect((await readdir(originals)).sort()).toEqual(before)
    expect(gateway.requests).toBe(2)
  })

  it('generate --force asks again for a prompt the gateway refused; without it the refusal is remembered', async () => {
    const root = await project({ 'a.md': '![x](flux:a prompt refused once)\n![y](flux:a fine prompt)\n' })
    gateway.fault = ({ body }) =>
      body.prompt === 'a prompt refused once' ? { type: 'moderation' } : undefined
    const first = await runCli(['generate'], { cwd: root, env: env() })
    expect(first.code).toBe(1)
    expect(first.stderr).toMatch(/a\.md:1:\d+: .*refused/i)
    expect([gateway.requests, gateway.generated]).toEqual([2, 1])

    gateway.fault = undefined
    const remembered = await runCli(['generate'], { cwd: root, env: env() })
    expect(remembered.code).toBe(1)
    expect(remembered.stderr).toContain('remembered from an earlier run')
    expect(remembered.stderr).toContain('--force')
    expect([gateway.requests, gateway.generated]).toEqual([2, 1])

    const forced = await runCli(['generate', '--force'], { cwd: root, env: env() })
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stderr).toContain('1 generated, 1 cached')
    expect([gateway.requests, gateway.generated]).toEqual([3, 2])
    expect(gateway.requestsByPrompt.get('a prompt refused once')).toBe(2)

    const after = await runCli(['generate'], { cwd: root, env: env() })
    expect(after.code).toBe(0)
    expect(after.stderr).toContain('0 generated, 2 cached')
    expect(gateway.requests).toBe(3)
  })
})

describe('flux-images without a key', () => {
  it('prune asks for --yes before removing more than 10 entries, and a dry run only lists them', async () => {
    const files: Record<string, string> = {}
    const lines = Array.from({ length: 12 }, (_, i) => `![p${i}](flux:placeholder number ${i})`)
    files['a.md'] = `${lines.join('\n')}\n`
    const root = await project(files)
    expect((await runCli(['generate'], { cwd: root, env: cliEnv() })).code).toBe(0)
    const placeholders = async () =>
      (await readTree(join(root, '.flux-cache'))).filter((f) => f.path.endsWith('.png')).length
    const before = await placeholders()
    await writeFile(join(root, 'a.md'), `${lines[0]}\n`)
    const dry = await runCli(['prune', '--dry-run'], { cwd: root, env: cliEnv() })
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('11 unreferenced entries would be removed.')
    const refused = await runCli(['prune'], { cwd: root, env: cliEnv() })
    expect(refused.code).toBe(1)
    expect(refused.stdout.match(/^would remove {2}\S+$/gm)).toHaveLength(11)
    expect(refused.stderr).toContain('prune would remove 11 of the 12 cache entries')
    expect(await placeholders()).toBe(before)
    const confirmed = await runCli(['prune', '--yes'], { cwd: root, env: cliEnv() })
    expect(confirmed.stdout).toContain('11 unreferenced entries removed.')
    expect(await placeholders()).toBe(before - 11)
  })

  it('builds offline with placeholders, says so, and the placeholders do not count as cached', async () => {
    const root = await project({ 'a.md': '![x](flux:offline image?size=1344x768)\n' })
    const run = await runCli(['generate'], { cwd: root, env: cliEnv() })
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/PLACEHOLDER/)
    expect(run.stderr).toMatch(/1 placeholder/)
    const scan = await runCli(['scan'], { cwd: root, env: cliEnv() })
    expect(scan.stdout).toMatch(/placeholder/)
    const online = await runCli(['generate'], { cwd: root, env: env() })
    expect(online.stderr).toMatch(/1 generated/)
    expect(gateway.generated).toBe(1)
  })
})
