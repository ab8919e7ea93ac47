import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, runCli } from './helpers/cli.js'
import { exec } from './helpers/packed.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

// The README's and the guides' code samples, run. A fenced block's info string says what it is
// (docs/architecture.md, "Code samples in these docs are tested"): `file=<path>` is a file of the
// page's sample project (`project=<name>` for a second one), `run` is run in it against the mock
// gateway, `setup` and `synopsis` are commands checked against the workspace and the CLI's help.

const REPO = fileURLToPath(new URL('..', import.meta.url))
const DOCS = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  ...['core', 'vite', 'astro'].map((p) => `packages/${p}/README.md`),
]
// Languages whose blocks must say what they are: code a reader copies.
const CODE = new Set(['js', 'mjs', 'ts', 'tsx', 'jsx', 'sh'])
const ROLES = ['run', 'setup', 'synopsis'] as const
// The placeholder key of the samples' `.env.local`: the mock gateway accepts exactly it, so a run
// that reaches the gateway with it proves the `.env.local` sample was read.
const KEY = 'sk-...'
const BIN_PATH = [
  join(REPO, 'test/node_modules/.bin'),
  join(REPO, 'node_modules/.bin'),
  process.env.PATH,
].join(':')
// Where the README's picture is; the run of the README's samples makes it (FLUX_DOCS_PICTURE=1 writes it).
const PICTURE = join(REPO, 'docs/before-after.png')
const PICTURE_HALF = 480

interface Sample {
  doc: string
  line: number
  lang: string
  role: (typeof ROLES)[number] | 'file' | 'fixture' | undefined
  file?: string
  fixture?: string
  project: string
  code: string
}

/** Fenced blocks of a markdown file, indented ones (in list items) included, with their info strings. */
function extract(doc: string): Sample[] {
  const lines = readFileSync(join(REPO, doc), 'utf8').split('\n')
  const samples: Sample[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i] ?? '')
    if (!open) continue
    const [, indent = '', fence = '', info = ''] = open
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !(lines[j] ?? '').trim().startsWith(fence); j++)
      body.push((lines[j] ?? '').slice(indent.length))
    const [lang = '', ...words] = info.trim().split(/\s+/)
    const attrs = Object.fromEntries(
      words.filter((w) => w.includes('=')).map((w) => w.split('=', 2) as [string, string]),
    )
    const role = attrs.file ? 'file' : attrs.fixture ? 'fixture' : ROLES.find((r) => words.includes(r))
    samples.push({
      doc,
      line: i + 1,
      lang,
      role,
      file: attrs.file,
      fixture: attrs.fixture,
      project: attrs.project ?? 'main',
      code: `${body.join('\n')}\n`,
    })
    i = j
  }
  return samples
}

const SAMPLES = DOCS.flatMap(extract)
const where = (s: Sample) => `${s.doc}:${s.line}`

interface Project {
  name: string
  dir: string
  files: Sample[]
  runs: Sample[]
}

let work: string
let gateway: MockGateway
const projects: Project[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  // Inside the repository, so that the projects resolve astro, vite and our packages from test/node_modules.
  await mkdir(join(REPO, 'test/.tmp'), { recursive: true })
  work = await mkdtemp(join(REPO, 'test/.tmp/docs-samples-'))
  const byProject = new Map<string, Project>()
  for (const s of SAMPLES) {
    if (s.role !== 'file' && s.role !== 'run') continue
    const name = `${s.doc.replace(/\W+/g, '-')}${s.project === 'main' ? '' : `-${s.project}`}`
    let project = byProject.get(name)
    if (!project) {
      project = { name, dir: join(work, name), files: [], runs: [] }
      byProject.set(name, project)
      projects.push(project)
    }
    if (s.role === 'file') project.files.push(s)
    else project.runs.push(s)
  }
  for (const project of projects) {
    for (const s of project.files) {
      const path = join(project.dir, s.file ?? '')
      if (existsSync(path))
        throw new Error(`${where(s)}: ${s.file} is written twice in one project: add project=<name>`)
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, s.code)
    }
  }
})

