// BFL with a shared bucket: a job's receipt travels in its key's lease, so a machine that takes
// over the lease of a dead one polls the same job instead of paying for it again.
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, runCli, startCli } from './helpers/cli.js'
import { remoteEnv } from './helpers/remote-project.js'
import { createMockBfl, type MockBfl } from './mock-bfl/index.js'
import { createS3Server, type S3Server } from './s3-server/index.js'

const KEY = 'bfl-remote-key-5d1e8a'
let mock: MockBfl
let s3: S3Server
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  ;[mock, s3] = await Promise.all([createMockBfl({ apiKey: KEY }), createS3Server()])
})
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup()
  await Promise.all([mock.close(), s3.close()])
})

const env = () =>
  cliEnv({ FLUX_PROVIDER: 'bfl', BFL_API_KEY: KEY, FLUX_BASE_URL: mock.url, ...remoteEnv(s3) })
const files = {
  ...Object.fromEntries([0, 1, 2].map((i) => [`p${i}.md`, `# Page ${i}\n\n![x](flux:a shared job ${i})\n`])),
  'flux.config.mjs': `export default ${JSON.stringify({ model: 'flux-2-pro', size: '80x64', allowPrivateDownloads: true })}\n`,
}
async function machine(): Promise<string> {
  const p = await makeProject(files)
  cleanups.push(p.cleanup)
  return p.root
}

describe('provider bfl with a shared bucket', () => {
  it('a machine killed after its submits: another takes its stale leases over and polls its jobs, 0 submits', {
    timeout: 120_000,
  }, async () => {
    const [first, second] = await Promise.all([machine(), machine()])
    mock.holdPolls()
    const { child, done } = startCli(['generate'], { cwd: first, env: env() })
    await mock.whenPollsHeld(3)
    child.kill('SIGKILL')
    await done
    mock.releasePolls()
    expect(mock.submits).toBe(3)
    const leases = [...s3.objects.keys()].filter((k) => k.startsWith('site/leases/'))
    expect(leases).toHaveLength(3)
    // Each lease holds its job's receipt, and no key; aged as if its holder had stopped renewing a minute ago.
    for (const name of leases) {
      const body = s3.objects.get(name)?.body.toString() ?? ''
      expect(JSON.parse(body).job).toMatchObject({ provider: 'bfl', model: 'flux-2-pro', credits: 3 })
      expect(body).not.toContain(KEY)
      s3.putObject(name, body, Date.now() - 120_000)
    }

    const run = await runCli(['generate'], { cwd: second, env: env() })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr.match(/Took over the lease/g)).toHaveLength(3)
    // The killed machine's three Pending polls, then the survivor's three Ready ones.
    expect([mock.submits, mock.polls, mock.downloads]).toEqual([3, 6, 3])
    const originals = await readdir(join(second, '.flux-cache/originals'))
    expect(originals.filter((n) => n.endsWith('.png'))).toHaveLength(3)
    expect(await readdir(join(second, '.flux-cache/jobs')).catch(() => [])).toEqual([])
    expect([...s3.objects.keys()].filter((k) => k.startsWith('site/leases/'))).toEqual([])
  })
})
