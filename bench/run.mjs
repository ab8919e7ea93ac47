// The benchmarks' entry point (not tests). Runs against the built packages: `pnpm build` first.
//
//   pnpm bench                      every section, quick (fewer images and rounds)
//   pnpm bench --full               every section, the record (much longer)
//   pnpm bench generation scale     only these sections (quick unless --full)
//   pnpm bench optimizer            the older optimizer throughput bench (optimize.bench.mjs)
//
// Sections: generation (1), peers (2, bench/peers.mjs), e2e (3), warm (4), scale (5), scanners (6), and, only
// when named, memory (2, bench/peers-memory.mjs), optimizer (bench/optimize.bench.mjs) and output (11,
// bench/output-check.mjs: minutes of the quadratic code it compares against). Each
// prints its markdown when it ends, and writes it with the machine, the date and the command to
// bench/.tmp/results/<section>-<mode>.md, ready for BENCHMARKS.md. Progress goes to stderr.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { e2e } from './e2e.mjs'
import { generation } from './generation.mjs'
import { machineInfo, machineMarkdown } from './lib/machine.mjs'
import { BENCH_TMP, CLI_BIN } from './lib/projects.mjs'
import { formatMs } from './lib/stats.mjs'
import { outputCheck } from './output-check.mjs'
import { scale } from './scale.mjs'
import { scanners } from './scanners.mjs'
import { warm } from './warm.mjs'

const SECTIONS = {
  generation: { title: '1. Generation against the physical limit', run: generation },
  peers: {
    title: '2. Optimization against astro:assets and eleventy-img',
    run: async (options) => {
      const { runPeers } = await import('./peers.mjs')
      const { markdown } = await runPeers(options)
      return { md: markdown }
    },
  },
  memory: {
    title: '2. Peak memory and the allocator',
    run: async (options) => (await import('./peers-memory.mjs')).peersMemory(options),
    onlyWhenNamed: true,
  },
  e2e: { title: '3. End to end, cold', run: e2e },
  warm: { title: '4. Warm builds', run: warm },
  scale: { title: '5. Scale', run: scale },
  scanners: { title: '6. Scanners and placeholders', run: scanners },
  optimizer: { title: 'Optimizer (sharp)', run: optimizerBench, onlyWhenNamed: true },
  output: { title: '11. The output check over hostile pages', run: outputCheck, onlyWhenNamed: true },
}

const args = process.argv.slice(2)
const full = args.includes('--full')
const named = args.filter((a) => !a.startsWith('--'))
const unknown = named.filter((n) => !(n in SECTIONS))
if (unknown.length) {
  console.error(`Unknown section(s): ${unknown.join(', ')}. Sections: ${Object.keys(SECTIONS).join(', ')}`)
  process.exit(2)
}
if (!existsSync(CLI_BIN)) {
  console.error('The packages are not built: run `pnpm build` first.')
  process.exit(2)
}
const chosen = named.length ? named : Object.keys(SECTIONS).filter((n) => !SECTIONS[n].onlyWhenNamed)
const mode = full ? 'full' : 'quick'
const log = (line) => process.stderr.write(`${line}\n`)
const machine = machineInfo()
log(`[bench] ${mode}: ${chosen.join(', ')}\n${machineMarkdown(machine)}`)

const results = join(BENCH_TMP, 'results')
await mkdir(results, { recursive: true })
const started = performance.now()
for (const name of chosen) {
  const section = SECTIONS[name]
  const t = performance.now()
  log(`\n[bench] ${section.title} (${mode})`)
  const { md } = await section.run({ full, log })
  const took = performance.now() - t
  const command = `pnpm bench ${name}${full ? ' --full' : ''}`
  const text = [
    `### ${section.title} (${mode} run)`,
    '',
    machineMarkdown({ ...machineInfo(), date: machine.date }),
    `- Command: \`${command}\` (section took ${formatMs(took)})`,
    '',
    md,
    '',
  ].join('\n')
  await writeFile(join(results, `${name}-${mode}.md`), text)
  console.log(`\n${text}`)
}
log(`\n[bench] done in ${formatMs(performance.now() - started)}; results in ${results}`)

/** The older optimizer bench, as its own process (it measures its children's memory itself). */
async function optimizerBench() {
  const script = fileURLToPath(new URL('optimize.bench.mjs', import.meta.url))
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (c) => {
    out += c
  })
  const code = await new Promise((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(`optimize.bench.mjs exited with ${code}`)
  return { md: out.trim() }
}