afterAll(async () => {
  await gateway?.close()
  if (work && !process.env.KEEP) await rm(work, { recursive: true, force: true })
})

describe('the docs code samples', () => {
  it('each js, ts, tsx, jsx and sh block says what it is (file=, fixture=, run, setup or synopsis)', () => {
    const unmarked = SAMPLES.filter((s) => CODE.has(s.lang) && !s.role).map(where)
    expect(unmarked).toEqual([])
    // The convention holds on the pages that matter most.
    // The README's seven: two set-up blocks, four files (.env.local, two configs, an import), the CLI run.
    expect(SAMPLES.filter((s) => s.doc === 'README.md' && s.role).length).toBe(7)
  })

  // A host whose packages the workspace does not install (SvelteKit, VitePress): the sample is the
  // config of a site that a test builds from the packed packages (test/frameworks.test.ts).
  it('fixture samples are, line for line, the configs of sites the tests build', () => {
    const fixtures = SAMPLES.filter((s) => s.role === 'fixture')
    const wrong: string[] = []
    for (const s of fixtures) {
      const built = readFileSync(join(REPO, s.fixture ?? ''), 'utf8')
        .split('\n')
        .map((l) => l.trim())
      let at = 0
      for (const line of s.code.split('\n').map((l) => l.trim())) {
        if (line === '' || line.startsWith('//')) continue
        const found = built.indexOf(line, at)
        if (found < 0) wrong.push(`${where(s)}: ${line}`)
        else at = found + 1
      }
    }
    expect(wrong).toEqual([])
    expect(fixtures.map(where)).toEqual(['docs/sveltekit.md:15', 'docs/vitepress.md:13'])
  })

  it('every relative link of the README and the guides leads to a file of the repository', () => {
    const broken: string[] = []
    for (const doc of DOCS) {
      const text = readFileSync(join(REPO, doc), 'utf8')
      for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#|<|flux:)/.test(target)) continue
        const path = join(REPO, dirname(doc), target.split('#')[0] ?? '')
        if (!existsSync(path)) broken.push(`${doc}: ${target}`)
      }
    }
    expect(broken).toEqual([])
  })

  it('set-up commands name scripts of package.json and packages of this workspace', () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts)
    const packages = ['core', 'vite', 'astro'].map(
      (p) => JSON.parse(readFileSync(join(REPO, `packages/${p}/package.json`), 'utf8')).name as string,
    )
    const wrong: string[] = []
    let checked = 0
    for (const s of SAMPLES.filter((x) => x.role === 'setup')) {
      for (const line of commands(s.code)) {
        checked++
        const run = /^\.\/run (\S+)$/.exec(line)
        // Ours first; what follows is the host's own (mdsvex for SvelteKit).
        const install = /^(?:npx astro add|npm install -D|pnpm add -D) (\S+)(?: [\w@/.-]+)*$/.exec(line)
        if (run ? scripts.includes(run[1] ?? '') : install ? packages.includes(install[1] ?? '') : false)
          continue
        wrong.push(`${where(s)}: ${line}`)
      }
    }
    expect(wrong).toEqual([])
    expect(checked).toBe(SAMPLES.filter((x) => x.role === 'setup').flatMap((x) => commands(x.code)).length)
  })

  it("the CLI's synopsis names only commands and flags that `flux-images --help` lists", async () => {
    const help = (await runCli(['--help'], { cwd: REPO, env: cliEnv() })).stdout
    const known = new Set([...help.matchAll(/^ {2}([a-z]+)\s/gm)].map((m) => m[1]))
    const flags = new Set([...help.matchAll(/(--[a-z-]+)/g)].map((m) => m[1]))
    const wrong: string[] = []
    const synopses = SAMPLES.filter((s) => s.role === 'synopsis')
    for (const s of synopses) {
      for (const line of commands(s.code)) {
        const [bin, command] = line.replace(/^npx /, '').split(/\s+/)
        if (bin !== 'flux-images' || !known.has(command)) wrong.push(`${where(s)}: ${line}`)
        for (const [flag] of line.matchAll(/--[a-z-]+/g))
          if (!flags.has(flag)) wrong.push(`${where(s)}: ${flag}`)
      }
    }
    expect(wrong).toEqual([])
    // cli.md's usage and the core package's README.
    expect(synopses.map(where)).toEqual(['docs/cli.md:9', 'packages/core/README.md:13'])
  })

  it('file samples type-check against the real packages (js, ts, tsx, and the scripts of vue and svelte files)', async () => {
    const checked = projects.flatMap((p) =>
      p.files.filter((s) => /^(js|mjs|ts|tsx|vue|svelte)$/.test(s.lang)).map((s) => ({ p, s })),
    )
    for (const { p, s } of checked.filter((x) => x.s.lang === 'vue' || x.s.lang === 'svelte')) {
      const script = /<script[^>]*lang="ts"[^>]*>([\s\S]*?)<\/script>/.exec(s.code)?.[1]
      if (!script) throw new Error(`${where(s)}: a ${s.lang} sample without <script lang="ts">`)
      await writeFile(join(p.dir, `${s.file}.ts`), script)
    }
    // JSX without React's types: elements are loose, components' props are checked.
    await writeFile(
      join(work, 'jsx.d.ts'),
      'declare namespace JSX { interface IntrinsicElements { [name: string]: Record<string, unknown> } interface Element {} }\n',
    )
    // One program for every page's projects (one tsc run, not one a project): Astro's types are
    // costly to load. The vite client's `/// <reference>` of one sample thus serves all of them.
    await writeFile(join(work, 'tsconfig.json'), JSON.stringify(TSCONFIG))
    // Every such sample is in the program (none left out by the include globs), then none has an error.
    const listed = await run('tsc', ['-p', 'tsconfig.json', '--listFilesOnly'], work)
    const inProgram = new Set(listed.stdout.split('\n').map((line) => line.trim()))
    const paths = checked.map(({ p, s }) =>
      join(p.dir, /^(vue|svelte)$/.test(s.lang) ? `${s.file}.ts` : (s.file ?? '')),
    )
    expect(paths.filter((path) => !inProgram.has(path))).toEqual([])
    const out = await run('tsc', ['-p', 'tsconfig.json'], work)
    expect(`${out.stdout}${out.stderr}`).toBe('')
    expect(out.code).toBe(0)
  })

  it('flux.config.mjs samples load through the real options schema', async () => {
    const { createSession } = await import('@flux-images/core')
    const configs = projects.filter((p) => p.files.some((s) => s.file === 'flux.config.mjs'))
    for (const project of configs) {
      const session = await createSession({ root: project.dir, mode: 'placeholder' })
      await session.close()
    }
    expect(configs.map((p) => p.name).sort()).toEqual([
      'docs-bfl-md',
      'docs-configuration-md',
      'docs-presets-md',
      'docs-shared-cache-md',
      'docs-studio-md',
      'docs-studio-md-threshold',
    ])
  })

  it('run samples run in their projects against the mock gateway: each exits 0, then every directive is cached, generated once', async () => {
    const runnable = projects.filter((p) => p.runs.length > 0)
    const readme = projects.find((p) => p.name === 'README-md')
    if (!readme) throw new Error('the README has no sample project')
    // Before: the README's directive as a build without a key shows it (a local placeholder).
    const before = await runCli(['generate', '--mode', 'placeholder'], { cwd: readme.dir, env: cliEnv() })
    expect(before.code, before.stderr).toBe(0)
    // Kept now: the real image replaces it once generated.
    const placeholder = await readFile(onlyPng(join(readme.dir, '.flux-cache/placeholders')))

    const report: Record<string, { runs: number; requests: number }> = {}
    for (const project of runnable) {
      gateway.reset()
      // The README's .env.local holds the key (its placeholder, which the mock accepts): the run
      // gets only the base URL, and reaches the gateway with the key from that file.
      const env = {
        ...cliEnv({ FLUX_BASE_URL: gateway.url, CI: 'true' }),
        PATH: BIN_PATH,
        ...(project === readme ? {} : { FLUX_API_KEY: KEY }),
      }
      for (const s of project.runs) {
        const lines = s.lang === 'sh' ? commands(s.code).map((l) => l.replace(/^npx /, '')) : []
        if (s.lang === 'js') await writeFile(join(project.dir, 'sample.mjs'), s.code)
        for (const line of s.lang === 'js' ? ['node sample.mjs'] : lines) {
          const out = await run('sh', ['-c', line], project.dir, env)
          expect(out.code, `${where(s)}: ${line}\n${out.stdout}\n${out.stderr}`).toBe(0)
        }
      }
      const scan = await runCli(['scan', '--json'], { cwd: project.dir, env: { ...env, FLUX_API_KEY: KEY } })
      const { directives, errors } = JSON.parse(scan.stdout) as {
        directives: { key: string; status: string; location: string }[]
        errors: unknown[]
      }
      expect(errors).toEqual([])
      expect(directives.filter((d) => d.status !== 'cached')).toEqual([])
      const keys = new Set(directives.map((d) => d.key))
      // A script's images (`flux.image('flux:...')`) are no directive of a file: count their prompts.
      const scripted = new Set(
        project.runs
          .filter((s) => s.lang === 'js')
          .flatMap((s) => [...s.code.matchAll(/\('(flux:[^']*)'\)/g)].map((m) => m[1])),
      )
      // Each distinct image generated exactly once, by the samples themselves.
      expect(gateway.requests, project.name).toBe(keys.size + scripted.size)
      report[project.name] = { runs: project.runs.length, requests: gateway.requests }
    }
    expect(report).toEqual({
      'README-md': { runs: 1, requests: 1 },
      'docs-configuration-md': { runs: 1, requests: 1 },
      'docs-presets-md': { runs: 1, requests: 3 },
    })
    await picture(placeholder, onlyPng(join(readme.dir, '.flux-cache/originals')))
  }, 240_000) // A guard against a hung child process on a loaded machine, not a speed check.
})

