// The remote cache as a user meets it from the CLI: configured in `.env` and the environment,
// `scan` telling local from shared, a frozen run served by the bucket, the summary's counts,
// `push` from a committed cache and `pull` back, and no secret in any output or file.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, readTree, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'
import { createS3Server, type S3Server } from './s3-server/index.js'

const KEY = 'sk-flux-test-remote-cli-DO-NOT-LEAK'

let gateway: MockGateway
let s3: S3Server
let cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  s3 = await createS3Server()
})
afterAll(async () => {
  await gateway.close()
  await s3.close()
})
afterEach(async () => {
  gateway.reset()
  s3.reset()
  for (const c of cleanups) await c()
  cleanups = []
})

/** Eight posts, three images each: 24 distinct images. */
function site(prefix: string): Record<string, string> {
  const files: Record<string, string> = {
    // Where the bucket is, as a team commits it; the credentials stay in the CI's environment.
    '.env': `FLUX_REMOTE_URL=s3://${s3.bucket}/${prefix}\nFLUX_REMOTE_ENDPOINT=${s3.url}\nFLUX_REMOTE_REGION=${s3.region}\n`,
  }
  for (let i = 0; i < 8; i++) {
    files[`src/content/posts/post-${i}.md`] = [
      '---',
      `cover: "flux: cover ${i} of the shared site?model=flux-schnell"`,
      '---',
      '',
      `![one](<flux:first body image ${i}?model=flux-schnell>)`,
      '',
      `![two](<flux:second body image ${i}?model=flux-schnell&size=1344x768>)`,
      '',
    ].join('\n')
  }
  return files
}

async function checkout(files: Record<string, string>) {
  const p = await makeProject(files)
  cleanups.push(p.cleanup)
  return p.root
}

const credentials = () => ({
  AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  AWS_SESSION_TOKEN: s3.credentials.sessionToken,
})
const env = (extra: Record<string, string | undefined> = {}) =>
  cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...credentials(), ...extra })

/** The originals of a local cache, by file name. */
async function originals(root: string): Promise<Map<string, Buffer>> {
  const files = await readTree(join(root, '.flux-cache', 'originals'))
  return new Map(
    files.filter((f) => f.path.endsWith('.png')).map((f) => [f.path.split('/').pop() ?? '', f.bytes]),
  )
}

function noSecrets(...texts: string[]): void {
  for (const secret of [s3.credentials.secretAccessKey, s3.credentials.sessionToken, KEY]) {
    if (!secret) continue
    for (const text of texts) expect(text).not.toContain(secret)
  }
}

