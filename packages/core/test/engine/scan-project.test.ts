import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scanProject } from '../../src/engine/scan-project.js'
import { DEFAULTS } from '../../src/options.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-scan-'))
  await mkdir(join(root, 'src/posts'), { recursive: true })
  await mkdir(join(root, 'node_modules/pkg'), { recursive: true })
  await mkdir(join(root, '.flux-cache'), { recursive: true })
  await writeFile(join(root, 'src/posts/a.md'), '![a](flux:one)\n')
  await writeFile(join(root, 'src/posts/b.md'), 'no directive here\n')
  await writeFile(join(root, 'src/main.ts'), "import x from 'flux:two'\n")
  await writeFile(join(root, 'node_modules/pkg/readme.md'), '![a](flux:never)\n')
  await writeFile(join(root, '.flux-cache/note.md'), '![a](flux:never)\n')
  await writeFile(join(root, 'image.png'), 'flux:never')
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

const options = () => ({ root, include: DEFAULTS.include, exclude: [...DEFAULTS.exclude, '.flux-cache/**'] })

describe('scanProject', () => {
  it('finds directives in included files, with root-relative locations, skipping excluded folders', async () => {
    const scan = await scanProject(options())
    expect(scan.files).toEqual(['src/main.ts', 'src/posts/a.md', 'src/posts/b.md'])
    expect(scan.directives.map((d) => [d.location.file, d.location.line, d.prompt])).toEqual([
      ['src/main.ts', 1, 'two'],
      ['src/posts/a.md', 1, 'one'],
    ])
    expect(scan.errors).toEqual([])
  })

  it('reports an unreadable file at file:1:1 with a hint, and scans the rest', async () => {
    const scan = await scanProject({
      ...options(),
      read: async (path) => {
        if (path.endsWith('a.md'))
          throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' })
        return (await import('node:fs/promises')).readFile(path, 'utf8')
      },
    })
    expect(scan.directives.map((d) => d.prompt)).toEqual(['two'])
    expect(scan.errors).toHaveLength(1)
    const [err] = scan.errors
    expect(err?.code).toBe('FLUX_READ_FAILED')
    expect(err?.message).toBe(
      "[flux] src/posts/a.md:1:1: The file could not be read: EACCES: permission denied, open './src/posts/a.md'",
    )
    expect(err?.hint).toMatch(/permissions|exclude/)
  })
})
