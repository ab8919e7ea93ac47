import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exec } from './helpers/packed.js'

// The tarballs as `pnpm publish` would send them: each packed once, read for its own README,
// LICENSE and CHANGELOG, and linted by publint. @arethetypeswrong/cli (a type-check of every entry
// point, tens of seconds) and `pnpm publish --dry-run` (it asks the registry) run in
// .ci/release-check, from .ci/run.

const REPO = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(REPO, 'node_modules/.bin')
const PACKAGES = ['core', 'vite', 'astro'] as const

let out: string
const tarballs = new Map<string, { file: string; files: string[] }>()

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'flux-publish-'))
  for (const name of PACKAGES) {
    const packed = await run(
      'pnpm',
      ['pack', '--json', '--pack-destination', out],
      join(REPO, 'packages', name),
    )
    expect(packed.code, packed.stderr).toBe(0)
    const json = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }
    tarballs.set(name, { file: json.filename, files: json.files.map((f) => f.path).sort() })
  }
})

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true })
})

describe.each(PACKAGES)('the @flux-images/%s tarball', (name) => {
  it('carries its own README, the LICENSE and its CHANGELOG, and the metadata a registry page shows', async () => {
    const { files } = tarballs.get(name) ?? { files: [] }
    expect(files.filter((f) => /^(README\.md|LICENSE|CHANGELOG\.md|package\.json)$/.test(f))).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'package.json',
    ])
    const readme = await readFile(join(REPO, 'packages', name, 'README.md'), 'utf8')
    expect(readme.split('\n')[0]).toBe(`# @flux-images/${name}`)
    expect(await readFile(join(REPO, 'packages', name, 'LICENSE'), 'utf8')).toBe(
      await readFile(join(REPO, 'LICENSE'), 'utf8'),
    )
    const manifest = JSON.parse(await readFile(join(REPO, 'packages', name, 'package.json'), 'utf8'))
    expect(manifest.repository).toEqual({
      type: 'git',
      url: 'git+https://github.com/flux-images/flux-images.git',
      directory: `packages/${name}`,
    })
    expect(manifest.homepage).toMatch(new RegExp(`/packages/${name}#readme$`))
    expect(manifest.license).toBe('MIT')
    const changelog = await readFile(join(REPO, 'packages', name, 'CHANGELOG.md'), 'utf8')
    expect(changelog).toContain(`## ${manifest.version} `)
  })

  it('passes publint (warnings are errors)', async () => {
    const { file } = tarballs.get(name) ?? { file: '' }
    const lint = await run(join(BIN, 'publint'), ['run', file, '--strict'], out)
    expect(lint.stdout + lint.stderr).toContain('All good!')
    expect(lint.code).toBe(0)
  })
})

function run(command: string, args: string[], cwd: string): ReturnType<typeof exec> {
  return exec(command, args, { cwd, env: process.env })
}
