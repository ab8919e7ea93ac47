import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSession } from '@flux-images/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'
import { createS3Server } from './s3-server/index.js'

/**
 * Candidates and picks through the CLI, as an author uses them: more images of one directive
 * (paid, said first), one picked, and every later build (a fresh clone, frozen) showing the pick.
 */

const KEY = 'sk-flux-candidates-0b3e'
const PROMPT = 'A lighthouse at dawn, watercolor'

let gateway: MockGateway
const cleanups: (() => Promise<void>)[] = []
beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  for (const cleanup of cleanups) await cleanup()
})

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' })

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex')

describe('flux-images candidates and pick', () => {
  it('make exactly N paid candidates, pick one for every later build, and go back with pick 0', {
    timeout: 300_000,
  }, async () => {
    const { root, cleanup } = await makeProject({
      'post.md': `# Post\n\n![The lighthouse](flux:${PROMPT})\n`,
    })
    cleanups.push(cleanup)
    const env = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url })
    const cli = (...args: string[]) => runCli([...args, '--root', root], { cwd: root, env })
    gateway.reset()
    expect((await cli('generate')).code).toBe(0)
    expect(gateway.requests).toBe(1)
    git(root, 'init', '-q')
    git(root, 'add', '-A')
    git(root, 'commit', '-qm', 'content and its image')

    // The cost first; nothing spent without --yes.
    const asked = await cli('candidates', 'post.md:3', '--n', '3')
    expect(asked.code, asked.stderr).toBe(1)
    expect(asked.stderr).toContain(
      `Would make 3 candidate(s) of "${PROMPT}" (flux-1.1-pro, 1024x1024): est. $0.120`,
    )
    expect(gateway.requests).toBe(1)

    gateway.reset()
    const made = await cli('candidates', 'post.md:3', '--n', '3', '--yes')
    expect(made.code, made.stderr).toBe(0)
    expect(gateway.requests).toBe(3)
    expect(gateway.generatedByPrompt.get(PROMPT)).toBe(3)
    const listed = await cli('candidates', 'post.md:3', '--list')
    const rows = listed.stdout.trim().split('\n').slice(0, -1)
    expect(rows.map((r) => r.trim().split(/\s+/)[0])).toEqual(['0', '1', '2', '3'])
    expect(rows[0]).toContain('shown')
    const key2 = /\b[0-9a-f]{24}\b/.exec(rows[2] ?? '')?.[0] ?? ''
    const path2 = rows[2]?.trim().split(/\s+/).at(-1) ?? ''
    const bytes2 = await sha256(path2)

    // Picked: only the pick record and the picked original are new to git; candidates stay local.
    expect((await cli('pick', 'post.md:3', '2')).code).toBe(0)
    const status = git(root, 'status', '--porcelain', '--untracked-files=all').trim().split('\n').sort()
    const picks = status.filter((line) => line.includes('/picks/'))
    expect(picks).toHaveLength(1)
    expect(status.filter((line) => !line.includes('/picks/'))).toEqual(
      [`?? .flux-cache/originals/${key2}.json`, `?? .flux-cache/originals/${key2}.png`].sort(),
    )

    // A build with the variants deleted serves candidate 2's bytes.
    await rm(join(root, '.flux-cache', 'variants'), { recursive: true, force: true })
    const session = await createSession({ mode: 'frozen' }, { root, env: {} })
    try {
      const original = await session.flux.cache.get((await session.flux.scan()).items[0]?.key ?? '')
      expect(await sha256(original?.path ?? '')).toBe(bytes2)
      const image = await session.flux.image(`flux:${PROMPT}`)
      expect(image.width).toBeGreaterThan(0)
    } finally {
      await session.close()
    }

    // The report shows the directive's four images, candidate 2 shown; its original is used, not unused.
    const out = join(await mkdtemp(join(tmpdir(), 'flux-candidates-report-')), 'report.html')
    expect((await cli('report', '--out', out)).code).toBe(0)
    const html = await readFile(out, 'utf8')
    const lists = [...html.matchAll(/<ul class="candidates">(.*?)<\/ul>/g)].map((m) => m[1] ?? '')
    expect(lists).toHaveLength(1)
    const shown = [...(lists[0] ?? '').matchAll(/<li class="candidate( shown)?" data-candidate="(\d)"/g)]
    expect(shown.map((m) => [m[2], Boolean(m[1])])).toEqual([
      ['0', false],
      ['1', false],
      ['2', true],
      ['3', false],
    ])
    expect(html).toContain(`data-status="real" data-key="${key2}"`)
    expect(html).not.toContain('data-status="unused"')

    // A fresh clone of what is committed builds frozen with the pick: 0 requests.
    git(root, 'add', '-A')
    git(root, 'commit', '-qm', 'pick candidate 2')
    const clones = await mkdtemp(join(tmpdir(), 'flux-candidates-clone-'))
    cleanups.push(() => rm(clones, { recursive: true, force: true }))
    const clone = join(clones, 'site')
    git(clones, 'clone', '-q', root, clone)
    gateway.reset()
    const frozen = await runCli(['generate', '--mode', 'frozen', '--root', clone], { cwd: clone, env })
    expect(frozen.code, frozen.stderr).toBe(0)
    expect(gateway.requests).toBe(0)
    const cloned = await createSession({ mode: 'frozen' }, { root: clone, env: {} })
    try {
      const original = await cloned.flux.cache.get((await cloned.flux.scan()).items[0]?.key ?? '')
      expect(await sha256(original?.path ?? '')).toBe(bytes2)
    } finally {
      await cloned.close()
    }

    // pick 0: the directive's own image again; nothing deleted.
    expect((await cli('pick', 'post.md:3', '0')).code).toBe(0)
    const back = await cli('candidates', 'post.md:3', '--list')
    expect(back.stdout.split('\n')[0]).toContain('shown')
    expect(back.stdout).toContain('4 image(s)')
    expect(gateway.requests).toBe(0)

    // prune removes candidates older than a week, and only those.
    const key1 = /\b[0-9a-f]{24}\b/.exec(rows[1] ?? '')?.[0] ?? ''
    const meta1 = join(root, '.flux-cache', 'candidates', 'originals', `${key1}.json`)
    const old = JSON.parse(await readFile(meta1, 'utf8'))
    await writeFile(meta1, JSON.stringify({ ...old, created: '2026-01-01T00:00:00.000Z' }))
    const pruned = await cli('prune', '--yes')
    expect(pruned.stdout).toContain('1 candidate(s) older than a week removed')
    const after = await cli('candidates', 'post.md:3', '--list')
    expect(
      after.stdout
        .trim()
        .split('\n')
        .slice(0, -1)
        .map((r) => r.trim().split(/\s+/)[0]),
    ).toEqual(['0', '2', '3'])
  })

  it('with a shared bucket: a second checkout with the pick record alone gets the picked image from the bucket', {
    timeout: 300_000,
  }, async () => {
    const s3 = await createS3Server()
    cleanups.push(() => s3.close())
    const files = {
      '.env': `FLUX_REMOTE_URL=s3://${s3.bucket}/picks\nFLUX_REMOTE_ENDPOINT=${s3.url}\nFLUX_REMOTE_REGION=${s3.region}\n`,
      'post.md': `# Post\n\n![The lighthouse](flux:${PROMPT} in the fleet)\n`,
    }
    const env = cliEnv({
      FLUX_API_KEY: KEY,
      FLUX_BASE_URL: gateway.url,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: s3.credentials.sessionToken,
    })
    const first = await makeProject(files)
    cleanups.push(first.cleanup)
    const cli = (root: string, ...args: string[]) => runCli([...args, '--root', root], { cwd: root, env })
    gateway.reset()
    expect((await cli(first.root, 'generate')).code).toBe(0)
    expect((await cli(first.root, 'candidates', 'post.md:3', '--n', '2', '--yes')).code).toBe(0)
    expect((await cli(first.root, 'pick', 'post.md:3', '2')).code).toBe(0)
    expect(gateway.requests).toBe(3)
    const listed = await cli(first.root, 'candidates', 'post.md:3', '--list')
    const picked = listed.stdout.split('\n').find((line) => line.includes('shown')) ?? ''
    const bytes = await sha256(picked.trim().split(/\s+/).at(-1) ?? '')

    // Another checkout: the source and the pick record, as git brings them; no local originals.
    const [record = ''] = await readdir(join(first.root, '.flux-cache', 'picks'))
    const second = await makeProject({
      ...files,
      [`.flux-cache/picks/${record}`]: await readFile(
        join(first.root, '.flux-cache', 'picks', record),
        'utf8',
      ),
    })
    cleanups.push(second.cleanup)
    gateway.reset()
    const frozen = await cli(second.root, 'generate', '--mode', 'frozen')
    expect(frozen.code, frozen.stderr).toBe(0)
    expect(gateway.requests).toBe(0)
    const session = await createSession({ mode: 'frozen' }, { root: second.root, env })
    try {
      const original = await session.flux.cache.get((await session.flux.scan()).items[0]?.key ?? '')
      expect(await sha256(original?.path ?? '')).toBe(bytes)
    } finally {
      await session.close()
    }
  })
})