/** The one PNG under a folder of the cache (the README's project has one directive). */
function onlyPng(dir: string): string {
  const pngs = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.png'))
  expect(pngs).toHaveLength(1)
  return join(dir, pngs[0] ?? '')
}

/** Placeholder and generated image of the README's directive, side by side: the README's picture. */
async function picture(placeholder: Buffer, original: string): Promise<void> {
  const halves = await Promise.all(
    [placeholder, original].map((input) =>
      sharp(input).resize({ width: PICTURE_HALF }).png().toBuffer({ resolveWithObject: true }),
    ),
  )
  const height = Math.max(...halves.map((h) => h.info.height))
  const composed = sharp({
    create: { width: PICTURE_HALF * 2 + 16, height, channels: 3, background: '#ffffff' },
  })
    .composite(halves.map((h, i) => ({ input: h.data, left: i * (PICTURE_HALF + 16), top: 0 })))
    .png()
  if (process.env.FLUX_DOCS_PICTURE === '1') await composed.toFile(PICTURE)
  const committed = await sharp(PICTURE).metadata()
  expect([committed.width, committed.height, committed.format]).toEqual([
    PICTURE_HALF * 2 + 16,
    height,
    'png',
  ])
}

const TSCONFIG = {
  compilerOptions: {
    target: 'es2023',
    lib: ['es2023', 'dom', 'dom.iterable'],
    module: 'esnext',
    moduleResolution: 'bundler',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    allowJs: true,
    checkJs: true,
    jsx: 'preserve',
    types: ['astro/client'],
  },
  include: ['**/*.ts', '**/*.tsx', '**/*.js', '**/*.mjs'],
  exclude: ['**/node_modules', '**/dist', '**/.astro', '**/.flux-cache'],
}

/** The commands of a shell block: one a line, comments and blank lines left out. */
function commands(code: string): string[] {
  return code
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line && !line.startsWith('#'))
}

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = { ...process.env, PATH: BIN_PATH },
): ReturnType<typeof exec> {
  return exec(command, args, { cwd, env })
}
