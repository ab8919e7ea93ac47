// Issue 24's scan work must not change a result: `scanProject` of this checkout and of another
// build of the code (the code before) over the same trees, compared by the sha256 of their
// directives and errors as JSON; and the CPU of `scanFrontmatter` over the frontmatter that holds
// `flux`, both codes alternated. The command too: what `flux-images scan` and `scan --json` print
// (both streams, and the exit code) with each build of the CLI, by sha256.
//
//   node bench/scan-identical.mjs --before <dir of an older checkout, built> <root> [<root>...]
//     [--include '**/*.{md,mdx,markdown,svx}'] [--rounds 3]
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CORE_DIST } from './lib/projects.mjs'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    before: { type: 'string' },
    include: { type: 'string', default: '**/*.{md,mdx,markdown,svx}' },
    rounds: { type: 'string', default: '3' },
  },
})
if (!values.before || positionals.length === 0)
  throw new Error('bench/scan-identical.mjs: --before <checkout> and at least one root are required')
const codes = {
  before: new URL(`file://${join(resolve(values.before), 'packages/core/dist/')}`),
  after: CORE_DIST,
}
const load = async (dist) => ({
  ...(await import(new URL('engine/scan-project.js', dist).href)),
  ...(await import(new URL('directives/index.js', dist).href)),
})
const libs = { before: await load(codes.before), after: await load(codes.after) }
const digest = (value) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16)

for (const root of positionals.map((r) => resolve(r))) {
  const scans = {}
  for (const [name, lib] of Object.entries(libs)) {
    const scan = await lib.scanProject({ root, include: [values.include], exclude: ['**/node_modules/**'] })
    scans[name] = {
      ...scan,
      digest: digest({ directives: scan.directives, errors: scan.errors.map(String) }),
    }
  }
  const same = scans.before.digest === scans.after.digest
  console.log(
    `${root}: ${scans.after.files.length} files, ${scans.after.directives.length} directives, ${scans.after.errors.length} errors; before ${scans.before.digest}, after ${scans.after.digest}: ${same ? 'identical' : 'DIFFERENT'}`,
  )
  if (!same) process.exitCode = 1
  for (const args of [['scan'], ['scan', '--json']]) {
    const printed = Object.fromEntries(
      Object.entries(codes).map(([name, dist]) => {
        const run = spawnSync(
          process.execPath,
          [fileURLToPath(new URL('cli/bin.js', dist)), ...args, '--root', root],
          {
            encoding: 'utf8',
            maxBuffer: 1 << 30,
          },
        )
        return [name, digest([run.status, run.stdout, run.stderr])]
      }),
    )
    const alike = printed.before === printed.after
    console.log(
      `  flux-images ${args.join(' ')}: before ${printed.before}, after ${printed.after}: ${alike ? 'identical' : 'DIFFERENT'}`,
    )
    if (!alike) process.exitCode = 1
  }
  const texts = scans.after.files
    .map((file) => readFileSync(join(root, file), 'utf8'))
    .filter((text) => text.startsWith('---') && text.slice(0, text.indexOf('\n---', 3)).includes('flux'))
  if (texts.length === 0) continue
  const cpu = { before: [], after: [] }
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const name of round % 2 ? ['after', 'before'] : ['before', 'after']) {
      const start = process.cpuUsage()
      for (const text of texts) libs[name].scanFrontmatter(text, 'post.md')
      const used = process.cpuUsage(start)
      cpu[name].push((used.user + used.system) / 1000)
    }
  }
  const show = (list) => list.map((ms) => `${ms.toFixed(0)} ms`).join(', ')
  console.log(
    `  scanFrontmatter over ${texts.length} frontmatters holding flux: before ${show(cpu.before)}; after ${show(cpu.after)}`,
  )
}