describe('the remote cache from the CLI', () => {
  it('a second checkout sees 24 images as remote, a frozen run downloads them, and pays nothing', async () => {
    const first = await checkout(site('cli-shared'))
    const cold = await runCli(['generate'], { cwd: first, env: env() })
    expect(cold.code).toBe(0)
    expect(gateway.requests).toBe(24)
    expect(cold.stderr).toContain('[flux] Shared cache: s3://flux-test/cli-shared/ (read-write).')
    expect(cold.stderr).toMatch(
      /24 generated, 0 cached,.* remote: 0 downloaded \(0\.0 MB\), 24 uploaded \(\d+\.\d MB\)/,
    )
    expect(s3.count('PUT', { status: 200 })).toBe(24 * 2 + 24 + 1) // image + metadata, a lease each, the probe's create
    gateway.reset()
    s3.reset()

    const second = await checkout(site('cli-shared'))
    const scan = await runCli(['scan'], { cwd: second, env: env() })
    expect(scan.code).toBe(0)
    expect(scan.stdout).toContain('24 directive(s), 24 distinct image(s): 24 remote')
    // Looked at (each key's metadata), not downloaded: no image.
    expect(s3.log.filter((e) => e.op === 'GET' && e.key.endsWith('.json'))).toHaveLength(24)
    expect(s3.log.filter((e) => e.op === 'GET' && e.key.endsWith('.png'))).toHaveLength(0)
    expect(s3.count('HEAD')).toBe(0)

    s3.reset()
    const dry = await runCli(['generate', '--dry-run'], { cwd: second, env: env() })
    expect(dry.stdout).toContain('0 image(s) would be generated, est. $0.000; 24 cached. Nothing was called.')
    expect(s3.log.filter((e) => e.op === 'GET' && e.key.endsWith('.png'))).toHaveLength(0)

    s3.reset()
    const frozen = await runCli(['generate'], { cwd: second, env: env({ FLUX_MODE: 'frozen' }) })
    expect(frozen.code).toBe(0)
    expect(gateway.requests).toBe(0)
    expect(frozen.stderr).toMatch(
      /0 generated, 24 cached,.* remote: 24 downloaded \(\d+\.\d MB\), 0 uploaded \(0\.0 MB\)/,
    )
    // Metadata and image of each, once: the scan's look at the metadata serves the download.
    expect(s3.count('GET')).toBe(48)
    expect(s3.count('HEAD')).toBe(0)
    expect(s3.count('PUT')).toBe(0)
    const a = await originals(first)
    const b = await originals(second)
    expect(b.size).toBe(24)
    for (const [name, bytes] of a) expect(b.get(name)?.equals(bytes), name).toBe(true)

    s3.reset()
    const again = await runCli(['generate'], { cwd: second, env: env() })
    expect(again.stderr).toContain('remote: 0 downloaded (0.0 MB), 0 uploaded (0.0 MB)')
    expect(s3.log).toHaveLength(0)
    noSecrets(cold.stdout, cold.stderr, scan.stdout, scan.stderr, frozen.stdout, frozen.stderr)
    for (const { bytes } of await readTree(join(second, '.flux-cache'))) noSecrets(bytes.toString('latin1'))
  })

  it('push seeds a bucket from a committed cache, pull fills an empty one, each moving what is missing', async () => {
    const committed = await checkout(site('cli-local-only'))
    // A cache made without any remote (the team used to commit it).
    await writeFile(join(committed, '.env'), '')
    expect((await runCli(['generate'], { cwd: committed, env: env() })).code).toBe(0)
    expect(gateway.requests).toBe(24)
    await writeFile(join(committed, '.env'), site('cli-pushed')['.env'] as string)
    s3.reset()

    const push = await runCli(['push'], { cwd: committed, env: env() })
    expect(push.code).toBe(0)
    expect(push.stdout).toMatch(
      /^Uploaded 24 original\(s\) \(\d+\.\d MB\) to s3:\/\/flux-test\/cli-pushed\/; 0 already in the bucket\.\n$/,
    )
    expect(s3.count('PUT', { status: 200 })).toBe(48)
    const again = await runCli(['push'], { cwd: committed, env: env() })
    expect(again.stdout).toContain(
      'Uploaded 0 original(s) (0.0 MB) to s3://flux-test/cli-pushed/; 24 already in the bucket.',
    )
    expect(s3.count('PUT', { status: 200 })).toBe(48)

    const empty = await checkout(site('cli-pushed'))
    s3.reset()
    // Pulling needs reading only: a fork's build can do it.
    const pull = await runCli(['pull'], { cwd: empty, env: env({ FLUX_REMOTE_MODE: 'read-only' }) })
    expect(pull.code).toBe(0)
    expect(pull.stdout).toMatch(
      /^Downloaded 24 original\(s\) \(\d+\.\d MB\) from s3:\/\/flux-test\/cli-pushed\/; 0 already local\.\n$/,
    )
    expect(s3.count('PUT') + s3.count('DELETE')).toBe(0)
    const scan = await runCli(['scan'], { cwd: empty, env: env() })
    expect(scan.stdout).toContain('24 distinct image(s): 24 cached')
    const a = await originals(committed)
    const b = await originals(empty)
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort())
    for (const [name, bytes] of a) expect(b.get(name)?.equals(bytes), name).toBe(true)
    expect(gateway.requests).toBe(24)
  })

  it("a fork's build, with no credentials for a private bucket: one warning, placeholders, nothing written or paid", async () => {
    const first = await checkout(site('cli-fork'))
    expect((await runCli(['generate'], { cwd: first, env: env() })).code).toBe(0)
    gateway.reset()
    s3.reset()
    const fork = await checkout(site('cli-fork'))
    // The secrets of a fork's workflow are empty strings.
    const run = await runCli(['generate'], {
      cwd: fork,
      env: cliEnv({
        FLUX_MODE: 'placeholder',
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        FLUX_API_KEY: '',
      }),
    })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('(read-only)')
    expect(run.stderr.match(/FLUX_REMOTE_DENIED/g)).toHaveLength(1)
    expect(run.stderr).toMatch(/0 generated, 0 cached, 24 placeholder\(s\) \(placeholder mode\), 0 failed/)
    expect(s3.count('PUT') + s3.count('DELETE')).toBe(0)
    expect(gateway.requests).toBe(0)
  })

  it('prune cleans the local cache only: the bucket keeps what other branches may use', async () => {
    const files = site('cli-prune')
    const root = await checkout(files)
    expect((await runCli(['generate'], { cwd: root, env: env() })).code).toBe(0)
    const inBucket = () => [...s3.objects.keys()].filter((k) => k.startsWith('cli-prune/originals/')).length
    expect(inBucket()).toBe(48)
    // This branch drops a post.
    await writeFile(join(root, 'src/content/posts/post-7.md'), '# No images any more\n')
    s3.reset()
    const prune = await runCli(['prune'], { cwd: root, env: env() })
    expect(prune.code).toBe(0)
    expect(prune.stdout).toContain('3 unreferenced entries removed.')
    expect(s3.count('DELETE')).toBe(0)
    expect(inBucket()).toBe(48)
    // Back on a branch that has the post: downloaded again, not paid again.
    await writeFile(join(root, 'src/content/posts/post-7.md'), files['src/content/posts/post-7.md'] as string)
    const again = await runCli(['generate'], { cwd: root, env: env() })
    expect(again.stderr).toContain('remote: 3 downloaded')
    expect(gateway.requests).toBe(24)
  })

  it('push in read-only mode, or with no bucket set, is refused with what to do', async () => {
    const root = await checkout(site('cli-refused'))
    const readOnly = await runCli(['push'], { cwd: root, env: env({ FLUX_REMOTE_MODE: 'read-only' }) })
    expect(readOnly.code).toBe(1)
    expect(readOnly.stderr).toContain('remote.mode: push needs "read-write"')
    await writeFile(join(root, '.env'), '')
    const none = await runCli(['pull'], { cwd: root, env: env() })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('pull needs a shared bucket, and none is set.')
    expect(none.stderr).toContain('FLUX_REMOTE_URL=s3://bucket/prefix')
    expect(s3.count('PUT')).toBe(0)
  })

  it('a pull that meets a tampered original refuses it, names it, and exits 1', async () => {
    const first = await checkout(site('cli-tampered'))
    expect((await runCli(['generate'], { cwd: first, env: env() })).code).toBe(0)
    const [name, object] =
      [...s3.objects].find(([k]) => k.startsWith('cli-tampered/originals/') && k.endsWith('.png')) ?? []
    if (!name || !object) throw new Error('nothing uploaded')
    const damaged = Buffer.from(object.body)
    damaged[damaged.length >> 1] = (damaged[damaged.length >> 1] ?? 0) ^ 0xff
    s3.putObject(name, damaged)
    const key = name.slice('cli-tampered/originals/'.length, -'.png'.length)

    const second = await checkout(site('cli-tampered'))
    const pull = await runCli(['pull'], { cwd: second, env: env() })
    expect(pull.code).toBe(1)
    expect(pull.stdout).toMatch(/Downloaded 23 original\(s\) .*; 0 already local; 1 refused/)
    expect(pull.stderr).toContain(key)
    expect(pull.stderr).toContain('does not match its sha256')
    expect((await originals(second)).has(`${key}.png`)).toBe(false)
    const scan = await runCli(['scan'], { cwd: second, env: env() })
    // A new process has not downloaded it: the scan sees it in the bucket, and a build would refuse it again.
    expect(scan.stdout).toMatch(/24 distinct image\(s\): (1 remote, 23 cached|23 cached, 1 remote)\n/)
  })
})

// A config file is read like the `.env`: the same keys, whichever way the team writes it.
describe('the remote option in flux.config.mjs', () => {
  it('is read by the CLI, and a wrong value is named with what to do', async () => {
    const root = await checkout({
      'flux.config.mjs': `export default { remote: { url: 's3://${s3.bucket}/from-config', endpoint: '${s3.url}', mode: 'read-only' } }\n`,
      'index.md': '![a](<flux:a lighthouse from the config file?model=flux-schnell>)\n',
    })
    const scan = await runCli(['scan'], { cwd: root, env: env() })
    expect(scan.code).toBe(0)
    expect(scan.stderr).toContain('[flux] Shared cache: s3://flux-test/from-config/ (read-only).')
    await writeFile(
      join(root, 'flux.config.mjs'),
      `export default { remote: { url: 's3://Bad_Bucket/x', endpoint: '${s3.url}', mode: 'read-only' } }\n`,
    )
    const bad = await runCli(['scan'], { cwd: root, env: env() })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('remote.url: "Bad_Bucket" is not a bucket name')
  })
})
