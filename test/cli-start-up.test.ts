import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_BIN, cliEnv, makeProject, startNode } from './helpers/cli.js'

// What the command's process holds, seen from inside it: a hook loaded before the CLI lists the
// modules it loads and, at exit, the size of V8's young generation. The speed itself is measured
// in bench/startup.mjs (BENCHMARKS.md, section 14), never here.
const HOOK = `
import { registerHooks } from 'node:module'
import { writeSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
const modules = []
registerHooks({ load(url, context, next) { if (!url.startsWith('node:')) modules.push(url); return next(url, context) } })
process.on('exit', () => {
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')
  writeSync(2, '\\n' + JSON.stringify({ modules, young: young.space_size }) + '\\n')
})
`
const FILES = 1000

let project: Awaited<ReturnType<typeof makeProject>>
beforeAll(async () => {
  project = await makeProject({ 'hook.mjs': HOOK })
  await mkdir(join(project.root, 'src/posts'), { recursive: true })
  // The first 600 posts hold two directives each: 1,200 rows, more than `scan` writes at once.
  await Promise.all(
    Array.from({ length: FILES }, (_, i) =>
      writeFile(
        join(project.root, 'src/posts', `post-${i}.md`),
        `---\ntitle: Post ${i}\n---\n\n# Post ${i}\n\nThe tide came in over the flat sand.\n${
          i < 600
            ? `\n![a](flux:A harbour for post ${i})\n\n![b](flux:A lighthouse for post ${i}?size=1024x1024)\n`
            : ''
        }`,
      ),
    ),
  )
})
afterAll(async () => {
  await project?.cleanup()
})

describe('the flux-images process', () => {
  it('loads the command as two files, and keeps V8 young generation at its first size over 1,000 files, and prints every row', async () => {
    const run = await startNode(
      '--import',
      [join(project.root, 'hook.mjs'), CLI_BIN, 'scan', '--root', project.root],
      { cwd: project.root, env: cliEnv() },
    ).done
    expect(run.code, run.stderr).toBe(0)
    const lines = run.stdout.split('\n')
    expect(lines.at(-2)).toBe('1200 directive(s), 1200 distinct image(s): 1200 missing')
    // Every row once, whole, in order: 600 files, lines 9 and 11 of each.
    const rows = lines.slice(0, -2).map((line) => line.split('  ')[0])
    const expected = Array.from({ length: 600 }, (_, i) =>
      [9, 11].map((l) => `src/posts/post-${i}.md:${l}:6`),
    ).flat()
    expect(rows).toEqual(expected.sort(new Intl.Collator('en', { numeric: true }).compare))
    const seen = JSON.parse(run.stderr.trim().split('\n').at(-1) ?? '{}') as {
      modules: string[]
      young: number
    }
    // Bundled: bin.js, then main.js (our code and every dependency but sharp, which a scan never loads).
    expect(seen.modules.map((url) => url.replace(/^.*\/packages\/core\//, ''))).toEqual([
      'dist/cli/bin.js',
      'dist/cli/main.js',
    ])
    // 2 MiB with the CLI's setting (V8 starts at 1 MiB and doubles it once); 8 MiB without it
    // over these files, 128 MiB over 50,000.
    expect(seen.young).toBeLessThanOrEqual(2 * 1024 * 1024)
  })
})
